//! A fake upstream on one loopback port that plays github.com (device flow), api.github.com
//! (user, Copilot token exchange, usage) and the Copilot API (model catalog) at once: their
//! paths do not collide. Every request is recorded so tests can assert what the binary sent.
//!
//! Plain code, no test framework: a later step runs the same server as a standalone process.
//! Routing is one `match (method, path)` with one function per endpoint, so new upstream
//! routes (`/chat/completions`, `/responses`, ...) are one arm and one function each.

use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The GitHub token the fake accepts, and the one its device flow issues.
pub const GITHUB_TOKEN: &str = "gho_fake_github_token";

/// Default `endpoints.api` of an issued Copilot token, as for an individual plan.
const DEFAULT_ENDPOINTS_API: &str = "https://api.individual.githubcopilot.com";

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Without the query string.
    pub path: String,
    pub query: String,
    /// Names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When the request head arrived (before its body was read).
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON; `Value::Null` when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// One answer of `POST /login/oauth/access_token` (RFC 8628 §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollStep {
    Pending,
    SlowDown,
    Expired,
    Denied,
    Success,
}

/// A Copilot token the fake handed out, valid until `valid_until` on the fake's clock.
struct Issued {
    token: String,
    valid_until: Instant,
}

struct State {
    requests: Vec<Recorded>,
    refresh_in: i64,
    expires_in: i64,
    failures_left: usize,
    failure_status: u16,
    reject_github: bool,
    device_steps: Vec<PollStep>,
    device_interval: u64,
    device_expires_in: u64,
    polls: usize,
    issued: Vec<Issued>,
    endpoints_api: Option<String>,
}

impl Default for State {
    fn default() -> Self {
        State {
            requests: Vec::new(),
            refresh_in: 1500,
            expires_in: 1800,
            failures_left: 0,
            failure_status: 500,
            reject_github: false,
            device_steps: vec![PollStep::Success],
            device_interval: 1,
            device_expires_in: 900,
            polls: 0,
            issued: Vec::new(),
            endpoints_api: Some(DEFAULT_ENDPOINTS_API.to_string()),
        }
    }
}

struct Shared {
    url: String,
    state: Mutex<State>,
}

/// What a route function answers.
struct Reply {
    status: u16,
    body: Value,
}

impl Reply {
    fn ok(body: Value) -> Reply {
        Reply { status: 200, body }
    }

    fn status(status: u16, body: Value) -> Reply {
        Reply { status, body }
    }
}

/// The running fake. Dropping it stops the accept loop and closes the port.
pub struct Fake {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    shared: Arc<Shared>,
    server: Arc<tiny_http::Server>,
    stopping: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Fake {
    pub fn start() -> Fake {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("fake upstream: bind");
        let port = server
            .server_addr()
            .to_ip()
            .expect("fake upstream: ip listener")
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let shared = Arc::new(Shared {
            url: url.clone(),
            state: Mutex::new(State::default()),
        });
        let server = Arc::new(server);
        let stopping = Arc::new(AtomicBool::new(false));
        let accept = {
            let (server, shared, stopping) = (server.clone(), shared.clone(), stopping.clone());
            std::thread::Builder::new()
                .name("fake-accept".into())
                .spawn(move || accept_loop(&server, &shared, &stopping))
                .expect("fake upstream: spawn accept thread")
        };
        Fake {
            url,
            shared,
            server,
            stopping,
            accept: Some(accept),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap()
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.state()
            .requests
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// `refresh_in` and `expires_in` (seconds) of the Copilot tokens issued from now on.
    pub fn set_token_lifetime(&self, refresh_in: i64, expires_in: i64) {
        let mut s = self.state();
        s.refresh_in = refresh_in;
        s.expires_in = expires_in;
    }

    /// The next `n` token exchanges answer `status` with a JSON body.
    pub fn fail_token_exchanges(&self, n: usize, status: u16) {
        let mut s = self.state();
        s.failures_left = n;
        s.failure_status = status;
    }

    /// While set, `/user`, `/copilot_internal/*` answer 401 Bad credentials.
    pub fn reject_github_token(&self, yes: bool) {
        self.state().reject_github = yes;
    }

    /// The answers of successive device-flow polls; the last one repeats.
    pub fn set_device_script(&self, steps: Vec<PollStep>, interval: u64, expires_in: u64) {
        assert!(!steps.is_empty(), "a device script needs at least one step");
        let mut s = self.state();
        s.device_steps = steps;
        s.device_interval = interval;
        s.device_expires_in = expires_in;
        s.polls = 0;
    }

    /// Copilot tokens issued so far, oldest first.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state()
            .issued
            .iter()
            .map(|i| i.token.clone())
            .collect()
    }

    /// What `endpoints.api` of issued tokens says; `None` omits `endpoints`.
    pub fn set_endpoints_api(&self, url: Option<String>) {
        self.state().endpoints_api = url;
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.server.unblock();
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn accept_loop(server: &tiny_http::Server, shared: &Arc<Shared>, stopping: &AtomicBool) {
    loop {
        match server.recv() {
            Ok(rq) => {
                let at = Instant::now();
                let shared = shared.clone();
                // One thread per request, so a slow request never holds up the next one.
                let spawned = std::thread::Builder::new()
                    .name("fake-request".into())
                    .spawn(move || handle(&shared, rq, at));
                if let Err(e) = spawned {
                    eprintln!("fake upstream: cannot spawn a request thread: {e}");
                }
            }
            // `recv` also fails on a broken connection; only `unblock` ends the loop.
            Err(_) if stopping.load(Ordering::SeqCst) => return,
            Err(_) => {}
        }
    }
}

fn handle(shared: &Shared, mut rq: tiny_http::Request, at: Instant) {
    let mut body = Vec::new();
    let _ = rq.as_reader().read_to_end(&mut body);
    let (path, query) = match rq.url().split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (rq.url().to_string(), String::new()),
    };
    let recorded = Recorded {
        method: rq.method().as_str().to_ascii_uppercase(),
        path,
        query,
        headers: rq
            .headers()
            .iter()
            .map(|h| {
                (
                    h.field.as_str().as_str().to_ascii_lowercase(),
                    h.value.as_str().to_string(),
                )
            })
            .collect(),
        body,
        at,
    };
    {
        // Threads may finish out of order; keep the log in order of arrival.
        let mut s = shared.state.lock().unwrap();
        let pos = s.requests.partition_point(|r| r.at <= recorded.at);
        s.requests.insert(pos, recorded.clone());
    }
    let reply = route(shared, &recorded);
    let response = tiny_http::Response::from_data(reply.body.to_string().into_bytes())
        .with_status_code(reply.status)
        .with_header(
            tiny_http::Header::from_bytes("Content-Type", "application/json")
                .expect("static header"),
        );
    let _ = rq.respond(response);
}

fn route(shared: &Shared, rq: &Recorded) -> Reply {
    match (rq.method.as_str(), rq.path.as_str()) {
        ("POST", "/login/device/code") => device_code(shared),
        ("POST", "/login/oauth/access_token") => poll_access_token(shared),
        ("GET", "/user") => github_user(shared, rq),
        ("GET", "/copilot_internal/v2/token") => exchange_token(shared, rq),
        ("GET", "/copilot_internal/user") => copilot_usage(shared, rq),
        ("GET", "/models") => models(shared, rq),
        _ => Reply::status(404, json!({"error": {"message": "fake: no such route"}})),
    }
}

fn bad_credentials() -> Reply {
    Reply::status(401, json!({"message": "Bad credentials"}))
}

/// True when the request carries `authorization: token GITHUB_TOKEN` and the fake accepts it.
fn github_token_ok(shared: &Shared, rq: &Recorded) -> bool {
    let expected = format!("token {GITHUB_TOKEN}");
    rq.header("authorization") == Some(expected.as_str())
        && !shared.state.lock().unwrap().reject_github
}

fn device_code(shared: &Shared) -> Reply {
    let s = shared.state.lock().unwrap();
    Reply::ok(json!({
        "device_code": "dc-1",
        "user_code": "ABCD-1234",
        "verification_uri": format!("{}/login/device", shared.url),
        "expires_in": s.device_expires_in,
        "interval": s.device_interval,
    }))
}

/// GitHub answers 200 to every poll and puts the outcome in the body.
fn poll_access_token(shared: &Shared) -> Reply {
    let mut s = shared.state.lock().unwrap();
    let step = s.device_steps[s.polls.min(s.device_steps.len() - 1)];
    s.polls += 1;
    Reply::ok(match step {
        PollStep::Pending => json!({"error": "authorization_pending"}),
        PollStep::SlowDown => json!({"error": "slow_down", "interval": s.device_interval + 5}),
        PollStep::Expired => json!({"error": "expired_token"}),
        PollStep::Denied => json!({"error": "access_denied"}),
        PollStep::Success => json!({
            "access_token": GITHUB_TOKEN,
            "token_type": "bearer",
            "scope": "read:user",
        }),
    })
}

fn github_user(shared: &Shared, rq: &Recorded) -> Reply {
    if !github_token_ok(shared, rq) {
        return bad_credentials();
    }
    Reply::ok(json!({"login": "octocat", "id": 1}))
}

fn exchange_token(shared: &Shared, rq: &Recorded) -> Reply {
    if !github_token_ok(shared, rq) {
        return bad_credentials();
    }
    let mut s = shared.state.lock().unwrap();
    if s.failures_left > 0 {
        s.failures_left -= 1;
        return Reply::status(s.failure_status, json!({"message": "injected failure"}));
    }
    let expires_at = unix_now() + s.expires_in;
    let token = format!("tid=fake;exp={expires_at};n={}", s.issued.len() + 1);
    let lifetime = Duration::from_secs(s.expires_in.max(0) as u64);
    s.issued.push(Issued {
        token: token.clone(),
        valid_until: Instant::now() + lifetime,
    });
    let mut body = json!({
        "token": token,
        "expires_at": expires_at,
        "refresh_in": s.refresh_in,
        "sku": "copilot_for_individuals_subscriber",
        "chat_enabled": true,
    });
    if let Some(api) = &s.endpoints_api {
        body["endpoints"] = json!({
            "api": api,
            "proxy": "https://proxy.individual.githubcopilot.com",
            "telemetry": "https://telemetry.individual.githubcopilot.com",
        });
    }
    Reply::ok(body)
}

fn copilot_usage(shared: &Shared, rq: &Recorded) -> Reply {
    if !github_token_ok(shared, rq) {
        return bad_credentials();
    }
    Reply::ok(usage_json())
}

/// The `/copilot_internal/user` body of reference/platform.md §6.1.
pub fn usage_json() -> Value {
    let unlimited = |id: &str| {
        json!({"entitlement": 0, "overage_count": 0, "overage_permitted": false,
               "percent_remaining": 100, "quota_id": id, "quota_remaining": 0,
               "remaining": 0, "unlimited": true})
    };
    json!({
        "access_type_sku": "free_educational_quota",
        "analytics_tracking_id": "0123456789abcdef",
        "assigned_date": "2026-01-15T10:00:00+01:00",
        "can_signup_for_limited": false,
        "chat_enabled": true,
        "copilot_plan": "individual",
        "organization_login_list": [],
        "organization_list": [],
        "quota_reset_date": "2026-12-01",
        "quota_snapshots": {
            "chat": unlimited("chat"),
            "completions": unlimited("completions"),
            "premium_interactions": {
                "entitlement": 300, "overage_count": 0, "overage_permitted": false,
                "percent_remaining": 87.3, "quota_id": "premium_interactions",
                "quota_remaining": 262, "remaining": 262, "unlimited": false
            }
        }
    })
}

fn models(shared: &Shared, rq: &Recorded) -> Reply {
    let bearer = rq
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "));
    let now = Instant::now();
    let valid = bearer.is_some_and(|t| {
        let s = shared.state.lock().unwrap();
        s.issued.iter().any(|i| i.token == t && now < i.valid_until)
    });
    if !valid {
        return Reply::status(
            401,
            json!({"error": {"message": "IDE token expired: unauthorized: token expired",
                             "code": "token_expired"}}),
        );
    }
    Reply::ok(catalog_json())
}

/// A catalog in the shape of reference/platform.md §5.2 covering each routing case:
/// chat only, Responses only, Anthropic-native, 1M context, no `supported_endpoints`
/// at all, and an embeddings model without an output limit.
pub fn catalog_json() -> Value {
    let data = vec![
        model(
            "gpt-4.1",
            "GPT-4.1",
            "Azure OpenAI",
            "chat",
            Some(&["/chat/completions"]),
            json!({"max_context_window_tokens": 128000, "max_prompt_tokens": 128000,
                   "max_output_tokens": 16384}),
        ),
        model(
            "gpt-5.2-codex",
            "GPT-5.2-Codex",
            "OpenAI",
            "chat",
            Some(&["/responses"]),
            json!({"max_context_window_tokens": 400000, "max_prompt_tokens": 272000,
                   "max_output_tokens": 128000}),
        ),
        model(
            "claude-sonnet-4.5",
            "Claude Sonnet 4.5",
            "Anthropic",
            "chat",
            Some(&["/chat/completions", "/v1/messages"]),
            json!({"max_context_window_tokens": 200000, "max_prompt_tokens": 128000,
                   "max_output_tokens": 16000}),
        ),
        model(
            "claude-opus-4.8",
            "Claude Opus 4.8",
            "Anthropic",
            "chat",
            Some(&["/chat/completions", "/v1/messages"]),
            json!({"max_context_window_tokens": 1000000, "max_prompt_tokens": 935000,
                   "max_output_tokens": 64000}),
        ),
        model(
            "gemini-2.5-pro",
            "Gemini 2.5 Pro",
            "Google",
            "chat",
            None,
            json!({"max_context_window_tokens": 128000, "max_prompt_tokens": 128000,
                   "max_output_tokens": 64000}),
        ),
        model(
            "text-embedding-3-small",
            "Embedding V3 small",
            "Azure OpenAI",
            "embeddings",
            Some(&["/embeddings"]),
            json!({"max_context_window_tokens": 8191, "max_prompt_tokens": 8191,
                   "max_inputs": 512}),
        ),
    ];
    json!({"object": "list", "data": data})
}

fn model(
    id: &str,
    name: &str,
    vendor: &str,
    kind: &str,
    endpoints: Option<&[&str]>,
    limits: Value,
) -> Value {
    let chat = kind == "chat";
    let mut m = json!({
        "id": id,
        "name": name,
        "object": "model",
        "vendor": vendor,
        "version": id,
        "preview": false,
        "model_picker_enabled": chat,
        "policy": {"state": "enabled", "terms": "Enable access to the latest models."},
        "capabilities": {
            "object": "model_capabilities",
            "type": kind,
            "family": id,
            "tokenizer": if chat { "o200k_base" } else { "cl100k_base" },
            "limits": limits,
            "supports": if chat {
                json!({"streaming": true, "tool_calls": true, "parallel_tool_calls": true,
                       "vision": true, "structured_outputs": true})
            } else {
                json!({"dimensions": true})
            },
        },
    });
    if let Some(endpoints) = endpoints {
        m["supported_endpoints"] = json!(endpoints);
    }
    m
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
