//! The one gate every client completion request passes before any upstream call (chat
//! completions, messages, responses, every path alias, and WebSocket `response.create`
//! turns): resolve the model, switch it on context overflow, choose the upstream route,
//! then the interval limiter, the burst limiter and manual approval, in that order
//! (DESIGN.md §8). The proxy's own extra calls (retries, replays, web-search passes) happen
//! after the gate and never pass it again, so limits count client requests only.

use crate::app::App;
use crate::features::overflow;
use crate::http::{ApiError, Incoming};
use crate::routing::{self, Api};
use crate::traffic::Traffic;
use crate::traffic::approval::{self, Approval, Facts, Verdict};
use crate::traffic::limiter::{self, Limiter, Refusal};
use crate::upstream::catalog::Model;
use crate::{info, warn};
use serde_json::{Map, Value};
use std::time::{Duration, Instant, SystemTime};

/// The burst lane of every model name the catalog does not list (`--burst-scope model`).
const UNKNOWN_MODELS: &str = "__unknown__";

/// Who is asking: for the log, the approval prompt, and to notice a client that left.
pub struct Origin<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub gone: &'a dyn Fn() -> bool,
}

/// A request let through: the model to use (switched on overflow, then `requested` and the
/// body's `model` are its id, so the answer names the model actually used) and the
/// upstream route.
pub struct Admitted {
    pub requested: String,
    pub model: Option<Model>,
    pub route: Api,
    /// The overflow switch chose `model` instead of the one asked for.
    pub switched: bool,
}

/// What the gate reads of a request body: the prompt (for the overflow switch) and the
/// facts the approval prompt shows. A body held as a tree is read through `TreeBody`; the
/// Chat pass-through, which keeps its body as bytes, has its own reader.
pub trait Body: overflow::Prompt {
    /// Whether the client asked for a stream.
    fn stream(&self) -> bool;
    /// How many messages (or input items) the request carries.
    fn items(&self) -> usize;
    /// How many tools it offers.
    fn tools(&self) -> usize;
    /// Whether the latest turn is billed to the user (a new prompt) rather than the agent.
    fn billed_as_user(&self) -> bool;
    /// The text of the latest user turn, for the approval prompt's preview.
    fn latest_user_text(&self) -> String;
}

/// A body held as a tree, read by the rules of its API.
pub struct TreeBody<'a> {
    pub api: Api,
    pub map: &'a Map<String, Value>,
}

impl TreeBody<'_> {
    fn items_field(&self) -> Option<&Value> {
        match self.api {
            Api::Responses => self.map.get("input"),
            _ => self.map.get("messages"),
        }
    }
}

impl overflow::Prompt for TreeBody<'_> {
    fn pieces(&self, each: &mut dyn FnMut(overflow::Piece<'_>)) {
        overflow::TreePrompt(self.map).pieces(each)
    }
}

impl Body for TreeBody<'_> {
    fn stream(&self) -> bool {
        self.map.get("stream").and_then(Value::as_bool) == Some(true)
    }

    fn items(&self) -> usize {
        match self.items_field() {
            Some(Value::Array(a)) => a.len(),
            Some(Value::String(_)) => 1,
            _ => 0,
        }
    }

    fn tools(&self) -> usize {
        self.map
            .get("tools")
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    }

    fn billed_as_user(&self) -> bool {
        super::billing::billed_as_user(self.api, self.map)
    }

    fn latest_user_text(&self) -> String {
        super::billing::latest_user_text(self.items_field())
    }
}

/// The gate for a request that came over HTTP, its body held as a tree. On an overflow
/// switch the body's `model` becomes the switched model's id (translations name the
/// answer's model after the body's).
pub fn admit(
    app: &App,
    rq: &Incoming,
    api: Api,
    body: &mut Map<String, Value>,
    requested: &str,
) -> Result<Admitted, ApiError> {
    let admitted = admit_body(app, rq, api, &TreeBody { api, map: body }, requested)?;
    Ok(switch_model(body, admitted))
}

/// Names the switched model in a tree body, if the gate switched.
fn switch_model(body: &mut Map<String, Value>, admitted: Admitted) -> Admitted {
    if admitted.switched {
        body.insert("model".into(), Value::from(admitted.requested.clone()));
    }
    admitted
}

/// The gate for a request that came over HTTP, over any reader of its body. The caller
/// applies a switch (`Admitted::switched`) to the body it sends.
pub fn admit_body(
    app: &App,
    rq: &Incoming,
    api: Api,
    body: &dyn Body,
    requested: &str,
) -> Result<Admitted, ApiError> {
    let gone = || rq.client_gone();
    let origin = Origin {
        method: &rq.method,
        path: &rq.path,
        gone: &gone,
    };
    gate(app, &origin, api, body, requested)
}

/// The gate itself: reads the body, never edits it.
fn gate(
    app: &App,
    origin: &Origin,
    api: Api,
    body: &dyn Body,
    requested: &str,
) -> Result<Admitted, ApiError> {
    let traffic = &app.traffic;
    let native_messages = !(api == Api::Messages && app.config.no_native_messages);
    let asked = requested;
    let mut model = app.find_model(requested);
    let mut requested = requested.to_string();
    let mut switched = false;
    if let (Some(m), false) = (&model, traffic.settings.no_auto_switch) {
        let catalog = app.catalog.get().unwrap_or_default();
        if let Some(s) = overflow::switch(api, body, m, &catalog, native_messages) {
            warn!(
                "context overflow: ~{} tokens > {} for {}, using {}",
                s.tokens, s.limit, m.id, s.to.id
            );
            requested = s.to.id.clone();
            model = Some(s.to);
            switched = true;
        }
    }
    let route =
        routing::decide(api, model.as_ref(), native_messages).map_err(ApiError::BadRequest)?;
    let resolved = model.as_ref().map_or(requested.as_str(), |m| m.id.as_str());
    let deadline = Instant::now() + traffic.settings.max_wait;
    let interval = match &traffic.interval {
        Some(limiter) => {
            let wait = traffic.settings.wait;
            Some(pass(
                app,
                origin,
                limiter,
                "",
                wait,
                deadline,
                "rate limit",
            )?)
        }
        None => None,
    };
    let burst = if let Some(burst) = &traffic.burst {
        // Names the catalog lacks share one lane: a lane per client-chosen string would
        // let a client grow the limiter's state without bound (one lane and one key of
        // any length per name, each kept for a whole window).
        let key = match (traffic.settings.burst_per_model, &model) {
            (true, Some(m)) => m.id.as_str(),
            (true, None) => UNKNOWN_MODELS,
            (false, _) => "__global__",
        };
        let passed = pass(app, origin, burst, key, true, deadline, "burst limit");
        if passed.is_err() {
            undo(traffic, &interval, None);
        }
        Some((key, passed?))
    } else {
        None
    };
    if let Some(approval) = &traffic.approval {
        let facts = facts(origin, api, body, asked, resolved, route, model.as_ref());
        let timeout = traffic.settings.manual.unwrap_or_default();
        if let Err(e) = approve(approval, &facts, origin, timeout) {
            // Rejected, timed out or gone at the prompt: nothing went upstream, so the
            // limiters' slots go back.
            undo(traffic, &interval, burst.as_ref().map(|(k, a)| (*k, a)));
            return Err(e);
        }
    }
    Ok(Admitted {
        requested,
        model,
        route,
        switched,
    })
}

/// Gives back the admissions of a request refused at a later stage: a refused request never
/// counts (DESIGN.md §8).
fn undo(
    traffic: &Traffic,
    interval: &Option<limiter::Admitted>,
    burst: Option<(&str, &limiter::Admitted)>,
) {
    if let (Some(limiter), Some(admitted)) = (&traffic.interval, interval) {
        limiter.undo("", admitted);
    }
    if let (Some(limiter), Some((key, admitted))) = (&traffic.burst, burst) {
        limiter.undo(key, admitted);
    }
}

/// One limiter: admitted, or the 429 (or the silent drop of a client that left).
fn pass(
    app: &App,
    origin: &Origin,
    limiter: &Limiter,
    key: &str,
    wait: bool,
    deadline: Instant,
    what: &str,
) -> Result<limiter::Admitted, ApiError> {
    let metrics = &app.metrics;
    let label = match key {
        "" | "__global__" => String::new(),
        UNKNOWN_MODELS => " [models not in the catalog]".to_string(),
        model => format!(" [{model}]"),
    };
    let on_queue = |delta: i64| {
        if delta > 0 {
            metrics.limiter_wait();
            info!(
                "{} {}: {what}{label} reached; queued",
                origin.method, origin.path
            );
        }
        metrics.limiter_queue(delta);
    };
    match limiter.acquire(key, wait, deadline, origin.gone, &on_queue) {
        Ok(a) => {
            if a.waited > Duration::ZERO {
                info!(
                    "{} {}: {what}{label} wait over after {:.1} s",
                    origin.method,
                    origin.path,
                    a.waited.as_secs_f64()
                );
            }
            Ok(a)
        }
        Err(Refusal::Gone) => {
            info!(
                "{} {}: the client left while queued ({what}); not sent upstream",
                origin.method, origin.path
            );
            Err(ApiError::ClientGone)
        }
        Err(Refusal::Later { retry_after, why }) => {
            metrics.limiter_rejection();
            let secs = limiter::whole_seconds(retry_after);
            warn!(
                "{} {}: refused by the {what}{label} ({why}); retry after {secs} s",
                origin.method, origin.path
            );
            Err(ApiError::RateLimited {
                message: format!("{what} of this proxy exceeded ({why}); retry after {secs} s"),
                retry_after: secs,
            })
        }
    }
}

fn approve(
    approval: &Approval,
    facts: &Facts,
    origin: &Origin,
    timeout: Duration,
) -> Result<(), ApiError> {
    let what = format!("{} {} ({})", origin.method, origin.path, facts.resolved);
    match approval.decide(facts, origin.gone) {
        Verdict::Approved => {
            info!("{what}: approved by the operator");
            Ok(())
        }
        Verdict::ApprovedAll => {
            info!("{what}: approved (the operator approved all requests until restart)");
            Ok(())
        }
        Verdict::Rejected => {
            warn!("{what}: rejected by the operator");
            Err(ApiError::Rejected(
                "the operator of this proxy rejected the request".into(),
            ))
        }
        Verdict::TimedOut => {
            warn!("{what}: rejected, no answer at the prompt in time");
            Err(ApiError::Rejected(format!(
                "the request timed out waiting for the operator's approval ({} s, --manual-timeout)",
                timeout.as_secs_f64()
            )))
        }
        Verdict::NoTerminal => {
            warn!("{what}: rejected, the terminal is closed");
            Err(ApiError::Rejected(
                "the request needs the operator's approval, and the proxy's terminal is closed"
                    .into(),
            ))
        }
        Verdict::Gone => {
            info!("{what}: the client left while awaiting approval; not sent upstream");
            Err(ApiError::ClientGone)
        }
        Verdict::QueueFull => {
            warn!(
                "{what}: refused, {} requests await approval",
                approval::QUEUE_LIMIT
            );
            Err(ApiError::RateLimited {
                message: format!(
                    "{} requests are already waiting for the operator's approval",
                    approval::QUEUE_LIMIT
                ),
                retry_after: 5,
            })
        }
    }
}

/// What the approval prompt shows about a request.
fn facts(
    origin: &Origin,
    api: Api,
    body: &dyn Body,
    asked: &str,
    resolved: &str,
    route: Api,
    model: Option<&Model>,
) -> Facts {
    let route = match (api, route) {
        (Api::Messages, Api::Messages) => "native (Copilot's /v1/messages)".to_string(),
        (a, b) if a == b => format!("pass-through ({})", b.path()),
        (_, b) => format!("translated (via {})", b.path()),
    };
    Facts {
        time: crate::log::utc_timestamp(SystemTime::now()),
        method: approval::printable(origin.method, 16),
        path: approval::printable(origin.path, 100),
        requested: approval::printable(asked, 100),
        resolved: approval::printable(resolved, 100),
        route,
        stream: body.stream(),
        messages: body.items(),
        tools: body.tools(),
        billed_as: if body.billed_as_user() {
            "user"
        } else {
            "agent"
        },
        multiplier: model.and_then(|m| m.multiplier),
        preview: approval::preview(&body.latest_user_text()),
    }
}
