//! The benchmark's load generator (`cargo run --release --example loadgen`, driven by
//! `scripts/bench`). It starts copilot-api against an already running fake upstream, then
//! measures each figure twice in one run, straight against the fake ("direct") and through
//! the proxy, and prints each pair and their ratio as a table and as JSON.
//!
//! The stream figures cover the four relay paths: Chat pass-through, native Anthropic
//! pass-through, and Messages and Responses translated from Chat. A translated path's
//! "direct" figure is the Chat stream it is translated from, fetched from the fake. The
//! proxy's CPU time comes from `/proc/PID/stat` (utime + stime, threads that ended
//! included) around each run, divided by the events the clients received.
//!
//! Loopback only; every loop is bounded in count and time.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const GITHUB_TOKEN: &str = "gho_fake_github_token";
/// A model Copilot serves on `/chat/completions` only: Messages and Responses translate.
const MODEL: &str = "gpt-4.1";
/// A model with Copilot's native `/v1/messages`: Messages passes through.
const NATIVE_MODEL: &str = "claude-sonnet-4.5";

struct Args {
    bin: String,
    fake: String,
    requests: usize,
    streams: usize,
    stream_events: usize,
    concurrent: usize,
    concurrent_events: usize,
    /// Runs of each stream figure: the median time and rate are reported, and CPU over
    /// all runs (one run swings by tens of percent on a shared machine).
    repeat: usize,
}

/// The relay paths measured, each with its request through the proxy and straight to the
/// fake.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Path {
    Chat,
    Native,
    Messages,
    Responses,
}

impl Path {
    const ALL: [Path; 4] = [Path::Chat, Path::Native, Path::Messages, Path::Responses];

    fn name(self) -> &'static str {
        match self {
            Path::Chat => "chat pass-through",
            Path::Native => "messages native",
            Path::Messages => "messages translated",
            Path::Responses => "responses translated",
        }
    }

    /// The proxy's path and body for a prompt carrying `marker`.
    fn proxied(self, marker: &str) -> (&'static str, Value) {
        let prompt = format!("Count. {marker}");
        match self {
            Path::Chat => ("/v1/chat/completions", chat_stream(MODEL, &prompt)),
            Path::Native => ("/v1/messages", messages_stream(NATIVE_MODEL, &prompt)),
            Path::Messages => ("/v1/messages", messages_stream(MODEL, &prompt)),
            Path::Responses => (
                "/v1/responses",
                json!({"model": MODEL, "stream": true, "input": prompt}),
            ),
        }
    }

    /// The upstream stream this path relays, asked of the fake directly.
    fn direct(self, marker: &str) -> (&'static str, Value) {
        let prompt = format!("Count. {marker}");
        match self {
            Path::Native => ("/v1/messages", messages_stream(NATIVE_MODEL, &prompt)),
            _ => ("/chat/completions", chat_stream(MODEL, &prompt)),
        }
    }
}

fn main() {
    let mut args = pico_args::Arguments::from_env();
    let mut opt = |name: &'static str, default: usize| -> usize {
        args.opt_value_from_str(name).unwrap().unwrap_or(default)
    };
    let (requests, streams, stream_events) = (
        opt("--requests", 500),
        opt("--streams", 500),
        opt("--stream-events", 5000),
    );
    let (concurrent, concurrent_events) =
        (opt("--concurrent", 50), opt("--concurrent-events", 1000));
    let repeat = opt("--repeat", 3).max(1);
    let a = Args {
        bin: args
            .value_from_str("--bin")
            .expect("--bin PATH of copilot-api"),
        fake: args
            .value_from_str("--fake")
            .expect("--fake URL of the fake upstream"),
        requests,
        streams,
        stream_events,
        concurrent,
        concurrent_events,
        repeat,
    };
    let mut rows: Vec<Row> = Vec::new();

    let startup: Vec<f64> = (0..5).map(|_| Proxy::start(&a).startup_ms).collect();
    let proxy = Proxy::start(&a);
    std::thread::sleep(Duration::from_millis(300));
    let idle_rss = rss_kib(proxy.child.id(), "VmRSS");
    let direct = Target::direct(&a.fake);
    let through = Target::proxy(&proxy.url);
    let pid = proxy.child.id();

    let chat = chat_body(&"Say hi. ".repeat(4));
    let (d, p) = (
        direct.sequential("/chat/completions", &chat, a.requests),
        through.sequential("/v1/chat/completions", &chat, a.requests),
    );
    rows.push(Row::latency(
        "chat latency p50 (ms)",
        percentile(&d, 50.0),
        percentile(&p, 50.0),
    ));
    rows.push(Row::latency(
        "chat latency p99 (ms)",
        percentile(&d, 99.0),
        percentile(&p, 99.0),
    ));

    let text = "Please review this function and explain what it does. ".repeat(180);
    let d = direct.sequential("/chat/completions", &chat_body(&text), a.requests);
    let p = through.sequential("/v1/messages", &messages_body(&text), a.requests);
    rows.push(Row::latency(
        "10 KB messages translated latency p50 (ms)",
        percentile(&d, 50.0),
        percentile(&p, 50.0),
    ));
    rows.push(Row::latency(
        "10 KB messages translated latency p99 (ms)",
        percentile(&d, 99.0),
        percentile(&p, 99.0),
    ));

    let marker = format!("scenario:many:{}", a.stream_events);
    for path in Path::ALL {
        let (dp, db) = path.direct(&marker);
        let (pp, pb) = path.proxied(&marker);
        let (mut d, mut p) = (Vec::new(), Vec::new());
        for _ in 0..a.repeat {
            d.push(direct.stream_once(dp, &db).total_ms);
            p.push(through.stream_once(pp, &pb).total_ms);
        }
        rows.push(Row::ratio(
            &format!("{} events, {}: time (ms)", a.stream_events, path.name()),
            percentile(&d, 50.0),
            percentile(&p, 50.0),
        ));
    }

    let marker = format!("scenario:many:{}", a.concurrent_events);
    for path in Path::ALL {
        let runs = |target: &Target, proxy: Option<u32>, route: (&str, Value)| {
            Concurrent::merge(
                (0..a.repeat).map(|_| target.concurrent(route.clone(), a.concurrent, proxy)),
            )
        };
        let d = runs(&direct, None, path.direct(&marker));
        let p = runs(&through, Some(pid), path.proxied(&marker));
        let label = |what: &str| {
            format!(
                "{}x{} {}: {what}",
                a.concurrent,
                a.concurrent_events,
                path.name()
            )
        };
        rows.push(Row::plain(
            &label("failures"),
            d.failures as f64,
            p.failures as f64,
        ));
        rows.push(Row::ratio(
            &label("events/s"),
            d.events_per_s,
            p.events_per_s,
        ));
        rows.push(Row::single(
            &label("proxy CPU/event (us)"),
            p.cpu_us / p.events.max(1) as f64,
        ));
        rows.push(Row::latency(
            &label("time to first event p50 (ms)"),
            percentile(&d.ttfe, 50.0),
            percentile(&p.ttfe, 50.0),
        ));
        rows.push(Row::single(
            &label("peak RSS (MiB)"),
            p.peak_rss_kib as f64 / 1024.0,
        ));
    }

    let marker = "scenario:slow:50:20";
    let d = direct.concurrent(Path::Chat.direct(marker), a.streams, None);
    let p = through.concurrent(Path::Chat.proxied(marker), a.streams, Some(pid));
    let label = |what: &str| format!("{} slow chat streams: {what}", a.streams);
    rows.push(Row::plain(
        &label("failures"),
        d.failures as f64,
        p.failures as f64,
    ));
    rows.push(Row::latency(
        &label("time to first event p50 (ms)"),
        percentile(&d.ttfe, 50.0),
        percentile(&p.ttfe, 50.0),
    ));
    rows.push(Row::single("idle RSS (MiB)", idle_rss as f64 / 1024.0));
    rows.push(Row::single(
        &label("peak RSS (MiB)"),
        p.peak_rss_kib as f64 / 1024.0,
    ));
    rows.push(Row::single(
        "startup to listening, median of 5 (ms)",
        percentile(&startup, 50.0),
    ));
    let size = std::fs::metadata(&a.bin).map(|m| m.len()).unwrap_or(0);
    rows.push(Row::single(
        "binary size (MiB)",
        size as f64 / (1024.0 * 1024.0),
    ));
    drop(proxy);
    report(&rows);
}

/// One figure: direct and proxied values (or one value), and how to compare them.
struct Row {
    name: String,
    direct: Option<f64>,
    proxy: f64,
    /// Show `proxy - direct` (latencies) besides the ratio.
    added: bool,
}

impl Row {
    fn latency(name: &str, direct: f64, proxy: f64) -> Row {
        Row {
            name: name.into(),
            direct: Some(direct),
            proxy,
            added: true,
        }
    }
    fn ratio(name: &str, direct: f64, proxy: f64) -> Row {
        Row {
            name: name.into(),
            direct: Some(direct),
            proxy,
            added: false,
        }
    }
    fn plain(name: &str, direct: f64, proxy: f64) -> Row {
        Row::ratio(name, direct, proxy)
    }
    fn single(name: &str, value: f64) -> Row {
        Row {
            name: name.into(),
            direct: None,
            proxy: value,
            added: false,
        }
    }
}

fn report(rows: &[Row]) {
    println!(
        "{:<56} {:>11} {:>11} {:>9} {:>7}",
        "figure", "direct", "proxy", "added", "ratio"
    );
    let mut json_rows = Vec::new();
    for r in rows {
        let ratio = r.direct.filter(|d| *d > 0.0).map(|d| r.proxy / d);
        let added = r.direct.filter(|_| r.added).map(|d| r.proxy - d);
        let cell = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
        println!(
            "{:<56} {:>11} {:>11.3} {:>9} {:>7}",
            r.name,
            cell(r.direct),
            r.proxy,
            cell(added),
            ratio.map_or("-".to_string(), |v| format!("{v:.2}x"))
        );
        json_rows.push(json!({"figure": r.name, "direct": r.direct, "proxy": r.proxy, "added": added, "ratio": ratio}));
    }
    println!("JSON {}", json!(json_rows));
}

/// The proxy's CPU time so far, to measure what a run costs it.
struct Cpu {
    pid: u32,
    start_ticks: u64,
}

impl Cpu {
    fn of(pid: u32) -> Cpu {
        Cpu {
            pid,
            start_ticks: cpu_ticks(pid),
        }
    }

    fn elapsed_us(&self) -> f64 {
        let ticks = cpu_ticks(self.pid).saturating_sub(self.start_ticks);
        ticks as f64 * 1_000_000.0 / clock_ticks_per_s()
    }
}

/// utime + stime of the whole process (ended threads included), in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the `(comm)`, which may contain spaces: state is field 3, utime 14.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(14) + field(15)
}

fn clock_ticks_per_s() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// copilot-api started against the fake, on a free port.
struct Proxy {
    child: Child,
    url: String,
    startup_ms: f64,
    _home: TempHome,
}

impl Proxy {
    fn start(a: &Args) -> Proxy {
        let home = TempHome::new();
        let started = Instant::now();
        let mut child = Command::new(&a.bin)
            .args([
                "start",
                "--port",
                "0",
                "--max-inflight",
                &(a.streams.max(a.concurrent) * 2).to_string(),
            ])
            .env("HOME", &home.0)
            .env("GH_TOKEN", GITHUB_TOKEN)
            .env("GITHUB_URL", &a.fake)
            .env("GITHUB_API_URL", &a.fake)
            .env("COPILOT_API_BASE_URL", &a.fake)
            .env_remove("HTTPS_PROXY")
            .env_remove("HTTP_PROXY")
            .env_remove("ALL_PROXY")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start copilot-api");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("copilot-api exited before listening")
                .expect("stderr line");
            if let Some(addr) = line.split("listening on ").nth(1) {
                break addr.trim().to_string();
            }
        };
        let startup_ms = started.elapsed().as_secs_f64() * 1000.0;
        // Keep draining its log so the proxy never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Proxy {
            child,
            url,
            startup_ms,
            _home: home,
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempHome(std::path::PathBuf);

impl TempHome {
    fn new() -> TempHome {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("copilot-api-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp home");
        TempHome(dir)
    }
}

impl Drop for TempHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where requests go: the fake's Copilot API with a Copilot token, or the proxy.
struct Target {
    base: String,
    auth: Option<String>,
    agent: ureq::Agent,
}

struct StreamRun {
    total_ms: f64,
}

struct Concurrent {
    failures: usize,
    ttfe: Vec<f64>,
    events_per_s: f64,
    events: usize,
    cpu_us: f64,
    peak_rss_kib: u64,
}

impl Concurrent {
    /// Several runs as one: failures, events and CPU summed, time to first event pooled,
    /// the median rate, the highest RSS.
    fn merge(runs: impl Iterator<Item = Concurrent>) -> Concurrent {
        let runs: Vec<Concurrent> = runs.collect();
        let rates: Vec<f64> = runs.iter().map(|r| r.events_per_s).collect();
        Concurrent {
            failures: runs.iter().map(|r| r.failures).sum(),
            ttfe: runs.iter().flat_map(|r| r.ttfe.iter().copied()).collect(),
            events_per_s: percentile(&rates, 50.0),
            events: runs.iter().map(|r| r.events).sum(),
            cpu_us: runs.iter().map(|r| r.cpu_us).sum(),
            peak_rss_kib: runs.iter().map(|r| r.peak_rss_kib).max().unwrap_or(0),
        }
    }
}

impl Target {
    fn direct(fake: &str) -> Target {
        let agent = agent();
        let token: Value = agent
            .get(&format!("{fake}/copilot_internal/v2/token"))
            .header("authorization", format!("token {GITHUB_TOKEN}"))
            .call()
            .expect("token from the fake")
            .body_mut()
            .read_to_vec()
            .map(|b| serde_json::from_slice(&b).expect("token JSON"))
            .expect("token body");
        let token = token["token"].as_str().expect("token").to_string();
        Target {
            base: fake.to_string(),
            auth: Some(format!("Bearer {token}")),
            agent,
        }
    }

    fn proxy(url: &str) -> Target {
        Target {
            base: url.to_string(),
            auth: None,
            agent: agent(),
        }
    }

    fn post(
        &self,
        agent: &ureq::Agent,
        path: &str,
        body: &Value,
    ) -> Result<ureq::http::Response<ureq::Body>, String> {
        let mut rq = agent
            .post(&format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .header("anthropic-version", "2023-06-01");
        if let Some(a) = &self.auth {
            rq = rq.header("authorization", a);
        }
        let resp = rq.send(body.to_string()).map_err(|e| e.to_string())?;
        match resp.status().as_u16() {
            200 => Ok(resp),
            s => Err(format!("HTTP {s} from {path}")),
        }
    }

    /// Latencies in ms of `n` sequential requests (after 50 unmeasured warm-up requests).
    fn sequential(&self, path: &str, body: &Value, n: usize) -> Vec<f64> {
        let mut out = Vec::with_capacity(n);
        for i in 0..n + 50 {
            let t = Instant::now();
            let mut resp = self.post(&self.agent, path, body).expect("request");
            let _ = resp.body_mut().read_to_vec();
            if i >= 50 {
                out.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        out
    }

    /// One stream read to its end: its total time.
    fn stream_once(&self, path: &str, body: &Value) -> StreamRun {
        let t = Instant::now();
        read_stream(self.post(&self.agent, path, body).expect("stream"), t).expect("stream body");
        StreamRun {
            total_ms: t.elapsed().as_secs_f64() * 1000.0,
        }
    }

    /// `n` streams at once (started over `n` x 0.5 ms): failures, time to first event,
    /// events per second over the wall time, and with a pid the proxy's CPU per event and
    /// peak RSS.
    fn concurrent(&self, (path, body): (&str, Value), n: usize, pid: Option<u32>) -> Concurrent {
        let results = Arc::new(Mutex::new(Vec::with_capacity(n)));
        let barrier = Arc::new(Barrier::new(n));
        let peak = Arc::new(Mutex::new(0u64));
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sampler = pid.map(|pid| {
            let (peak, done) = (peak.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let rss = rss_kib(pid, "VmRSS");
                    let mut p = peak.lock().unwrap();
                    *p = (*p).max(rss);
                    drop(p);
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        });
        let cpu = pid.map(Cpu::of);
        let started = Instant::now();
        let body = Arc::new(body);
        let threads: Vec<_> = (0..n)
            .map(|i| {
                let (results, barrier, body) = (results.clone(), barrier.clone(), body.clone());
                let (base, auth, path) = (self.base.clone(), self.auth.clone(), path.to_string());
                std::thread::Builder::new()
                    .stack_size(256 * 1024)
                    .spawn(move || {
                        barrier.wait();
                        // Ramp up: connects in the same instant only measure the kernel's
                        // listen backlog, direct or not.
                        std::thread::sleep(Duration::from_micros(500 * i as u64));
                        let t = Instant::now();
                        let target = Target {
                            base,
                            auth,
                            agent: agent(),
                        };
                        let outcome = target
                            .post(&target.agent, &path, &body)
                            .and_then(|resp| read_stream(resp, t));
                        results.lock().unwrap().push(outcome);
                    })
                    .expect("thread")
            })
            .collect();
        for t in threads {
            let _ = t.join();
        }
        let wall = started.elapsed().as_secs_f64();
        let cpu_us = cpu.map_or(0.0, |c| c.elapsed_us());
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(s) = sampler {
            let _ = s.join();
        }
        let results = results.lock().unwrap();
        let ok: Vec<&(f64, usize)> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        let events: usize = ok.iter().map(|(_, e)| e).sum();
        Concurrent {
            failures: n - ok.len(),
            ttfe: ok.iter().map(|(t, _)| *t).collect(),
            events_per_s: events as f64 / wall,
            events,
            cpu_us,
            peak_rss_kib: *peak.lock().unwrap(),
        }
    }
}

/// Reads an SSE body to its end: the time to the first event (ms since `t`) and the
/// number of events (`data:` lines but `[DONE]`).
fn read_stream(resp: ureq::http::Response<ureq::Body>, t: Instant) -> Result<(f64, usize), String> {
    let (mut first, mut events) = (None, 0);
    for line in BufReader::new(resp.into_body().into_reader()).lines() {
        let line = line.map_err(|e| e.to_string())?;
        if line.starts_with("data: ") && line != "data: [DONE]" {
            first.get_or_insert_with(|| t.elapsed().as_secs_f64() * 1000.0);
            events += 1;
        }
    }
    match first {
        Some(first) => Ok((first, events)),
        None => Err("a stream without events".into()),
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .new_agent()
}

fn chat_body(text: &str) -> Value {
    json!({"model": MODEL, "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": text}
    ]})
}

fn messages_body(text: &str) -> Value {
    json!({"model": MODEL, "max_tokens": 1024, "system": "You are a helpful assistant.",
           "messages": [{"role": "user", "content": text}]})
}

fn chat_stream(model: &str, prompt: &str) -> Value {
    json!({"model": model, "stream": true, "messages": [{"role": "user", "content": prompt}]})
}

fn messages_stream(model: &str, prompt: &str) -> Value {
    json!({"model": model, "max_tokens": 1024, "stream": true,
           "messages": [{"role": "user", "content": prompt}]})
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[rank.min(v.len() - 1)]
}
