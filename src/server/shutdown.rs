//! Graceful shutdown on SIGTERM and SIGINT: stop accepting, answer `/readyz` with 503 at
//! once, let requests and streams in flight finish for up to `--shutdown-grace`, then end
//! the streams still open with their protocol's terminal error event and exit 0. A second
//! signal exits at once.
//!
//! Signals arrive on a thread of their own (signal-hook's iterator: the handler itself only
//! writes to a pipe, which is all a signal handler may safely do), so the drain runs as
//! ordinary code beside the request threads.

use crate::app::App;
use crate::server::listener::Stopper;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How often the drain looks at the in-flight count.
const POLL: Duration = Duration::from_millis(20);
/// After the grace, streams are told to end; this is how long they get to write their
/// terminal event (the relay's watchdog sees the trigger within 250 ms).
const FINAL_WORDS: Duration = Duration::from_secs(3);

/// Starts the thread that waits for SIGTERM/SIGINT and then drains and exits the process.
/// `inflight` counts the requests being handled (streams included); `stopper` stops the
/// listener.
pub fn on_signals(
    app: Arc<App>,
    inflight: Arc<AtomicUsize>,
    stopper: Stopper,
) -> Result<(), String> {
    let mut signals =
        Signals::new([SIGTERM, SIGINT]).map_err(|e| format!("cannot handle signals: {e}"))?;
    std::thread::Builder::new()
        .name("shutdown".into())
        .spawn(move || {
            let Some(first) = signals.forever().next() else {
                return;
            };
            // The drain runs on its own thread so that this one can hear a second signal.
            let drain = {
                let app = app.clone();
                std::thread::Builder::new()
                    .name("drain".into())
                    .spawn(move || drain(&app, &inflight, &stopper, first))
            };
            if let Err(e) = drain {
                crate::error!("cannot drain ({e}); exiting now");
                std::process::exit(1);
            }
            if let Some(second) = signals.forever().next() {
                crate::warn!("{}: second signal, exiting now", name(second));
                std::process::exit(1);
            }
        })
        .map(drop)
        .map_err(|e| format!("cannot start the signal thread: {e}"))
}

fn name(signal: i32) -> &'static str {
    match signal {
        SIGTERM => "SIGTERM",
        SIGINT => "SIGINT",
        _ => "signal",
    }
}

fn drain(app: &App, inflight: &AtomicUsize, stopper: &Stopper, signal: i32) -> ! {
    let grace = app.config.shutdown_grace;
    app.draining.store(true, Ordering::Release);
    stopper.stop();
    crate::info!(
        "{}: shutting down; no new connections, {} request(s) in flight get up to {:.1} s",
        name(signal),
        inflight.load(Ordering::Acquire),
        grace.as_secs_f64()
    );
    let started = Instant::now();
    if wait_idle(inflight, grace) {
        crate::info!(
            "all requests finished after {:.1} s; exiting",
            started.elapsed().as_secs_f64()
        );
        std::process::exit(0);
    }
    crate::warn!(
        "grace of {:.1} s over: ending {} open request(s) (streams get their terminal error event)",
        grace.as_secs_f64(),
        inflight.load(Ordering::Acquire)
    );
    app.shutdown.trigger();
    if !wait_idle(inflight, FINAL_WORDS) {
        crate::warn!(
            "{} request(s) still open; exiting anyway",
            inflight.load(Ordering::Acquire)
        );
    }
    std::process::exit(0);
}

/// True once nothing is in flight, false if `limit` passes first.
fn wait_idle(inflight: &AtomicUsize, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if inflight.load(Ordering::Acquire) == 0 {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_ends_when_idle_or_at_the_limit() {
        let n = Arc::new(AtomicUsize::new(1));
        let started = Instant::now();
        assert!(!wait_idle(&n, Duration::from_millis(100)));
        assert!(started.elapsed() >= Duration::from_millis(100));
        let m = n.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            m.store(0, Ordering::Release);
        });
        assert!(wait_idle(&n, Duration::from_secs(5)));
    }
}
