//! Pure domain of apilink: the link spec, the model of both sides, the APIM → API Center
//! mapping, deterministic naming, field ownership, the ownership record and the planner.
//! No I/O happens here; see `README.md` for the protocol the engine follows.

pub mod desired;
pub mod diff;
pub mod duration;
pub mod error_class;
pub mod guard;
pub mod hash;
pub mod ids;
pub mod json_text;
pub mod limits;
pub mod mapping;
pub mod marker;
pub mod metadata;
pub mod naming;
pub mod observed;
pub mod operation;
pub mod outcome;
pub mod ownership;
pub mod pass_mode;
pub mod plan;
pub mod planner;
pub mod preflight;
pub mod resync_window;
pub mod shared;
pub mod spec;
pub mod star_glob;

pub use desired::DesiredState;
pub use error_class::ErrorClass;
pub use ids::{ApimApiRef, LinkId, SourceKey};
pub use json_text::JsonText;
pub use mapping::desired_state;
pub use observed::{ObservedApiCenter, ObservedApim};
pub use operation::{Operation, Upsert};
pub use pass_mode::PassMode;
pub use plan::{Plan, Warning};
pub use planner::{cleanup_plan, details_needed, exports_needed, plan};
pub use resync_window::{Coverage, ResyncWindow};
pub use spec::{LinkSettings, LinkSpec};
