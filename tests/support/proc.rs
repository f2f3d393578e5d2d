//! Runs the real `copilot-api` binary against the fake upstream: a long-running `start`
//! (`Proxy`), one-shot commands (`run_cli`), and the HTTP client helpers tests use on it.
//!
//! Every child gets a clean environment for what the binary reads (tokens, API keys,
//! proxies) and a fresh `HOME`, so tests run in parallel without sharing a token file and a
//! developer's own `GH_TOKEN` or `HTTPS_PROXY` never leaks into a run.

use super::fake::{Fake, GITHUB_TOKEN};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_copilot-api");

/// How long `Proxy::start` waits for the ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a one-shot command may run before it is killed.
const CLI_TIMEOUT: Duration = Duration::from_secs(20);
/// The ready line's marker; `s://` (HTTPS) or `://`, then the bound `host:port`, follow it.
const READY_MARKER: &str = "listening on http";

/// Inherited variables the binary reads that would change its behaviour.
const SCRUBBED_ENV: &[&str] = &[
    "TAVILY_API_KEY",
    "BRAVE_API_KEY",
    "TAVILY_BASE_URL",
    "BRAVE_BASE_URL",
    "GH_TOKEN",
    "GITHUB_TOKEN",
    "COPILOT_API_KEY",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "XDG_DATA_HOME",
    "TLS_CERT",
    "TLS_KEY",
];

/// A fresh directory under the system temp dir, removed with everything in it on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "copilot-api-it-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// `GITHUB_URL`, `GITHUB_API_URL` and `COPILOT_API_BASE_URL`, all pointing at the fake.
pub fn upstream_env(fake: &Fake) -> Vec<(&'static str, &str)> {
    vec![
        ("GITHUB_URL", fake.url.as_str()),
        ("GITHUB_API_URL", fake.url.as_str()),
        ("COPILOT_API_BASE_URL", fake.url.as_str()),
    ]
}

/// The binary with a scrubbed environment, `HOME` set, then `env` applied in order (later
/// pairs win; an empty value unsets the variable).
fn command(args: &[&str], env: &[(&str, &str)], home: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(home).env("HOME", home);
    for name in SCRUBBED_ENV {
        cmd.env_remove(name);
    }
    // Every flag has a COPILOT_API_<FLAG> variable: none may leak in from the caller.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("COPILOT_API_") {
            cmd.env_remove(name);
        }
    }
    for (k, v) in env {
        if v.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Copies each line of `from` into `into` until EOF.
fn collect_lines(from: impl Read + Send + 'static, into: Arc<Mutex<Vec<String>>>) {
    std::thread::Builder::new()
        .name("proxy-output".into())
        .spawn(move || {
            for line in BufReader::new(from).lines() {
                match line {
                    Ok(line) => into.lock().unwrap().push(line),
                    Err(_) => return,
                }
            }
        })
        .expect("spawn output reader");
}

/// A running `copilot-api start --port 0 ...`, killed on drop.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`, usable whatever address the binary bound.
    pub url: String,
    /// `host:port` exactly as the ready line printed it.
    pub addr: String,
    /// The child's `HOME`.
    pub home: TempDir,
    child: Child,
    output: Arc<Mutex<Vec<String>>>,
    /// Typed on the proxy's terminal (`start_on_terminal` only).
    terminal: Mutex<Option<std::process::ChildStdin>>,
}

impl Proxy {
    /// Starts with a fresh `HOME`, `GH_TOKEN` set to the fake's token (pass `("GH_TOKEN", "")`
    /// to unset it) and every upstream URL pointing at `fake`.
    pub fn start(fake: &Fake, args: &[&str], env: &[(&str, &str)]) -> Proxy {
        Proxy::start_in(TempDir::new(), fake, args, env)
    }

    /// As `start`, with a `HOME` the test prepared (e.g. holding a token file).
    pub fn start_in(home: TempDir, fake: &Fake, args: &[&str], env: &[(&str, &str)]) -> Proxy {
        Proxy::launch(home, fake, args, env, false)
    }

    /// As `start`, with standard input on a pseudo-terminal (`--manual` asks there), held by
    /// the python3 helper `pty_run.py`; `type_line` types on it.
    pub fn start_on_terminal(fake: &Fake, args: &[&str]) -> Proxy {
        Proxy::launch(TempDir::new(), fake, args, &[], true)
    }

    /// Types `line` and Enter on the terminal of a `start_on_terminal` proxy.
    pub fn type_line(&self, line: &str) {
        let mut terminal = self.terminal.lock().unwrap();
        let terminal = terminal.as_mut().expect("started on a terminal");
        terminal
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| terminal.flush())
            .expect("type on the terminal");
    }

    fn launch(
        home: TempDir,
        fake: &Fake,
        args: &[&str],
        env: &[(&str, &str)],
        terminal: bool,
    ) -> Proxy {
        let mut all_env = upstream_env(fake);
        all_env.push(("GH_TOKEN", GITHUB_TOKEN));
        all_env.extend_from_slice(env);
        let mut all_args = vec!["start", "--port", "0"];
        all_args.extend_from_slice(args);
        let mut cmd = command(&all_args, &all_env, home.path());
        if terminal {
            let helper = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/pty_run.py");
            let program = cmd.get_program().to_owned();
            let mut wrapped = Command::new("python3");
            wrapped.arg(helper).arg(program).args(cmd.get_args());
            wrapped.current_dir(home.path());
            for (k, v) in cmd.get_envs() {
                match v {
                    Some(v) => wrapped.env(k, v),
                    None => wrapped.env_remove(k),
                };
            }
            wrapped
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            cmd = wrapped;
        }
        let mut child = cmd.spawn().expect("spawn copilot-api");
        let terminal = Mutex::new(child.stdin.take());
        let output = Arc::new(Mutex::new(Vec::new()));
        collect_lines(child.stdout.take().unwrap(), output.clone());
        collect_lines(child.stderr.take().unwrap(), output.clone());
        let mut proxy = Proxy {
            url: String::new(),
            addr: String::new(),
            home,
            child,
            output,
            terminal,
        };
        proxy.addr = proxy.wait_ready();
        let port = proxy
            .addr
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_string();
        proxy.url = format!("http://127.0.0.1:{port}");
        proxy
    }

    fn wait_ready(&mut self) -> String {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let found = self.output().iter().find_map(|line| {
                let rest = line.split(READY_MARKER).nth(1)?;
                let rest = rest.trim_start_matches('s').strip_prefix("://")?;
                // Text logs end the address at a space, JSON logs at the closing quote.
                rest.split(|c: char| c.is_whitespace() || c == '"')
                    .next()
                    .map(str::to_string)
            });
            if let Some(addr) = found {
                return addr;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the readers drain what the child wrote before it exited.
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "copilot-api exited ({status}) before listening:\n{}",
                    self.output().join("\n")
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "copilot-api did not print {READY_MARKER:?} within {READY_TIMEOUT:?}:\n{}",
                    self.output().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Every stdout and stderr line so far, interleaved as read.
    pub fn output(&self) -> Vec<String> {
        self.output.lock().unwrap().clone()
    }

    /// The process id, to read its threads and file descriptors from `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Threads and open file descriptors of the process now.
    pub fn threads_and_fds(&self) -> (usize, usize) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let threads = status
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        let fds = std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0);
        (threads, fds)
    }

    /// Resident memory of the process now, in KiB.
    pub fn rss_kib(&self) -> usize {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// Waits (up to `timeout`) until threads and descriptors are back at `idle` or below;
    /// returns the last values seen.
    pub fn settle_to(&self, idle: (usize, usize), timeout: Duration) -> (usize, usize) {
        let deadline = Instant::now() + timeout;
        loop {
            let now = self.threads_and_fds();
            if (now.0 <= idle.0 && now.1 <= idle.1) || Instant::now() > deadline {
                return now;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `self.url` + `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

impl Proxy {
    /// Sends `signal` (`TERM`, `INT`) to the process, as `kill -SIGNAL` does.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// The exit code once the process has exited within `timeout` (-1 for a signal), or
    /// None if it is still running then.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.code().unwrap_or(-1));
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a one-shot command (stdin closed) and returns its exit code (-1 when killed by
/// the timeout or a signal), stdout and stderr.
pub fn run_cli(args: &[&str], env: &[(&str, &str)], home: &Path) -> (i32, String, String) {
    let mut child = command(args, env, home).spawn().expect("spawn copilot-api");
    let read_all = |mut from: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = from.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let stdout = read_all(Box::new(child.stdout.take().unwrap()));
    let stderr = read_all(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + CLI_TIMEOUT;
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait for copilot-api") {
            break status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break -1;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    (code, stdout.join().unwrap(), stderr.join().unwrap())
}

/// Polls `cond` every 20 ms until it holds (true) or `timeout` passes (false).
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An HTTP response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    /// Names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    /// The body as JSON; panics with the body text when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body is not JSON ({e}): {:?}",
                self.status,
                self.text()
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        // Tests talk to loopback only; never through a proxy from the environment.
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .new_agent()
}

fn into_resp(url: &str, result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Resp {
    let resp = result.unwrap_or_else(|e| panic!("request to {url} failed: {e}"));
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = resp
        .into_body()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap_or_else(|e| panic!("reading the body from {url} failed: {e}"));
    Resp {
        status,
        headers,
        body,
    }
}

pub fn get(url: &str, headers: &[(&str, &str)]) -> Resp {
    let mut rq = agent().get(url);
    for (k, v) in headers {
        rq = rq.header(*k, *v);
    }
    into_resp(url, rq.call())
}

/// Waits (up to 5 s: the access log and the metrics are written just after the answer)
/// until `/metrics` holds every line of `expected`, and fails naming the first one missing;
/// returns the page.
pub fn assert_metrics(proxy: &Proxy, expected: &[&str]) -> String {
    let mut text = String::new();
    wait_until(Duration::from_secs(5), || {
        text = get(&proxy.at("/metrics"), &[]).text();
        expected.iter().all(|line| text.contains(line))
    });
    for line in expected {
        assert!(text.contains(line), "missing {line}:\n{text}");
    }
    text
}

pub fn delete(url: &str, headers: &[(&str, &str)]) -> Resp {
    let mut rq = agent().delete(url);
    for (k, v) in headers {
        rq = rq.header(*k, *v);
    }
    into_resp(url, rq.call())
}

pub fn post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let mut rq = agent().post(url);
    for (k, v) in headers {
        rq = rq.header(*k, *v);
    }
    into_resp(url, rq.send(body))
}

/// Writes `bytes` as they are to `addr` (`host:port`, or a `http://` URL) and returns all
/// the server sent back until it closed the connection or went quiet for 10 s. The write
/// runs on its own thread, so a server that answers before reading the whole request is
/// still heard.
pub fn raw_request(addr: &str, bytes: &[u8]) -> String {
    let addr = addr.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set read timeout");
    let mut writer = stream.try_clone().expect("clone stream");
    let bytes = bytes.to_vec();
    let write = std::thread::spawn(move || {
        let _ = writer.write_all(&bytes);
        let _ = writer.flush();
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let _ = write.join();
    String::from_utf8_lossy(&got).into_owned()
}

/// Parses what `raw_request` returned (one response; `Content-Length` or chunked body).
pub fn parse_raw(raw: &str) -> Resp {
    let (head, rest) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete response head in {raw:?}"));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {raw:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut resp = Resp {
        status,
        headers,
        body: Vec::new(),
    };
    resp.body = if resp
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        dechunk(rest)
    } else if let Some(len) = resp.header("content-length").and_then(|v| v.parse().ok()) {
        rest.as_bytes()[..rest.len().min(len)].to_vec()
    } else {
        rest.as_bytes().to_vec()
    };
    resp
}

fn dechunk(mut rest: &str) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16);
        let Ok(size) = size else { break };
        if size == 0 || tail.len() < size {
            break;
        }
        out.extend_from_slice(&tail.as_bytes()[..size]);
        rest = tail[size..].trim_start_matches("\r\n");
    }
    out
}
