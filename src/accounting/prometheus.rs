//! The accounting series in the Prometheus text format: token, credit and premium-request
//! counters per model, and latency histograms per route. Label values come from fixed
//! sets (the router's route labels, catalog ids, `other`), never from a client.

use super::Counts;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Upper bounds in seconds: from a fast non-stream answer to a long agent turn.
const BUCKETS: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

#[derive(Debug, Clone, Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// One histogram per route label.
#[derive(Default)]
pub struct Histograms(Mutex<BTreeMap<&'static str, Histogram>>);

impl Histograms {
    pub fn observe(&self, route: &'static str, seconds: f64) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let h = map.entry(route).or_default();
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                h.buckets[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    pub fn render(&self, out: &mut String, name: &str) {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (route, h) in &map {
            for (le, n) in BUCKETS.iter().zip(h.buckets) {
                let _ = writeln!(out, "{name}_bucket{{route=\"{route}\",le=\"{le}\"}} {n}");
            }
            let _ = writeln!(
                out,
                "{name}_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "{name}_sum{{route=\"{route}\"}} {}", h.sum);
            let _ = writeln!(out, "{name}_count{{route=\"{route}\"}} {}", h.count);
        }
    }
}

/// A label value written safely even if a catalog id held a quote or backslash.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub fn render_totals<'a>(out: &mut String, totals: impl Iterator<Item = (&'a str, Counts, f64)>) {
    let totals: Vec<_> = totals.collect();
    out.push_str("# TYPE copilot_api_tokens_total counter\n");
    for (model, c, _) in &totals {
        let model = label(model);
        for (kind, n) in [
            ("input", c.input),
            ("output", c.output),
            ("cached", c.cached),
        ] {
            let _ = writeln!(
                out,
                "copilot_api_tokens_total{{model=\"{model}\",kind=\"{kind}\"}} {n}"
            );
        }
    }
    out.push_str("# TYPE copilot_api_ai_credits_total counter\n");
    for (model, c, _) in &totals {
        let credits = c.nano_aiu.unwrap_or(0) as f64 / super::NANO_PER_CREDIT;
        let _ = writeln!(
            out,
            "copilot_api_ai_credits_total{{model=\"{}\"}} {credits}",
            label(model)
        );
    }
    out.push_str("# TYPE copilot_api_premium_requests_total counter\n");
    for (model, _, premium) in &totals {
        let _ = writeln!(
            out,
            "copilot_api_premium_requests_total{{model=\"{}\"}} {premium}",
            label(model)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_labels_escaped() {
        let h = Histograms::default();
        h.observe("/v1/chat/completions", 0.3);
        h.observe("/v1/chat/completions", 7.0);
        let mut out = String::new();
        h.render(&mut out, "x");
        assert!(out.contains("x_bucket{route=\"/v1/chat/completions\",le=\"0.25\"} 0"));
        assert!(out.contains("x_bucket{route=\"/v1/chat/completions\",le=\"0.5\"} 1"));
        assert!(out.contains("x_bucket{route=\"/v1/chat/completions\",le=\"10\"} 2"));
        assert!(out.contains("x_bucket{route=\"/v1/chat/completions\",le=\"+Inf\"} 2"));
        assert!(out.contains("x_count{route=\"/v1/chat/completions\"} 2"));
        assert_eq!(label("a\"b"), "a\\\"b");
    }
}
