//! Counters the routes update and `GET /metrics` exposes in the Prometheus text format.

use crate::http::Outcome;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

#[derive(Default)]
pub struct Metrics {
    /// Requests answered, by route family path and status.
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    /// Upstream answers by status (after each attempt, retries included).
    upstream: Mutex<BTreeMap<u16, u64>>,
    retries: AtomicU64,
    streams: [AtomicU64; 4],
    /// Usage and cost per request, and Copilot's limit headers.
    pub usage: crate::accounting::Ledger,
    /// Traffic control: requests that queued, requests refused with 429, requests queued now.
    limiter_waits: AtomicU64,
    limiter_rejections: AtomicU64,
    limiter_queue: AtomicI64,
}

const OUTCOMES: [Outcome; 4] = [
    Outcome::Completed,
    Outcome::ClientGone,
    Outcome::UpstreamError,
    Outcome::Stalled,
];

impl Metrics {
    /// One answered request; `route` is the router's label (`routes::label`), never the
    /// raw path, so the series stay a fixed set.
    pub fn request(&self, route: &'static str, status: u16) {
        *crate::sync::lock(&self.requests)
            .entry((route, status))
            .or_default() += 1;
    }

    pub fn upstream_status(&self, status: u16) {
        *crate::sync::lock(&self.upstream).entry(status).or_default() += 1;
    }

    pub fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub fn stream_ended(&self, outcome: Outcome) {
        let i = OUTCOMES.iter().position(|o| *o == outcome).unwrap_or(0);
        self.streams[i].fetch_add(1, Ordering::Relaxed);
    }

    pub fn limiter_wait(&self) {
        self.limiter_waits.fetch_add(1, Ordering::Relaxed);
    }

    pub fn limiter_rejection(&self) {
        self.limiter_rejections.fetch_add(1, Ordering::Relaxed);
    }

    /// +1 when a request joins a limiter queue, -1 when it leaves.
    pub fn limiter_queue(&self, delta: i64) {
        self.limiter_queue.fetch_add(delta, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# TYPE copilot_api_requests_total counter\n");
        for ((path, status), n) in crate::sync::lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "copilot_api_requests_total{{path=\"{path}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# TYPE copilot_api_upstream_responses_total counter\n");
        for (status, n) in crate::sync::lock(&self.upstream).iter() {
            let _ = writeln!(
                out,
                "copilot_api_upstream_responses_total{{status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# TYPE copilot_api_upstream_retries_total counter\n");
        let _ = writeln!(
            out,
            "copilot_api_upstream_retries_total {}",
            self.retries.load(Ordering::Relaxed)
        );
        out.push_str("# TYPE copilot_api_streams_total counter\n");
        for (outcome, n) in OUTCOMES.iter().zip(&self.streams) {
            let _ = writeln!(
                out,
                "copilot_api_streams_total{{outcome=\"{}\"}} {}",
                outcome.name(),
                n.load(Ordering::Relaxed)
            );
        }
        self.usage.render(&mut out);
        let limiter = [
            (
                "waits_total",
                "counter",
                self.limiter_waits.load(Ordering::Relaxed) as i64,
            ),
            (
                "rejections_total",
                "counter",
                self.limiter_rejections.load(Ordering::Relaxed) as i64,
            ),
            (
                "queue_depth",
                "gauge",
                self.limiter_queue.load(Ordering::Relaxed).max(0),
            ),
        ];
        for (name, kind, n) in limiter {
            let _ = writeln!(out, "# TYPE copilot_api_limiter_{name} {kind}");
            let _ = writeln!(out, "copilot_api_limiter_{name} {n}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.request("/v1/models", 200);
        m.request("/v1/models", 200);
        m.request(crate::routes::label("/wp-admin"), 404);
        m.upstream_status(429);
        m.retry();
        m.stream_ended(Outcome::Stalled);
        let text = m.render();
        assert!(
            text.contains("copilot_api_requests_total{path=\"/v1/models\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("copilot_api_requests_total{path=\"other\",status=\"404\"} 1"),
            "{text}"
        );
        assert!(text.contains("copilot_api_upstream_responses_total{status=\"429\"} 1"));
        assert!(text.contains("copilot_api_upstream_retries_total 1"));
        assert!(text.contains("copilot_api_streams_total{outcome=\"stalled\"} 1"));
        assert!(text.contains("copilot_api_streams_total{outcome=\"completed\"} 0"));
        m.limiter_wait();
        m.limiter_rejection();
        m.limiter_queue(2);
        m.limiter_queue(-1);
        let text = m.render();
        assert!(text.contains("copilot_api_limiter_waits_total 1"), "{text}");
        assert!(text.contains("copilot_api_limiter_rejections_total 1"));
        assert!(text.contains(
            "# TYPE copilot_api_limiter_queue_depth gauge\ncopilot_api_limiter_queue_depth 1"
        ));
    }
}
