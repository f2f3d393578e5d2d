//! One watchdog thread for every open stream: it holds each stream's deadlines (the next
//! keepalive, the stall or first-byte limit) and sleeps on a condvar until the nearest one,
//! or until a stream is added or a shutdown is triggered. At a deadline it sends the
//! keepalive during silence, or cancels the upstream on a stall, a vanished client or a
//! shutdown. `Shutdown`, the process's graceful-shutdown hook, lives here because
//! triggering it wakes the watchdog.
//!
//! Why one thread and not one per stream: a thread per stream cost a spawn, a join and a
//! stack per stream, and 500 slow streams woke 500 threads every tick; one thread that
//! sleeps to the nearest deadline does the same work with no wakeup while nothing is due
//! (none at all while no stream is open).
//!
//! A keepalive is written only if the relay is not writing (`try_lock`), so the watchdog
//! never waits behind a relay blocked on a slow client; and only if the client's buffers
//! have room (`ClientWrite::write_or_skip`, one non-blocking attempt on plain HTTP), so a
//! client that stopped reading cannot hold up every other stream's keepalives and limits.
//! Under TLS and on a WebSocket that attempt waits as any write does (bounded by the
//! connection's write timeout): it takes a client that stopped reading exactly as the
//! relay's last write filled its buffer, then upstream silence.

use super::sink::Shared;
use crate::config::Timing;
use crate::sync::lock;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The graceful-shutdown hook shared by every open stream: once `trigger`ed, each
/// stream's upstream is cancelled by the watchdog, woken at once, and the relay ends the
/// stream with its protocol's terminal error event (`Fault::Shutdown`).
#[derive(Clone, Default)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    // Called by the process's graceful shutdown; the relay tests trigger it too.
    #[allow(dead_code)]
    pub fn trigger(&self) {
        self.0.store(true, Ordering::Release);
        wake();
    }

    pub fn triggered(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Every open stream, and the condvar the watchdog sleeps on.
static WATCHDOG: Watchdog = Watchdog {
    state: Mutex::new(State {
        streams: Vec::new(),
        changed: false,
        added_due: None,
        sleeping: false,
        until: None,
        running: false,
    }),
    wake: Condvar::new(),
};

struct Watchdog {
    state: Mutex<State>,
    wake: Condvar,
}

struct State {
    streams: Vec<Arc<Entry>>,
    /// A shutdown was triggered since the watchdog last looked: look at every stream.
    changed: bool,
    /// The earliest first deadline of the streams added since the watchdog last looked.
    /// A new stream needs no look before then, so adding one costs no pass over the
    /// others (a burst of 500 new streams made 500 passes over up to 500 streams).
    added_due: Option<Instant>,
    /// The watchdog is waiting, until `until` (None: until woken).
    sleeping: bool,
    until: Option<Instant>,
    /// The watchdog thread has been started (it then lives as long as the process).
    running: bool,
}

/// One stream as the watchdog sees it.
struct Entry {
    shared: Arc<Shared>,
    /// The keepalive, already framed.
    keepalive: Vec<u8>,
    timing: Timing,
    shutdown: Shutdown,
    cancel: Arc<dyn Fn() + Send + Sync>,
    /// False once the stream has ended or the watchdog has cancelled it. Held while the
    /// watchdog acts on the stream, so that once `Watched` is dropped the watchdog never
    /// writes to the stream or cancels its upstream again (the upstream agent may by
    /// then serve another call).
    live: Mutex<bool>,
}

/// A stream under the watchdog; dropping it takes the stream off (waiting for a keepalive
/// being written to it, if any).
pub(super) struct Watched(Arc<Entry>);

/// Puts a stream under the watchdog, starting the watchdog thread on first use. If the
/// thread cannot be started, the stream runs unwatched (as the stream's own thread would
/// have, had it failed to start): no keepalives, the upstream's own read timeout only.
pub(super) fn watch(
    shared: Arc<Shared>,
    keepalive: &[u8],
    timing: Timing,
    shutdown: Shutdown,
    cancel: Arc<dyn Fn() + Send + Sync>,
) -> Watched {
    let mut framed = Vec::new();
    shared.framing.sse(&mut framed, keepalive);
    // The first look the stream needs: its first keepalive or its first-byte limit.
    let due = shared.instant_at(timing.keepalive.min(timing.first_byte).as_millis() as u64);
    let entry = Arc::new(Entry {
        shared,
        keepalive: framed,
        timing,
        shutdown,
        cancel,
        live: Mutex::new(true),
    });
    let mut state = lock(&WATCHDOG.state);
    if !state.running {
        let spawned = std::thread::Builder::new()
            .name("stream-watchdog".into())
            .stack_size(128 * 1024)
            .spawn(run);
        match spawned {
            Ok(_) => state.running = true,
            Err(e) => crate::warn!("cannot start the stream watchdog: {e}"),
        }
    }
    state.streams.push(entry.clone());
    state.added_due = Some(state.added_due.map_or(due, |d| d.min(due)));
    // Woken only if it sleeps past the new stream's first deadline; otherwise it takes
    // `added_due` into account when it next looks.
    if state.sleeping && state.until.is_none_or(|until| due < until) {
        state.sleeping = false;
        WATCHDOG.wake.notify_one();
    }
    Watched(entry)
}

/// Wakes the watchdog now (a shutdown was triggered) instead of at its next deadline.
pub(super) fn wake() {
    let mut state = lock(&WATCHDOG.state);
    state.changed = true;
    state.sleeping = false;
    WATCHDOG.wake.notify_one();
}

impl Drop for Watched {
    fn drop(&mut self) {
        *lock(&self.0.live) = false;
        lock(&WATCHDOG.state)
            .streams
            .retain(|e| !Arc::ptr_eq(e, &self.0));
    }
}

/// The watchdog thread: checks every stream, then sleeps until the nearest deadline.
fn run() {
    let mut state = lock(&WATCHDOG.state);
    loop {
        state.sleeping = false;
        state.changed = false;
        state.added_due = None;
        let streams = state.streams.clone();
        drop(state);
        let now = Instant::now();
        // One thread serves every stream: a panic while checking one (a cancel hook's
        // bug) must not leave the others unwatched, so it stops watching that one only.
        let next = streams
            .iter()
            .filter_map(|e| {
                catch_unwind(AssertUnwindSafe(|| e.check(now))).unwrap_or_else(|_| {
                    *lock(&e.live) = false;
                    None
                })
            })
            .min();
        drop(streams);
        state = lock(&WATCHDOG.state);
        if state.changed {
            continue;
        }
        let next = match (next, state.added_due.take()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        state.sleeping = true;
        state.until = next;
        state = match next {
            Some(at) => {
                let wait = at.saturating_duration_since(Instant::now());
                WATCHDOG
                    .wake
                    .wait_timeout(state, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
            None => crate::sync::wait(&WATCHDOG.wake, state),
        };
    }
}

impl Entry {
    /// Acts on whatever is due for this stream at `now`; returns when to look again, or
    /// None once the stream needs no more watching.
    fn check(&self, now: Instant) -> Option<Instant> {
        let mut live = lock(&self.live);
        if !*live {
            return None;
        }
        let shared = &*self.shared;
        if self.shutdown.triggered() {
            shared.shut_down.store(true, Ordering::Release);
            crate::debug!("shutting down; ending the stream");
            return self.retire(&mut live);
        }
        let now_ms = shared.ms_at(now);
        let limit = if shared.got_first_byte.load(Ordering::Acquire) {
            self.timing.stall
        } else {
            self.timing.first_byte
        };
        let stall_at = shared.last_upstream_ms.load(Ordering::Acquire) + limit.as_millis() as u64;
        if now_ms >= stall_at {
            shared.stalled.store(true, Ordering::Release);
            crate::warn!(
                "upstream silent for {:.1} s; cancelling the stream",
                limit.as_secs_f64()
            );
            return self.retire(&mut live);
        }
        let every = self.timing.keepalive.as_millis() as u64;
        let mut keepalive_at = shared.last_write_ms.load(Ordering::Acquire) + every;
        if now_ms >= keepalive_at {
            // The relay holds the lock while it writes: its write is the sign of life,
            // so look again a little later rather than wait.
            keepalive_at = match shared.writer.try_lock() {
                Err(_) => now_ms + self.retry_ms(),
                Ok(mut w) => match shared.write_or_skip(&mut **w, &self.keepalive) {
                    Some(true) => shared.last_write_ms.load(Ordering::Acquire) + every,
                    // The client is not reading: its full buffers are the sign of life
                    // (the stall limit still runs); waiting here would hold up every stream.
                    None => now_ms + self.retry_ms(),
                    Some(false) => {
                        drop(w);
                        crate::debug!("client went away during a stream; cancelling the upstream");
                        return self.retire(&mut live);
                    }
                },
            };
        }
        Some(shared.instant_at(stall_at.min(keepalive_at)))
    }

    /// Cancels the upstream and stops watching the stream.
    fn retire(&self, live: &mut bool) -> Option<Instant> {
        (self.cancel)();
        *live = false;
        None
    }

    /// How soon to retry a keepalive the relay's own write held up: a quarter of the
    /// shortest limit, within 10 ms and 250 ms.
    fn retry_ms(&self) -> u64 {
        let t = self.timing;
        let shortest = t.keepalive.min(t.stall).min(t.first_byte);
        (shortest / 4)
            .clamp(Duration::from_millis(10), Duration::from_millis(250))
            .as_millis() as u64
    }
}
