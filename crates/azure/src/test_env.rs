//! Environment lookups for unit tests: the code under test reads variables through
//! a `Fn(&str) -> Option<String>`, so tests hand it a fixed set instead of the
//! process environment, which tests running in parallel would share.

use std::collections::HashMap;

/// A lookup that answers exactly `pairs`.
pub(crate) fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}
