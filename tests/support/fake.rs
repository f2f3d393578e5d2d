//! A fake upstream on one loopback port that plays github.com (device flow), api.github.com
//! (user, Copilot token exchange, usage) and the Copilot API (model catalog, chat
//! completions, responses, native Anthropic messages, embeddings) at once: their paths do
//! not collide. Like Copilot, the completion endpoints answer 400
//! `unsupported_api_for_model` for a catalog model whose `supported_endpoints` do not list
//! them (a model without the list is served on `/chat/completions` only), so a request the
//! binary routed wrongly fails; models outside the catalog are served as named.
//! Every request is recorded so tests can assert what the binary sent, and the end of every
//! answer on the wire is recorded so tests can see when the binary let go of a connection.
//!
//! Plain code, no test framework: a later step runs the same server as a standalone process.
//! Routing is one `match (method, path)` with one function per endpoint; the completion
//! answers live in `scenarios.rs` and its siblings, the sockets in `wire.rs`.

use super::catalog::{catalog_json, usage_json};
use super::scenarios::{self, ErrorBody, Scenario};
use super::search::{self, SearchFake};
use super::wire::{self, Reply, StreamEnd};
use super::{chat_answers, messages_answers, responses_answers};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::io::BufReader;
use std::net::{TcpListener, TcpStream};
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
    /// Arrival number, from 1; links the request to its `StreamEnd`.
    pub id: u64,
    pub method: String,
    /// Without the query string.
    pub path: String,
    pub query: String,
    /// Names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When the request was read (head and body).
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
    next_id: u64,
    /// How each answer ended on the wire, by request id.
    ends: Vec<(u64, StreamEnd, Instant)>,
    /// Completion scenarios for requests without a marker, oldest first.
    scenarios: VecDeque<Scenario>,
    /// Requests seen per `fail:N:STATUS` marker.
    fail_counts: HashMap<String, usize>,
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
    /// Headers added to every JSON completion answer (`x-usage-ratelimit-*`).
    limit_headers: Vec<(String, String)>,
    /// How the Tavily and Brave fakes answer.
    search: SearchFake,
    /// Replaces `catalog_json()` when set (`Fake::set_catalog`).
    catalog: Option<Value>,
    /// How long `GET /models` takes to answer (`Fake::set_catalog_delay`).
    catalog_delay: Duration,
}

impl Default for State {
    fn default() -> Self {
        State {
            requests: Vec::new(),
            next_id: 1,
            ends: Vec::new(),
            scenarios: VecDeque::new(),
            fail_counts: HashMap::new(),
            refresh_in: 1500,
            expires_in: 1800,
            failures_left: 0,
            failure_status: 500,
            reject_github: false,
            device_steps: vec![PollStep::Success],
            device_interval: 1,
            device_expires_in: 900,
            catalog_delay: Duration::ZERO,
            polls: 0,
            issued: Vec::new(),
            endpoints_api: Some(DEFAULT_ENDPOINTS_API.to_string()),
            limit_headers: Vec::new(),
            search: SearchFake::default(),
            catalog: None,
        }
    }
}

struct Shared {
    url: String,
    state: Mutex<State>,
    stopping: AtomicBool,
}

/// The running fake. Dropping it stops the accept loop and closes the port; connections
/// still open end at their next idle check.
pub struct Fake {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

/// A loopback listener with a deep accept queue: std's backlog of 128 overflows when a
/// benchmark opens hundreds of streams at once, and the kernel then drops SYNs.
fn listen(port: u16) -> TcpListener {
    use socket2::{Domain, Socket, Type};
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("fake upstream: socket");
    socket
        .set_reuse_address(true)
        .expect("fake upstream: reuse");
    socket.bind(&addr.into()).expect("fake upstream: bind");
    socket.listen(1024).expect("fake upstream: listen");
    socket.into()
}

impl Fake {
    pub fn start() -> Fake {
        Fake::start_on(0)
    }

    /// On a given loopback port (0 picks a free one), for the standalone process.
    pub fn start_on(port: u16) -> Fake {
        let listener = listen(port);
        let port = listener
            .local_addr()
            .expect("fake upstream: address")
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let shared = Arc::new(Shared {
            url: url.clone(),
            state: Mutex::new(State::default()),
            stopping: AtomicBool::new(false),
        });
        let accept = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("fake-accept".into())
                .spawn(move || accept_loop(&listener, &shared))
                .expect("fake upstream: spawn accept thread")
        };
        Fake {
            url,
            shared,
            accept: Some(accept),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap()
    }

    /// Headers Copilot's JSON answers carry from now on, e.g. its usage limits.
    pub fn set_limit_headers(&self, headers: &[(&str, &str)]) {
        self.state().limit_headers = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
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

    /// The scenario of the next completion request that carries no `scenario:` marker.
    pub fn push_scenario(&self, scenario: Scenario) {
        self.state().scenarios.push_back(scenario);
    }

    /// How the answer to request `id` ended on the wire, and when; None while it runs.
    pub fn stream_end(&self, id: u64) -> Option<(StreamEnd, Instant)> {
        self.state()
            .ends
            .iter()
            .find(|(i, _, _)| *i == id)
            .map(|(_, end, at)| (*end, *at))
    }

    /// Waits up to `timeout` for the answer to request `id` to end.
    pub fn wait_stream_end(&self, id: u64, timeout: Duration) -> Option<(StreamEnd, Instant)> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(end) = self.stream_end(id) {
                return Some(end);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
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

    /// Copilot refuses every token issued so far (401), as after a revocation; tokens
    /// issued later are accepted.
    pub fn revoke_tokens(&self) {
        let now = Instant::now();
        for issued in &mut self.state().issued {
            issued.valid_until = now;
        }
    }

    /// How the Tavily and Brave fakes answer from now on.
    pub fn set_search(&self, how: SearchFake) {
        self.state().search = how;
    }

    /// Serves this catalog (`{"data": [...]}`) instead of `catalog_json()`.
    pub fn set_catalog(&self, catalog: Value) {
        self.state().catalog = Some(catalog);
    }

    /// `GET /models` answers only after this long, so that calls overlap.
    pub fn set_catalog_delay(&self, delay: Duration) {
        self.state().catalog_delay = delay;
    }

    /// What `endpoints.api` of issued tokens says; `None` omits `endpoints`.
    pub fn set_endpoints_api(&self, url: Option<String>) {
        self.state().endpoints_api = url;
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept; it sees the flag and returns.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(conn) = conn else { continue };
        let shared = shared.clone();
        // One thread per connection, so a stalled answer never holds up another.
        let spawned = std::thread::Builder::new()
            .name("fake-conn".into())
            .spawn(move || serve_connection(&shared, conn));
        if let Err(e) = spawned {
            eprintln!("fake upstream: cannot spawn a connection thread: {e}");
        }
    }
}

/// Requests on one connection, one after the other, until either side closes it.
fn serve_connection(shared: &Shared, mut conn: TcpStream) {
    let _ = conn.set_nodelay(true);
    let Ok(read_half) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    while let Ok(Some(rq)) = wire::read_request(&mut reader) {
        let recorded = record(shared, rq.method, &rq.target, rq.headers, rq.body);
        let reply = route(shared, &recorded);
        let (end, again) = wire::write_reply(&mut conn, reply, rq.keep_alive, &shared.stopping);
        shared
            .state
            .lock()
            .unwrap()
            .ends
            .push((recorded.id, end, Instant::now()));
        if !again {
            return;
        }
    }
}

fn record(
    shared: &Shared,
    method: String,
    target: &str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> Recorded {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.to_string(), String::new()),
    };
    let mut s = shared.state.lock().unwrap();
    let recorded = Recorded {
        id: s.next_id,
        method: method.to_ascii_uppercase(),
        path,
        query,
        headers,
        body,
        at: Instant::now(),
    };
    s.next_id += 1;
    s.requests.push(recorded.clone());
    recorded
}

fn route(shared: &Shared, rq: &Recorded) -> Reply {
    match (rq.method.as_str(), rq.path.as_str()) {
        ("POST", "/login/device/code") => device_code(shared),
        ("POST", "/login/oauth/access_token") => poll_access_token(shared),
        ("GET", "/user") => github_user(shared, rq),
        ("GET", "/copilot_internal/v2/token") => exchange_token(shared, rq),
        ("GET", "/copilot_internal/user") => copilot_usage(shared, rq),
        ("GET", "/models") => copilot_api(shared, rq, |_| {
            let delay = shared.state.lock().unwrap().catalog_delay;
            std::thread::sleep(delay);
            Reply::json(200, &catalog(shared))
        }),
        ("POST", "/chat/completions") => copilot_api(shared, rq, |rq| {
            let body = rq.json();
            if let Some(refused) = unsupported(&catalog(shared), &body, &rq.path) {
                return refused;
            }
            if let Some(answer) = search::classifier(&body) {
                return answer;
            }
            chat_answers::chat(&scenario(shared, rq), &body)
        }),
        ("POST", "/responses") => copilot_api(shared, rq, |rq| {
            let body = rq.json();
            if let Some(refused) = unsupported(&catalog(shared), &body, &rq.path) {
                return refused;
            }
            if let Some(answer) = search::copilot_search(&body) {
                return answer;
            }
            responses_answers::responses(&scenario(shared, rq), &body)
        }),
        ("POST", "/responses/compact") => copilot_api(shared, rq, |rq| {
            let body = rq.json();
            if let Some(refused) = unsupported(&catalog(shared), &body, "/responses") {
                return refused;
            }
            match scenarios::common(scenarios::Api::Chat, &scenario(shared, rq), false) {
                Some(reply) => reply,
                None => responses_answers::compact(&body),
            }
        }),
        ("POST", "/v1/messages") => copilot_api(shared, rq, |rq| {
            let body = rq.json();
            let catalog = catalog(shared);
            let claude = body["model"]
                .as_str()
                .is_some_and(|id| native_messages_model(&catalog, id));
            if !claude {
                return unsupported_reply(body["model"].as_str().unwrap_or(""), &rq.path);
            }
            messages_answers::messages(&scenario(shared, rq), &body)
        }),
        ("POST", "/search") => {
            let how = shared.state.lock().unwrap().search;
            search::tavily(how, rq.header("authorization"), &rq.json())
        }
        ("GET", "/res/v1/web/search") => {
            let how = shared.state.lock().unwrap().search;
            search::brave(how, rq.header("x-subscription-token"), &rq.query)
        }
        ("POST", "/embeddings") => copilot_api(shared, rq, |rq| scenarios::embeddings(&rq.json())),
        _ => Reply::json(404, &json!({"error": {"message": "fake: no such route"}})),
    }
}

/// The marker's scenario, else the next queued one, else `Text`; `fail:N:S` counted here.
fn scenario(shared: &Shared, rq: &Recorded) -> Scenario {
    if let Some(scenario) = search::search_agent(&rq.body) {
        return scenario;
    }
    let mut s = shared.state.lock().unwrap();
    let Some(marker) = scenarios::marker(&rq.json()) else {
        return s.scenarios.pop_front().unwrap_or(Scenario::Text);
    };
    match Scenario::parse(&marker) {
        Some(Scenario::FailThen { times, status }) => {
            let seen = s.fail_counts.entry(marker).or_default();
            *seen += 1;
            if *seen <= times {
                Scenario::status(status)
            } else {
                Scenario::Text
            }
        }
        Some(Scenario::Images413) if scenarios::has_image(&rq.json()) => Scenario::Error {
            status: 413,
            body: ErrorBody::Json,
            retry_after: None,
        },
        Some(Scenario::Images413) => Scenario::Text,
        Some(Scenario::Agent(_)) if scenarios::ends_with_tool_output(&rq.json()) => Scenario::Text,
        Some(Scenario::Agent(name)) => Scenario::Call(name),
        Some(Scenario::ThinkAgent(_)) if scenarios::ends_with_tool_output(&rq.json()) => {
            Scenario::Reasoning
        }
        Some(Scenario::ThinkAgent(name)) => Scenario::ThinkCall(name),
        Some(Scenario::RejectEffort) if scenarios::has_effort(&rq.json()) => Scenario::RejectEffort,
        Some(Scenario::RejectEffort) => Scenario::Text,
        Some(scenario) => scenario,
        None => Scenario::Text,
    }
}

/// The catalog the fake serves: `catalog_json()` unless a test set another.
fn catalog(shared: &Shared) -> Value {
    let s = shared.state.lock().unwrap();
    s.catalog.clone().unwrap_or_else(catalog_json)
}

/// Copilot's answer for a catalog model sent to an endpoint it does not list.
fn unsupported(catalog: &Value, body: &Value, path: &str) -> Option<Reply> {
    let model = body["model"].as_str().unwrap_or("");
    let entry = catalog["data"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["id"] == model)
        .cloned()?;
    let served = match entry["supported_endpoints"].as_array() {
        Some(list) => list.iter().any(|e| e == path),
        None => path == "/chat/completions",
    };
    (!served).then(|| unsupported_reply(model, path))
}

fn unsupported_reply(model: &str, path: &str) -> Reply {
    Reply::json(
        400,
        &json!({"error": {"message": format!("model {model} is not accessible via the {path} endpoint"),
                          "code": "unsupported_api_for_model"}}),
    )
}

/// Catalog models whose `supported_endpoints` include `/v1/messages`.
fn native_messages_model(catalog: &Value, id: &str) -> bool {
    catalog["data"].as_array().into_iter().flatten().any(|m| {
        m["id"] == id
            && m["supported_endpoints"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e == "/v1/messages"))
    })
}

fn bad_credentials() -> Reply {
    Reply::json(401, &json!({"message": "Bad credentials"}))
}

/// True when the request carries `authorization: token GITHUB_TOKEN` and the fake accepts it.
fn github_token_ok(shared: &Shared, rq: &Recorded) -> bool {
    let expected = format!("token {GITHUB_TOKEN}");
    rq.header("authorization") == Some(expected.as_str())
        && !shared.state.lock().unwrap().reject_github
}

fn device_code(shared: &Shared) -> Reply {
    let s = shared.state.lock().unwrap();
    Reply::json(
        200,
        &json!({
            "device_code": "dc-1",
            "user_code": "ABCD-1234",
            "verification_uri": format!("{}/login/device", shared.url),
            "expires_in": s.device_expires_in,
            "interval": s.device_interval,
        }),
    )
}

/// GitHub answers 200 to every poll and puts the outcome in the body.
fn poll_access_token(shared: &Shared) -> Reply {
    let mut s = shared.state.lock().unwrap();
    let step = s.device_steps[s.polls.min(s.device_steps.len() - 1)];
    s.polls += 1;
    Reply::json(
        200,
        &match step {
            PollStep::Pending => json!({"error": "authorization_pending"}),
            PollStep::SlowDown => json!({"error": "slow_down", "interval": s.device_interval + 5}),
            PollStep::Expired => json!({"error": "expired_token"}),
            PollStep::Denied => json!({"error": "access_denied"}),
            PollStep::Success => json!({
                "access_token": GITHUB_TOKEN,
                "token_type": "bearer",
                "scope": "read:user",
            }),
        },
    )
}

fn github_user(shared: &Shared, rq: &Recorded) -> Reply {
    if !github_token_ok(shared, rq) {
        return bad_credentials();
    }
    Reply::json(200, &json!({"login": "octocat", "id": 1}))
}

fn exchange_token(shared: &Shared, rq: &Recorded) -> Reply {
    if !github_token_ok(shared, rq) {
        return bad_credentials();
    }
    let mut s = shared.state.lock().unwrap();
    if s.failures_left > 0 {
        s.failures_left -= 1;
        return Reply::json(s.failure_status, &json!({"message": "injected failure"}));
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
    Reply::json(200, &body)
}

fn copilot_usage(shared: &Shared, rq: &Recorded) -> Reply {
    if !github_token_ok(shared, rq) {
        return bad_credentials();
    }
    Reply::json(200, &usage_json())
}

/// A Copilot API call: answered by `answer` when it carries a live Copilot token, else
/// 401 as Copilot does for an expired one.
fn copilot_api(shared: &Shared, rq: &Recorded, answer: impl FnOnce(&Recorded) -> Reply) -> Reply {
    let bearer = rq
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "));
    let now = Instant::now();
    let valid = bearer.is_some_and(|t| {
        let s = shared.state.lock().unwrap();
        s.issued.iter().any(|i| i.token == t && now < i.valid_until)
    });
    if !valid {
        return Reply::json(
            401,
            &json!({"error": {"message": "IDE token expired: unauthorized: token expired",
                             "code": "token_expired"}}),
        );
    }
    let mut reply = answer(rq);
    if let Reply::Body { headers, .. } = &mut reply {
        headers.extend(shared.state.lock().unwrap().limit_headers.clone());
    }
    reply
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
