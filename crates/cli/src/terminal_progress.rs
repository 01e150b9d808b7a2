//! A one-line progress display on stderr for long passes, drawn only when stderr is a
//! terminal (never in CI logs or when piped).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use apilink_engine::{Phase, Progress, ProgressEvent};

/// Redraws at most this often.
const REDRAW: Duration = Duration::from_millis(100);

struct State {
    label: &'static str,
    total: usize,
    done: usize,
    drawn_at: Option<Instant>,
    visible: bool,
}

pub struct TerminalProgress {
    state: Mutex<State>,
}

impl TerminalProgress {
    /// `Some` when stderr is a terminal.
    pub fn for_stderr() -> Option<Self> {
        std::io::stderr().is_terminal().then(|| Self {
            state: Mutex::new(State {
                label: "",
                total: 0,
                done: 0,
                drawn_at: None,
                visible: false,
            }),
        })
    }
}

fn draw(state: &mut State, force: bool) {
    let now = Instant::now();
    if !force
        && state
            .drawn_at
            .is_some_and(|at| now.duration_since(at) < REDRAW)
    {
        return;
    }
    state.drawn_at = Some(now);
    state.visible = true;
    let mut err = std::io::stderr().lock();
    let _ = if state.total > 0 {
        write!(
            err,
            "\r\x1b[2K{} {}/{}",
            state.label, state.done, state.total
        )
    } else {
        write!(err, "\r\x1b[2K{}", state.label)
    };
    let _ = err.flush();
}

impl Progress for TerminalProgress {
    fn event(&self, event: ProgressEvent) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match event {
            ProgressEvent::PhaseStarted(phase) => {
                let (label, total) = match phase {
                    Phase::Observe => ("reading APIM and API Center …", 0),
                    Phase::Details { apis } => ("reading API details", apis),
                    Phase::Export { definitions } => ("exporting definitions", definitions),
                    Phase::Apply { operations } => ("applying operations", operations),
                };
                state.label = label;
                state.total = total;
                state.done = 0;
                draw(&mut state, true);
            }
            ProgressEvent::Step => {
                state.done += 1;
                draw(&mut state, false);
            }
            ProgressEvent::Finished => {
                if state.visible {
                    let mut err = std::io::stderr().lock();
                    let _ = write!(err, "\r\x1b[2K");
                    let _ = err.flush();
                    state.visible = false;
                }
            }
        }
    }
}
