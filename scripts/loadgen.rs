//! The benchmark's load generator (`cargo run --release --example loadgen`, driven by
//! `scripts/bench`). It starts copilot-api against an already running fake upstream, then
//! measures every figure of DESIGN.md §6 twice, straight against the fake ("direct") and
//! through the proxy, and prints each pair and their ratio as a table and as JSON.
//!
//! Loopback only; every loop is bounded in count and time.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const GITHUB_TOKEN: &str = "gho_fake_github_token";
const MODEL: &str = "gpt-4.1";

struct Args {
    bin: String,
    fake: String,
    requests: usize,
    streams: usize,
    stream_events: usize,
}

fn main() {
    let mut args = pico_args::Arguments::from_env();
    let a = Args {
        bin: args
            .value_from_str("--bin")
            .expect("--bin PATH of copilot-api"),
        fake: args
            .value_from_str("--fake")
            .expect("--fake URL of the fake upstream"),
        requests: args
            .opt_value_from_str("--requests")
            .unwrap()
            .unwrap_or(500),
        streams: args.opt_value_from_str("--streams").unwrap().unwrap_or(500),
        stream_events: args
            .opt_value_from_str("--stream-events")
            .unwrap()
            .unwrap_or(5000),
    };
    let mut rows: Vec<Row> = Vec::new();

    let startup: Vec<f64> = (0..5).map(|_| Proxy::start(&a).startup_ms).collect();
    let proxy = Proxy::start(&a);
    std::thread::sleep(Duration::from_millis(300));
    let idle_rss = rss_kib(proxy.child.id(), "VmRSS");
    let direct = Target::direct(&a.fake);
    let through = Target::proxy(&proxy.url);

    let chat = chat_body(&"Say hi. ".repeat(4));
    let (d, p) = (
        direct.sequential(&chat, false, a.requests),
        through.sequential(&chat, false, a.requests),
    );
    rows.push(Row::latency(
        "chat non-stream latency p50 (ms)",
        percentile(&d, 50.0),
        percentile(&p, 50.0),
    ));
    rows.push(Row::latency(
        "chat non-stream latency p99 (ms)",
        percentile(&d, 99.0),
        percentile(&p, 99.0),
    ));

    let text = "Please review this function and explain what it does. ".repeat(180);
    let (chat10k, messages10k) = (chat_body(&text), messages_body(&text));
    let d = direct.sequential(&chat10k, false, a.requests);
    let p = through.sequential(&messages10k, true, a.requests);
    rows.push(Row::latency(
        "10 KB /v1/messages translated p50 (ms)",
        percentile(&d, 50.0),
        percentile(&p, 50.0),
    ));
    rows.push(Row::latency(
        "10 KB /v1/messages translated p99 (ms)",
        percentile(&d, 99.0),
        percentile(&p, 99.0),
    ));

    let marker = format!("scenario:many:{}", a.stream_events);
    let (d, p) = (direct.stream_once(&marker), through.stream_once(&marker));
    rows.push(Row::ratio(
        &format!("{}-event stream relay time (ms)", a.stream_events),
        d.total_ms,
        p.total_ms,
    ));
    let marker = "scenario:slow:2:500";
    let (d, p) = (direct.stream_once(marker), through.stream_once(marker));
    rows.push(Row::latency(
        "per-event latency p50 (ms)",
        percentile(&d.event_ms, 50.0),
        percentile(&p.event_ms, 50.0),
    ));
    rows.push(Row::latency(
        "per-event latency p99 (ms)",
        percentile(&d.event_ms, 99.0),
        percentile(&p.event_ms, 99.0),
    ));

    let d = direct.concurrent(a.streams, None);
    let p = through.concurrent(a.streams, Some(proxy.child.id()));
    rows.push(Row::plain(
        &format!("{} concurrent streams: failures", a.streams),
        d.failures as f64,
        p.failures as f64,
    ));
    rows.push(Row::latency(
        "concurrent: time to first event p50 (ms)",
        percentile(&d.ttfe, 50.0),
        percentile(&p.ttfe, 50.0),
    ));
    rows.push(Row::latency(
        "concurrent: time to first event p99 (ms)",
        percentile(&d.ttfe, 99.0),
        percentile(&p.ttfe, 99.0),
    ));
    rows.push(Row::ratio(
        "concurrent: throughput (events/s)",
        d.events_per_s,
        p.events_per_s,
    ));
    rows.push(Row::single("idle RSS (MiB)", idle_rss as f64 / 1024.0));
    rows.push(Row::single(
        &format!("peak RSS, {} streams (MiB)", a.streams),
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
        "{:<44} {:>12} {:>12} {:>10} {:>8}",
        "figure", "direct", "proxy", "added", "ratio"
    );
    let mut json_rows = Vec::new();
    for r in rows {
        let ratio = r.direct.filter(|d| *d > 0.0).map(|d| r.proxy / d);
        let added = r.direct.filter(|_| r.added).map(|d| r.proxy - d);
        let cell = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
        println!(
            "{:<44} {:>12} {:>12.3} {:>10} {:>8}",
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
                &(a.streams * 2).to_string(),
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
    chat_url: String,
    messages_url: String,
    auth: Option<String>,
    agent: ureq::Agent,
}

struct StreamRun {
    total_ms: f64,
    event_ms: Vec<f64>,
}

struct Concurrent {
    failures: usize,
    ttfe: Vec<f64>,
    events_per_s: f64,
    peak_rss_kib: u64,
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
            chat_url: format!("{fake}/chat/completions"),
            messages_url: String::new(),
            auth: Some(format!("Bearer {token}")),
            agent,
        }
    }

    fn proxy(url: &str) -> Target {
        Target {
            chat_url: format!("{url}/v1/chat/completions"),
            messages_url: format!("{url}/v1/messages"),
            auth: None,
            agent: agent(),
        }
    }

    fn post(
        &self,
        agent: &ureq::Agent,
        url: &str,
        body: &Value,
    ) -> ureq::http::Response<ureq::Body> {
        let mut rq = agent.post(url).header("content-type", "application/json");
        if let Some(a) = &self.auth {
            rq = rq.header("authorization", a);
        }
        rq.send(body.to_string()).expect("request")
    }

    /// Latencies in ms of `n` sequential requests (after 50 unmeasured warm-up requests).
    fn sequential(&self, body: &Value, messages: bool, n: usize) -> Vec<f64> {
        let url = if messages {
            &self.messages_url
        } else {
            &self.chat_url
        };
        let mut out = Vec::with_capacity(n);
        for i in 0..n + 50 {
            let t = Instant::now();
            let mut resp = self.post(&self.agent, url, body);
            let status = resp.status().as_u16();
            let _ = resp.body_mut().read_to_vec();
            assert_eq!(status, 200, "{url}");
            if i >= 50 {
                out.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        out
    }

    /// One streaming request: total time to `[DONE]`, and each event's delay from the
    /// fake's send stamp (`fake_sent_us`) to its arrival here.
    fn stream_once(&self, marker: &str) -> StreamRun {
        let t = Instant::now();
        let resp = self.post(&self.agent, &self.chat_url, &stream_body(marker));
        let mut event_ms = Vec::new();
        for line in BufReader::new(resp.into_body().into_reader()).lines() {
            let line = line.expect("stream line");
            let Some(data) = line.strip_prefix("data: ") else {
                continue;
            };
            if data == "[DONE]" {
                break;
            }
            // Only stamped events are parsed, so that the client's own cost stays low when
            // the relay time of an unstamped stream is measured.
            if data.contains("fake_sent_us") {
                if let Some(sent) = serde_json::from_str::<Value>(data)
                    .ok()
                    .as_ref()
                    .and_then(sent_us)
                {
                    event_ms.push(now_us().saturating_sub(sent) as f64 / 1000.0);
                }
            }
        }
        StreamRun {
            total_ms: t.elapsed().as_secs_f64() * 1000.0,
            event_ms,
        }
    }

    /// `n` streams at once (started over 250 ms), each 20 events 50 ms apart; with a pid,
    /// samples its peak RSS.
    fn concurrent(&self, n: usize, pid: Option<u32>) -> Concurrent {
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
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        });
        let started = Instant::now();
        let threads: Vec<_> = (0..n)
            .map(|i| {
                let (results, barrier) = (results.clone(), barrier.clone());
                let (url, auth) = (self.chat_url.clone(), self.auth.clone());
                std::thread::Builder::new()
                    .stack_size(256 * 1024)
                    .spawn(move || {
                        barrier.wait();
                        // Ramp up over a quarter second: 500 connects in the same instant
                        // only measure the kernel's listen backlog (128), direct or not.
                        std::thread::sleep(Duration::from_micros(500 * i as u64));
                        let t = Instant::now();
                        let target = Target {
                            chat_url: url,
                            messages_url: String::new(),
                            auth,
                            agent: agent(),
                        };
                        let outcome = target.one_concurrent_stream(t);
                        results.lock().unwrap().push(outcome);
                    })
                    .expect("thread")
            })
            .collect();
        for t in threads {
            let _ = t.join();
        }
        let wall = started.elapsed().as_secs_f64();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(s) = sampler {
            let _ = s.join();
        }
        let results = results.lock().unwrap();
        let ok: Vec<&(f64, usize)> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        let events: usize = ok.iter().map(|(_, e)| e).sum();
        let peak_rss_kib = pid.map_or(0, |pid| rss_kib(pid, "VmHWM").max(*peak.lock().unwrap()));
        Concurrent {
            failures: n - ok.len(),
            ttfe: ok.iter().map(|(t, _)| *t).collect(),
            events_per_s: events as f64 / wall,
            peak_rss_kib,
        }
    }

    /// Time to the first content event (ms) and the events seen, or why it failed.
    fn one_concurrent_stream(&self, t: Instant) -> Result<(f64, usize), String> {
        let mut rq = self
            .agent
            .post(&self.chat_url)
            .header("content-type", "application/json");
        if let Some(a) = &self.auth {
            rq = rq.header("authorization", a);
        }
        let resp = rq
            .send(stream_body("scenario:slow:50:20").to_string())
            .map_err(|e| e.to_string())?;
        if resp.status() != 200 {
            return Err(format!("HTTP {}", resp.status()));
        }
        let (mut first, mut events, mut done) = (None, 0, false);
        for line in BufReader::new(resp.into_body().into_reader()).lines() {
            let line = line.map_err(|e| e.to_string())?;
            if line == "data: [DONE]" {
                done = true;
                break;
            }
            if line.contains("fake_sent_us") {
                first.get_or_insert_with(|| t.elapsed().as_secs_f64() * 1000.0);
                events += 1;
            }
        }
        match (first, done && events == 20) {
            (Some(first), true) => Ok((first, events)),
            _ => Err(format!("incomplete stream: {events} events, done={done}")),
        }
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

fn stream_body(marker: &str) -> Value {
    json!({"model": MODEL, "stream": true, "messages": [{"role": "user", "content": format!("Count. {marker}")}]})
}

/// The fake's send stamp, a number or a string of digits.
fn sent_us(v: &Value) -> Option<u64> {
    let stamp = &v["fake_sent_us"];
    stamp.as_u64().or_else(|| stamp.as_str()?.parse().ok())
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
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
