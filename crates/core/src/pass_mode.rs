//! How much of APIM one sync pass reads: chosen by the controller's schedule (or the
//! CLI's `--full`), carried out by the engine, shown in the link's status. What a light
//! pass re-checks beyond changes is its [`Coverage`](crate::resync_window::Coverage).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How much of APIM one pass reads. Serialized as `Light` / `Full` (the status field
/// `lastPass.mode`); [`PassMode::as_str`] gives the lower-case word logs, metric labels
/// and the engine's report use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PassMode {
    /// Lists APIs and version sets and compares them with what was last applied; reads
    /// details and exports only where something changed or is missing, and, for a
    /// scheduled poll, for the owned APIs whose turn came in its resync window (see
    /// [`crate::resync_window`]).
    #[default]
    Light,
    /// Re-reads everything, definition content included: every owned API's children,
    /// and every definition re-exported (imports only changed content).
    Full,
}

impl PassMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PassMode::Light => "light",
            PassMode::Full => "full",
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn status_names_and_label_words() {
        assert_eq!(
            serde_json::to_string(&PassMode::Light).unwrap(),
            r#""Light""#
        );
        assert_eq!(serde_json::to_string(&PassMode::Full).unwrap(), r#""Full""#);
        assert_eq!(
            serde_json::from_str::<PassMode>(r#""Full""#).unwrap(),
            PassMode::Full
        );
        assert_eq!(PassMode::default(), PassMode::Light);
        assert_eq!(
            (PassMode::Light.as_str(), PassMode::Full.as_str()),
            ("light", "full")
        );
    }
}
