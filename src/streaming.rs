//! What every streaming route does around the relay: build the stream's body under the
//! watchdog (`streaming`), and give the upstream agent back when the stream ends cleanly
//! (`finished`). Below `routes` and `features` (the web-search loop streams too), above
//! `app` and `relay`: both import it, it imports neither.

use crate::app::App;
use crate::http::{Outcome, Outgoing};
use crate::relay::{Sink, StreamBody};
use crate::upstream::client::Lease;

/// A streaming answer: `produce` runs under the stream's watchdog, which sends
/// `keepalive` (the protocol's, in SSE form) during silence and calls `cancel` to
/// interrupt the upstream on a stall, a vanished client or a shutdown.
pub fn streaming(
    app: &App,
    keepalive: &'static [u8],
    cancel: Box<dyn Fn() + Send + Sync>,
    produce: impl FnOnce(&mut Sink) -> Outcome + Send + 'static,
) -> Outgoing {
    Outgoing::stream(StreamBody {
        keepalive,
        timing: app.config.stream_timing,
        cancel,
        shutdown: app.shutdown.clone(),
        produce: Box::new(produce),
    })
}

/// Ends a stream's hold on its upstream agent: a cleanly finished call gives the agent
/// (and its warm connection) back for reuse; any other end drops it.
pub fn finished(lease: Lease, outcome: Outcome) -> Outcome {
    if outcome == Outcome::Completed {
        lease.release();
    }
    outcome
}
