//! Which owned APIs a light poll re-checks, so that the polls of one `resyncInterval`
//! re-read every owned API's children and re-export every definition exactly once, a
//! slice per poll, instead of all at once in a full resync.
//!
//! Every owned API has a phase: a point of the cycle `[0, resyncInterval)` drawn from a
//! stable hash of the link and the API's name. A poll covers a window `(start, end]`, the
//! time since the previous successful pass, and re-checks the APIs whose phase falls in
//! it, counted modulo `resyncInterval`; a window as long as the cycle covers them all.
//! Consecutive windows cover each phase once per cycle, and a failed pass does not move
//! the start, so the next window is longer and misses nothing. Nothing is kept between
//! passes but the time the last successful window ended: a restarted process carries on
//! where the last one stopped.
//!
//! The unit is the API, not the definition: an API's children are one read (versions,
//! definitions, deployments) and its definitions' hashes live in one ownership record,
//! so its definitions are re-checked together, with its children, in the same poll.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::ids::LinkId;
use crate::pass_mode::PassMode;

/// Milliseconds since the Unix epoch; instants before it count as the epoch.
fn millis_since_epoch(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The cycle length in milliseconds; a zero period makes every window a whole cycle.
fn period_millis(period: Duration) -> u64 {
    u64::try_from(period.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Where in the cycle of length `period` the owned API `api` of `link` is re-checked, in
/// milliseconds from the cycle's start. SHA-256 rather than the standard hasher: the
/// phase must not change with the compiler or the process, or a restart would skip or
/// repeat APIs.
pub fn api_phase(link: &LinkId, api: &str, period: Duration) -> u64 {
    let mut hasher = Sha256::new();
    for part in [link.as_str(), api] {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    let digest = hasher.finalize();
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(head) % period_millis(period)
}

/// The stretch of the re-check cycle one light poll covers: the instants `(start, end]`,
/// at millisecond resolution, on a cycle of `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResyncWindow {
    start: u64,
    end: u64,
    period: u64,
}

impl ResyncWindow {
    /// The window from the end of the previous successful window (`start`) to `end`. A
    /// clock that went back (`end` before `start`) gives an empty window.
    pub fn new(start: SystemTime, end: SystemTime, period: Duration) -> Self {
        let start = millis_since_epoch(start);
        Self {
            start,
            end: millis_since_epoch(end).max(start),
            period: period_millis(period),
        }
    }

    pub fn start(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.start)
    }

    pub fn end(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.end)
    }

    pub fn period(&self) -> Duration {
        Duration::from_millis(self.period)
    }

    pub fn length(&self) -> Duration {
        Duration::from_millis(self.end - self.start)
    }

    /// Whether the window spans a whole cycle, so it re-checks every API.
    pub fn covers_cycle(&self) -> bool {
        self.end - self.start >= self.period
    }

    /// Whether an instant of phase `phase` (milliseconds into the cycle) lies in the
    /// window.
    pub fn covers_phase(&self, phase: u64) -> bool {
        if self.covers_cycle() {
            return true;
        }
        if self.end == self.start {
            return false;
        }
        let (from, to) = (self.start % self.period, self.end % self.period);
        if from < to {
            from < phase && phase <= to
        } else {
            // The window wraps past the start of a cycle.
            phase > from || phase <= to
        }
    }

    /// Whether the window re-checks the owned API `api` of `link`.
    pub fn covers_api(&self, link: &LinkId, api: &str) -> bool {
        self.covers_cycle() || self.covers_phase(api_phase(link, api, self.period()))
    }
}

/// What a pass re-checks besides what changed in APIM or is missing from an ownership
/// record (which every pass reads and exports).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Coverage {
    /// Nothing more: a light poll without a window (`apilink sync --once`).
    #[default]
    Changed,
    /// The owned APIs whose phase falls in the window: their children are read and
    /// their definitions re-exported.
    Window(ResyncWindow),
    /// Every owned API and definition: a full resync.
    Everything,
}

impl Coverage {
    /// The coverage of a scheduled poll at `now`: the window since the end of the last
    /// successful window (`previous`), or everything when there was none or the window
    /// spans a whole cycle (after a long outage).
    pub fn scheduled(previous: Option<SystemTime>, now: SystemTime, period: Duration) -> Self {
        match previous.map(|start| ResyncWindow::new(start, now, period)) {
            Some(window) if !window.covers_cycle() => Coverage::Window(window),
            _ => Coverage::Everything,
        }
    }

    /// Whether the pass re-checks the owned API `api` of `link` (reads its children and
    /// re-exports its definitions) even when nothing about it changed.
    pub fn rechecks(&self, link: &LinkId, api: &str) -> bool {
        match self {
            Coverage::Changed => false,
            Coverage::Window(window) => window.covers_api(link, api),
            Coverage::Everything => true,
        }
    }

    /// How the status and the report name the pass.
    pub fn mode(&self) -> PassMode {
        match self {
            Coverage::Everything => PassMode::Full,
            Coverage::Changed | Coverage::Window(_) => PassMode::Light,
        }
    }

    pub fn window(&self) -> Option<&ResyncWindow> {
        match self {
            Coverage::Window(window) => Some(window),
            _ => None,
        }
    }

    /// Whether the pass re-checks anything beyond changes: a scheduled poll or a full
    /// resync, as opposed to a one-off light pass.
    pub fn is_resync(&self) -> bool {
        !matches!(self, Coverage::Changed)
    }
}

impl From<PassMode> for Coverage {
    /// A light pass without a window, or a full resync.
    fn from(mode: PassMode) -> Self {
        match mode {
            PassMode::Light => Coverage::Changed,
            PassMode::Full => Coverage::Everything,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    fn window(start: u64, end: u64, period: u64) -> ResyncWindow {
        ResyncWindow::new(at(start), at(end), Duration::from_millis(period))
    }

    fn link() -> LinkId {
        LinkId::new("platform/payments").unwrap()
    }

    #[test]
    fn phases_are_stable_and_spread() {
        let day = Duration::from_secs(86_400);
        // A phase that moved would skip or repeat APIs across an upgrade.
        // SHA-256("platform/payments\0orders-4f2a9c1e\0"), first 8 bytes big-endian, mod 1 day.
        assert_eq!(api_phase(&link(), "orders-4f2a9c1e", day), 62_245_978);
        assert_eq!(
            api_phase(&link(), "orders-4f2a9c1e", day),
            api_phase(
                &LinkId::new("platform/payments").unwrap(),
                "orders-4f2a9c1e",
                day
            )
        );
        assert_ne!(
            api_phase(&link(), "orders-4f2a9c1e", day),
            api_phase(
                &LinkId::new("platform/other").unwrap(),
                "orders-4f2a9c1e",
                day
            )
        );
        // A thousand APIs over 24 one-hour slots: none empty, none crowded.
        let mut slots = [0u32; 24];
        for i in 0..1000 {
            let phase = api_phase(&link(), &format!("api-{i}"), day);
            slots[(phase / 3_600_000) as usize] += 1;
        }
        assert!(slots.iter().all(|n| (20..=70).contains(n)), "{slots:?}");
    }

    #[test]
    fn windows_are_half_open_and_wrap() {
        let w = window(1_000, 1_010, 100);
        assert!(!w.covers_phase(0), "1000 itself is the previous window's");
        assert!(w.covers_phase(1) && w.covers_phase(10));
        assert!(!w.covers_phase(11));
        let wrapping = window(1_090, 1_105, 100);
        assert!(wrapping.covers_phase(91) && wrapping.covers_phase(99));
        assert!(wrapping.covers_phase(0) && wrapping.covers_phase(5));
        assert!(!wrapping.covers_phase(90) && !wrapping.covers_phase(6));
        assert!(!window(1_000, 1_000, 100).covers_phase(0), "empty");
        assert!(window(1_000, 1_100, 100).covers_cycle());
        assert!(!window(1_000, 1_099, 100).covers_cycle());
        let back = window(2_000, 1_000, 100);
        assert_eq!(back.length(), Duration::ZERO, "a clock that went back");
        assert!(!back.covers_phase(0));
    }

    #[test]
    fn coverage_of_scheduled_polls() {
        let p = Duration::from_millis(100);
        assert_eq!(Coverage::scheduled(None, at(50), p), Coverage::Everything);
        assert_eq!(
            Coverage::scheduled(Some(at(10)), at(50), p),
            Coverage::Window(window(10, 50, 100))
        );
        assert_eq!(
            Coverage::scheduled(Some(at(10)), at(110), p),
            Coverage::Everything,
            "a window of a whole cycle is a full resync"
        );
        assert_eq!(Coverage::from(PassMode::Light), Coverage::Changed);
        assert_eq!(Coverage::from(PassMode::Full), Coverage::Everything);
        assert_eq!(
            Coverage::Window(window(10, 50, 100)).mode(),
            PassMode::Light
        );
        assert_eq!(Coverage::Everything.mode(), PassMode::Full);
        assert!(!Coverage::Changed.rechecks(&link(), "a"));
        assert!(Coverage::Everything.rechecks(&link(), "a"));
        assert!(!Coverage::Changed.is_resync() && Coverage::Everything.is_resync());
    }

    /// Cut points strictly inside `(0, period)`, sorted: the ends of consecutive windows.
    fn cuts(period: u64, max: usize) -> impl Strategy<Value = Vec<u64>> {
        proptest::collection::btree_set(1..period, 0..max).prop_map(|set| set.into_iter().collect())
    }

    proptest! {
        #[test]
        fn consecutive_windows_spanning_a_cycle_cover_each_phase_once(
            period in 1u64..400,
            start in 0u64..1_000_000,
            inner in cuts(400, 12),
        ) {
            let mut ends: Vec<u64> = inner.into_iter().filter(|c| *c < period).collect();
            ends.push(period);
            let windows: Vec<ResyncWindow> = std::iter::once(0)
                .chain(ends.iter().copied())
                .zip(ends.iter().copied())
                .map(|(a, b)| window(start + a, start + b, period))
                .collect();
            for phase in 0..period {
                let covering = windows.iter().filter(|w| w.covers_phase(phase)).count();
                prop_assert_eq!(covering, 1, "phase {}", phase);
            }
        }

        #[test]
        fn windows_after_failures_still_cover_everything_once(
            period in 1u64..300,
            start in 0u64..1_000_000,
            attempts in proptest::collection::vec((1u64..300, any::<bool>()), 1..15),
        ) {
            // Passes at increasing times; a failed one does not move the window's start.
            // The last attempt lands exactly one cycle after the start and succeeds.
            let mut times: Vec<(u64, bool)> = Vec::new();
            let mut t = 0;
            for (step, ok) in attempts {
                t += step;
                if t >= period { break; }
                times.push((t, ok));
            }
            times.push((period, true));
            let mut last_success = start;
            let mut windows = Vec::new();
            for (t, ok) in times {
                let w = window(last_success, start + t, period);
                if ok {
                    windows.push(w);
                    last_success = start + t;
                }
            }
            for phase in 0..period {
                let covering = windows.iter().filter(|w| w.covers_phase(phase)).count();
                prop_assert_eq!(covering, 1, "phase {}", phase);
            }
        }

        #[test]
        fn no_phase_waits_longer_than_a_cycle_and_an_interval(
            period in 50u64..500,
            interval in 1u64..50,
            start in 0u64..1_000_000,
            steps in proptest::collection::vec(1u64..=1000, 1..200),
        ) {
            // Polls at most `interval` apart over three cycles, each covering the time
            // since the previous one; a phase is re-checked when its window's poll runs.
            let mut polls = vec![start];
            let mut steps = steps.into_iter().cycle();
            while polls[polls.len() - 1] < start + 3 * period {
                let step = steps.next().unwrap_or(1) % interval + 1;
                polls.push(polls[polls.len() - 1] + step);
            }
            for phase in (0..period).step_by(7) {
                let checks: Vec<u64> = polls
                    .windows(2)
                    .filter(|p| window(p[0], p[1], period).covers_phase(phase))
                    .map(|p| p[1])
                    .collect();
                prop_assert!(checks.len() >= 2, "phase {} checked {:?}", phase, checks);
                prop_assert!(checks[0] - start <= period + interval);
                for pair in checks.windows(2) {
                    prop_assert!(
                        pair[1] - pair[0] <= period + interval,
                        "phase {} waited {} (bound {})", phase, pair[1] - pair[0], period + interval
                    );
                }
            }
        }

        #[test]
        fn a_window_of_a_whole_cycle_covers_every_api(
            start in 0u64..1_000_000,
            extra in 0u64..1_000,
            api in "[a-z]{1,12}",
        ) {
            let w = window(start, start + 1_000 + extra, 1_000);
            prop_assert!(w.covers_api(&link(), &api));
        }
    }
}
