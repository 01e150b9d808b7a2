//! The write probe's scratch API: its name, how a leftover is recognised, and its
//! removal by the next check or full pass when a probe was killed before it cleaned up.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use apilink_core::observed::ApicEntity;

use crate::azure_side::{AzureSide, EntityPath, LinkTarget};

/// Every scratch API's name starts with this, then the creation time in Unix seconds
/// and six random hex digits.
pub const PROBE_API_PREFIX: &str = "apilink-probe-";

/// The scratch API's description: with the name, what marks an API as the probe's.
pub const PROBE_DESCRIPTION: &str = "Scratch API written by `apilink check --probe-writes`; removed when the probe ends, or by the next check or full sync.";

/// A probe finishes in seconds (an import in minutes at worst); a younger scratch API
/// may belong to a probe still running elsewhere.
const LEFTOVER_AGE: Duration = Duration::from_secs(15 * 60);

/// A fresh scratch API name for a probe starting at `now`.
pub fn probe_api_name(now: SystemTime, random: u32) -> String {
    let seconds = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    format!("{PROBE_API_PREFIX}{seconds}-{:06x}", random & 0x00ff_ffff)
}

/// The creation time a scratch API's name carries, if it is one.
fn probe_created_at(name: &str) -> Option<SystemTime> {
    let (seconds, random) = name.strip_prefix(PROBE_API_PREFIX)?.split_once('-')?;
    let hex = random.len() == 6 && random.bytes().all(|b| b.is_ascii_hexdigit());
    let digits = !seconds.is_empty() && seconds.bytes().all(|b| b.is_ascii_digit());
    if !hex || !digits {
        return None;
    }
    Some(UNIX_EPOCH + Duration::from_secs(seconds.parse().ok()?))
}

/// True for a scratch API a probe left behind: the probe's name and description, and
/// older than any probe still running.
pub fn is_probe_leftover(name: &str, description: Option<&str>, now: SystemTime) -> bool {
    let Some(created) = probe_created_at(name) else {
        return false;
    };
    description == Some(PROBE_DESCRIPTION)
        && now
            .duration_since(created)
            .is_ok_and(|age| age >= LEFTOVER_AGE)
}

fn leftovers(apis: &[ApicEntity], now: SystemTime) -> Vec<String> {
    apis.iter()
        .filter(|api| {
            let description = api.properties.get("description");
            is_probe_leftover(
                &api.name,
                description.as_ref().and_then(|d| d.as_str()),
                now,
            )
        })
        .map(|api| api.name.clone())
        .collect()
}

/// Deletes the scratch APIs of killed probes found in `apis` (the workspace's API
/// list); returns the names removed. Failures are logged and left for the next time.
pub(crate) async fn remove_probe_leftovers<A: AzureSide>(
    azure: &A,
    target: &LinkTarget,
    apis: &[ApicEntity],
    now: SystemTime,
) -> Vec<String> {
    let mut removed = Vec::new();
    for api in leftovers(apis, now) {
        let path = EntityPath::Api { api: api.clone() };
        match azure.delete(target, &path).await {
            Ok(_) => {
                tracing::info!(api, "removed the scratch API of an interrupted write probe");
                removed.push(api);
            }
            Err(e) => {
                tracing::warn!(api, error = %e, "could not remove a write probe's scratch API")
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn names_carry_their_creation_time() {
        let name = probe_api_name(at(1_700_000_000), 0xabc);
        assert_eq!(name, "apilink-probe-1700000000-000abc");
        assert_eq!(probe_created_at(&name), Some(at(1_700_000_000)));
        assert_eq!(probe_created_at("apilink-probe-17-xyzxyz"), None);
        assert_eq!(probe_created_at("apilink-probe--000abc"), None);
        assert_eq!(probe_created_at("echo"), None);
    }

    #[test]
    fn only_old_scratch_apis_with_the_probe_description_are_leftovers() {
        let name = probe_api_name(at(1_000_000), 1);
        let later = |minutes: u64| at(1_000_000 + minutes * 60);
        assert!(is_probe_leftover(&name, Some(PROBE_DESCRIPTION), later(15)));
        assert!(!is_probe_leftover(
            &name,
            Some(PROBE_DESCRIPTION),
            later(14)
        ));
        assert!(!is_probe_leftover(&name, Some("someone's API"), later(60)));
        assert!(!is_probe_leftover(&name, None, later(60)));
        assert!(!is_probe_leftover(
            "apilink-probe-x",
            Some(PROBE_DESCRIPTION),
            later(60)
        ));
        // A clock behind the name's time is not an old scratch API.
        assert!(!is_probe_leftover(&name, Some(PROBE_DESCRIPTION), at(0)));
    }
}
