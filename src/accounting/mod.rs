//! Usage and cost per request, in memory and per instance: the last 200 completion
//! requests (metadata only, never prompt or answer text), totals per model since start,
//! Copilot's latest limit headers, and the `/metrics` series built from them.
//!
//! Cost is what Copilot itself reports or bills: AI credits from `copilot_usage` (usage-based
//! plans) and premium requests (legacy plans: the catalog's `billing.multiplier`, counted
//! for `user` turns only, since agent turns are not billed).

pub mod limits;
mod prometheus;
pub mod tally;

use limits::Limits;
use prometheus::Histograms;
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
pub use tally::{Counts, Tally};

/// Requests kept for the dashboard.
pub const RECENT: usize = 200;
/// A requested model name is kept to this many characters (it is the client's string).
const NAME_MAX: usize = 100;
const NANO_PER_CREDIT: f64 = 1e9;

/// One finished completion request.
#[derive(Debug, Clone)]
pub struct Record {
    /// Unix milliseconds when the request arrived.
    pub at_ms: u64,
    /// Inbound API: `chat`, `messages` or `responses`.
    pub api: &'static str,
    /// The model as the client named it.
    pub requested: String,
    /// The catalog id it resolved to, when it did.
    pub model: Option<String>,
    /// The Copilot endpoint that answered.
    pub upstream: Option<&'static str>,
    pub initiator: Option<&'static str>,
    pub status: u16,
    /// The stream's outcome; None for a JSON answer.
    pub outcome: Option<&'static str>,
    pub duration_ms: f64,
    pub ttft_ms: Option<f64>,
    pub counts: Counts,
    pub premium: f64,
}

impl Record {
    pub fn credits(&self) -> Option<f64> {
        self.counts.nano_aiu.map(|n| n as f64 / NANO_PER_CREDIT)
    }

    /// The access log's accounting fields: ` in=120 out=7 cached=100 credits=2.5`.
    pub fn log_fields(&self) -> String {
        let c = &self.counts;
        let mut s = format!(" in={} out={} cached={}", c.input, c.output, c.cached);
        if let Some(credits) = self.credits() {
            s.push_str(&format!(" credits={credits}"));
        }
        if self.premium > 0.0 {
            s.push_str(&format!(" premium={}", self.premium));
        }
        if let Some(t) = self.ttft_ms {
            s.push_str(&format!(" ttft={t:.1}ms"));
        }
        s
    }

    /// The access log's fields in the JSON log format.
    fn log_json(&self) -> Value {
        json!({
            "input_tokens": self.counts.input,
            "output_tokens": self.counts.output,
            "cached_tokens": self.counts.cached,
            "ai_credits": self.credits(),
            "premium_requests": self.premium,
            "ttft_ms": self.ttft_ms.map(round1),
        })
    }

    fn to_json(&self) -> Value {
        json!({
            "at_ms": self.at_ms,
            "api": self.api,
            "requested_model": self.requested,
            "model": self.model,
            "upstream": self.upstream,
            "initiator": self.initiator,
            "status": self.status,
            "stream": self.outcome.is_some(),
            "outcome": self.outcome,
            "duration_ms": round1(self.duration_ms),
            "ttft_ms": self.ttft_ms.map(round1),
            "input_tokens": self.counts.input,
            "output_tokens": self.counts.output,
            "cached_tokens": self.counts.cached,
            "ai_credits": self.credits(),
            "premium_requests": self.premium,
        })
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// What the listener knows when a request has ended.
pub struct Finished<'a> {
    pub path: &'a str,
    /// The router's metrics label of the path (`routes::label`): a fixed set.
    pub route: &'static str,
    pub requested: Option<&'a str>,
    /// The catalog entry of the requested model.
    pub model: Option<Resolved<'a>>,
    pub status: u16,
    pub outcome: Option<&'static str>,
    pub started: Instant,
    pub tally: Option<Arc<Tally>>,
}

/// What accounting reads of the catalog entry a request resolved to: its id (the key of
/// the totals) and its premium-request multiplier. The caller looks the model up, so the
/// counting below knows nothing of the catalog.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    pub id: &'a str,
    pub multiplier: Option<f64>,
}

/// Sums per model since start.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    requests: u64,
    counts: Counts,
    premium: f64,
}

#[derive(Default)]
pub struct Ledger {
    recent: Mutex<VecDeque<Record>>,
    /// Keyed by catalog id, or `other` for a model the catalog lacks (bounded labels).
    totals: Mutex<BTreeMap<String, Totals>>,
    durations: Histograms,
    first_tokens: Histograms,
    pub limits: Limits,
}

/// The inbound API of a completion path; None for every other path.
pub fn api_of(path: &str) -> Option<&'static str> {
    match path {
        "/v1/chat/completions" | "/chat/completions" => Some("chat"),
        "/v1/messages" => Some("messages"),
        "/v1/responses" | "/responses" => Some("responses"),
        _ => None,
    }
}

/// The `model` a request body names, for a request the route refused before reading it.
pub fn requested_model(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Named {
        model: Option<String>,
    }
    serde_json::from_slice::<Named>(body).ok()?.model
}

impl Ledger {
    /// Every request's duration (by route); completion requests are also recorded in full.
    /// Returns the access log's accounting fields for a completion request (text, JSON).
    pub fn finish(&self, f: Finished) -> Option<(String, Value)> {
        let elapsed = f.started.elapsed();
        let route = f.route;
        self.durations.observe(route, elapsed.as_secs_f64());
        let api = api_of(f.path)?;
        let tally = f.tally.as_deref();
        let ttft = tally
            .and_then(Tally::first_token)
            .map(|t| t.saturating_duration_since(f.started));
        if let Some(t) = ttft {
            self.first_tokens.observe(route, t.as_secs_f64());
        }
        let user_turn = tally.is_some_and(|t| t.user_turn);
        let premium = match f.model.and_then(|m| m.multiplier) {
            Some(m) if user_turn && f.status < 400 => m,
            _ => 0.0,
        };
        let at = SystemTime::now() - elapsed;
        let record = Record {
            at_ms: at
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            api,
            requested: f.requested.unwrap_or("").chars().take(NAME_MAX).collect(),
            model: f.model.map(|m| m.id.to_string()),
            upstream: tally.map(|t| t.upstream),
            initiator: tally.map(|t| if t.user_turn { "user" } else { "agent" }),
            status: f.status,
            outcome: f.outcome,
            duration_ms: elapsed.as_secs_f64() * 1000.0,
            ttft_ms: ttft.map(|t| t.as_secs_f64() * 1000.0),
            counts: tally.map(Tally::counts).unwrap_or_default(),
            premium,
        };
        let fields = (record.log_fields(), record.log_json());
        self.add(record);
        Some(fields)
    }

    fn add(&self, r: Record) {
        {
            let mut totals = self.totals.lock().unwrap_or_else(|e| e.into_inner());
            let t = totals
                .entry(r.model.clone().unwrap_or_else(|| "other".into()))
                .or_default();
            t.requests += 1;
            t.counts.input += r.counts.input;
            t.counts.output += r.counts.output;
            t.counts.cached += r.counts.cached;
            if let Some(n) = r.counts.nano_aiu {
                t.counts.nano_aiu = Some(t.counts.nano_aiu.unwrap_or(0) + n);
            }
            t.premium += r.premium;
        }
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back(r);
    }

    /// The dashboard's data: totals per model, the recent requests (newest first) and
    /// the limits.
    pub fn to_json(&self) -> Value {
        let totals = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        let models: Vec<Value> = totals
            .iter()
            .map(|(model, t)| {
                json!({
                    "model": model,
                    "requests": t.requests,
                    "input_tokens": t.counts.input,
                    "output_tokens": t.counts.output,
                    "cached_tokens": t.counts.cached,
                    "ai_credits": t.counts.nano_aiu.map(|n| n as f64 / NANO_PER_CREDIT),
                    "premium_requests": t.premium,
                })
            })
            .collect();
        drop(totals);
        let recent: Vec<Value> = self
            .recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .rev()
            .map(Record::to_json)
            .collect();
        json!({"models": models, "recent": recent, "limits": self.limits.to_json()})
    }

    /// The accounting series of `/metrics`.
    pub fn render(&self, out: &mut String) {
        let totals = self
            .totals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        prometheus::render_totals(
            out,
            totals
                .iter()
                .map(|(m, t)| (m.as_str(), t.counts, t.premium)),
        );
        self.durations
            .render(out, "copilot_api_request_duration_seconds");
        self.first_tokens
            .render(out, "copilot_api_time_to_first_token_seconds");
        self.limits.render(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(id: &str, multiplier: Option<f64>) -> Resolved<'_> {
        Resolved { id, multiplier }
    }

    fn finish(
        ledger: &Ledger,
        m: Option<Resolved>,
        user: bool,
        status: u16,
    ) -> Option<(String, Value)> {
        let tally = Tally::new("/chat/completions", user);
        tally.observe_body(
            br#"{"usage":{"prompt_tokens":10,"completion_tokens":2},"copilot_usage":{"total_nano_aiu":1500000000}}"#,
        );
        ledger.finish(Finished {
            path: "/v1/chat/completions",
            route: "/v1/chat/completions",
            requested: Some("claude-sonnet-4-5"),
            model: m,
            status,
            outcome: None,
            started: Instant::now(),
            tally: Some(tally),
        })
    }

    #[test]
    fn premium_only_for_user_turns_and_recent_is_bounded() {
        let ledger = Ledger::default();
        let sonnet = model("claude-sonnet-4.5", Some(1.0));
        let (line, fields) = finish(&ledger, Some(sonnet), true, 200).unwrap();
        assert_eq!(line, " in=10 out=2 cached=0 credits=1.5 premium=1");
        assert_eq!(fields["ai_credits"], 1.5);
        assert_eq!(fields["input_tokens"], 10);
        finish(&ledger, Some(sonnet), false, 200);
        finish(&ledger, Some(sonnet), true, 429);
        let v = ledger.to_json();
        assert_eq!(v["models"][0]["model"], "claude-sonnet-4.5");
        assert_eq!(v["models"][0]["requests"], 3);
        assert_eq!(v["models"][0]["premium_requests"], 1.0);
        assert_eq!(v["models"][0]["ai_credits"], 4.5);
        assert_eq!(v["recent"][0]["status"], 429);
        assert_eq!(v["recent"][1]["initiator"], "agent");
        for _ in 0..RECENT {
            finish(&ledger, None, true, 200);
        }
        let v = ledger.to_json();
        assert_eq!(v["recent"].as_array().unwrap().len(), RECENT);
        assert_eq!(v["models"][1]["model"], "other");
        let none = ledger.finish(Finished {
            path: "/v1/models",
            route: "/v1/models",
            requested: None,
            model: None,
            status: 200,
            outcome: None,
            started: Instant::now(),
            tally: None,
        });
        assert!(none.is_none());
        let mut text = String::new();
        ledger.render(&mut text);
        assert!(
            text.contains(
                "copilot_api_tokens_total{model=\"claude-sonnet-4.5\",kind=\"input\"} 30"
            ),
            "{text}"
        );
        assert!(text.contains("copilot_api_premium_requests_total{model=\"claude-sonnet-4.5\"} 1"));
        assert!(
            text.contains("copilot_api_request_duration_seconds_count{route=\"/v1/models\"} 1")
        );
    }
}
