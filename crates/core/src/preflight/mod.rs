//! The pure part of the preflight (`apilink check`), which proves a link's access before
//! its first write: the report model, the ARM actions a link needs, the evaluation of the
//! identity's ARM permissions against them, and the remedy that closes a gap. Calling ARM
//! is left to the callers.

mod actions;
pub mod checks;
mod permissions;
mod report;

pub use actions::{
    AzureService, RequiredAction, required_actions, required_actions_for, workspace_gateway_actions,
};
pub use permissions::{
    BuiltInRole, GrantedPermission, PERMISSION_MISSING, is_granted, missing_actions,
    permission_line, permission_line_for, role_assignment_command, role_for,
    workspace_gateway_role,
};
pub use report::{CheckLine, CheckReport, CheckStatus, REASON_OK};
