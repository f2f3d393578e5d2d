//! The dashboard in a real headless Chromium (Debian's `chromium`; `scripts/test` installs
//! it): quotas, limits and recent requests rendered from the fake upstream's data, a
//! hostile model name shown as text, the API-key prompt, and, from Chromium's own network
//! log, no request from the page to any host but the proxy.

use crate::support::{Fake, Proxy, TempDir, get, wait_until};
use crate::{chat_request, post_chat, post_json};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const HOSTILE: &str = "<img src=x onerror=alert(1)>";

fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|p| p.is_file())
        .expect("Chromium is needed for the dashboard tests: `apt-get install chromium` (scripts/test does it)")
}

/// Loads `url` in a fresh headless Chromium, lets its script run for a few seconds of
/// virtual time, and returns the DOM and the network log. Every host name but the
/// loopback address fails to resolve, so the browser's own background traffic cannot
/// reach the internet either.
fn load(url: &str, dir: &Path, extra: &[&str]) -> (String, Value) {
    let netlog = dir.join("net.json");
    let mut args = vec![
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--no-first-run".into(),
        format!("--user-data-dir={}", dir.join("profile").display()),
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1".into(),
        "--virtual-time-budget=4000".into(),
        format!("--log-net-log={}", netlog.display()),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    args.extend(["--dump-dom".into(), url.into()]);
    let out = Command::new(chromium())
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::read_to_string(&netlog).expect("chromium's network log");
    let log = serde_json::from_str(&log).expect("the network log is JSON");
    (String::from_utf8_lossy(&out.stdout).into_owned(), log)
}

/// `(initiator, url)` of every request Chromium started.
fn requests(netlog: &Value) -> Vec<(String, String)> {
    let start_job = netlog["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].clone();
    netlog["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == start_job && e["params"]["url"].is_string())
        .map(|e| {
            let p = &e["params"];
            let s = |k: &str| p[k].as_str().unwrap_or_default().to_string();
            (s("initiator"), s("url"))
        })
        .collect()
}

/// The page asked for nothing but the proxy, and did ask it for its data.
fn assert_only_the_proxy(netlog: &Value, proxy: &Proxy) {
    let all = requests(netlog);
    let from_page: Vec<&(String, String)> =
        all.iter().filter(|(i, _)| i != "not an origin").collect();
    assert!(
        from_page
            .iter()
            .any(|(_, u)| *u == proxy.at("/dashboard/data")),
        "the page fetched its data: {all:#?}"
    );
    for (initiator, url) in from_page {
        assert_eq!(initiator, &proxy.url, "{url} {all:#?}");
        assert!(
            url.starts_with(&format!("{}/", proxy.url)),
            "page request to {url}"
        );
    }
}

fn recorded(proxy: &Proxy, count: usize) {
    let ok = wait_until(Duration::from_secs(5), || {
        let v = get(&proxy.at("/dashboard/data"), &[]).json();
        v["recent"].as_array().is_some_and(|r| r.len() >= count)
    });
    assert!(ok, "{count} requests recorded");
}

#[test]
fn dashboard_renders_quotas_limits_and_requests_with_values_as_text() {
    let fake = Fake::start();
    fake.set_limit_headers(&[("x-usage-ratelimit-session", "rem=75.5&rst=1796400000")]);
    let proxy = Proxy::start(&fake, &[], &[]);
    post_chat(&proxy, "claude-sonnet-4.5", "hi", true);
    post_json(
        &proxy,
        "/v1/chat/completions",
        &[],
        &chat_request(HOSTILE, "hi", false),
    );
    let responses = json!({"model": "gpt-5.2-codex", "input": "hi", "stream": true});
    post_json(&proxy, "/v1/responses", &[], &responses);
    recorded(&proxy, 3);
    let page = get(&proxy.at("/dashboard"), &[]);
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );

    let dir = TempDir::new();
    let mut extra = vec!["--window-size=1280,1100".to_string()];
    // `DASHBOARD_SCREENSHOT=docs/dashboard.png` refreshes the README's picture.
    if let Ok(shot) = std::env::var("DASHBOARD_SCREENSHOT") {
        extra.push(format!("--screenshot={shot}"));
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let (dom, netlog) = load(&proxy.at("/dashboard"), dir.path(), &extra);
    for text in [
        "plan: individual",
        "Quotas reset on 2026-12-01",
        "38 / 300 used",
        "12.7% used, 262 remaining",
        "Unlimited",
        "75.5% remaining",
        "not reported yet",
        "0.25 credits, 1 premium",
        "12 / 5 / 0",
        "claude-sonnet-4.5",
        "completed",
        // The hostile name, serialized back as text: it never became an element.
        "&lt;img src=x onerror=alert(1)&gt;",
    ] {
        assert!(dom.contains(text), "missing {text:?} in\n{dom}");
    }
    assert_eq!(dom.matches("<tr class=\"request\">").count(), 3, "{dom}");
    assert!(!dom.contains("<img"), "{dom}");
    assert!(dom.contains("<form id=\"key-form\" hidden=\"\">"), "{dom}");
    assert_only_the_proxy(&netlog, &proxy);
}

#[test]
fn dashboard_asks_for_the_api_key_and_the_data_needs_it() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--api-key", "sk-page"], &[]);
    // The start-up banner names the dashboard and the client settings, never the key.
    let banner = proxy.output().join("\n");
    assert!(
        banner.contains(&format!("dashboard: {}/dashboard", proxy.url)),
        "{banner}"
    );
    assert!(
        banner.contains("ANTHROPIC_AUTH_TOKEN=<your API key>"),
        "{banner}"
    );
    assert!(
        banner.contains(&format!("base_url=\"{}/v1\"", proxy.url)),
        "{banner}"
    );
    assert!(!banner.contains("sk-page"), "{banner}");
    assert_eq!(
        get(&proxy.at("/dashboard"), &[]).status,
        200,
        "the page is public"
    );
    assert_eq!(get(&proxy.at("/dashboard/app.js"), &[]).status, 200);
    assert_eq!(get(&proxy.at("/dashboard/data"), &[]).status, 401);
    let bearer = [("authorization", "Bearer sk-page")];
    assert_eq!(get(&proxy.at("/dashboard/data"), &bearer).status, 200);
    let dir = TempDir::new();
    let (dom, netlog) = load(&proxy.at("/dashboard"), dir.path(), &[]);
    assert!(
        dom.contains("<form id=\"key-form\">"),
        "the prompt shows: {dom}"
    );
    assert!(dom.contains("API key required"), "{dom}");
    assert!(dom.contains("<div id=\"content\" hidden=\"\">"), "{dom}");
    assert_only_the_proxy(&netlog, &proxy);
}

/// Drives Chromium over the DevTools protocol (`--remote-debugging-pipe`, fds 3 and 4):
/// waits for the key prompt, submits a wrong key (the page must say so), then the right
/// one, waits for the quotas, and prints `{"wrong": ..., "state": {"form": hidden, "text"}}`.
const DEVTOOLS_DRIVER: &str = r#"
import json, os, subprocess, sys, time
chrome, url, key, profile = sys.argv[1:5]
r3, w3 = os.pipe()
r4, w4 = os.pipe()
def child():
    os.dup2(r3, 3)
    os.dup2(w4, 4)
p = subprocess.Popen([chrome, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + profile,
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--remote-debugging-pipe", "about:blank"],
    pass_fds=(3, 4), preexec_fn=child, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
os.close(r3); os.close(w4)
buf = b""
next_id = 0
def call(method, params=None, session=None):
    global buf, next_id
    next_id += 1
    msg = {"id": next_id, "method": method, "params": params or {}}
    if session: msg["sessionId"] = session
    os.write(w3, json.dumps(msg).encode() + b"\0")
    deadline = time.time() + 20
    while time.time() < deadline:
        while b"\0" in buf:
            raw, buf = buf.split(b"\0", 1)
            m = json.loads(raw)
            if m.get("id") == next_id:
                if "error" in m: raise SystemExit("CDP error: %r" % m["error"])
                return m["result"]
        buf += os.read(r4, 65536)
    raise SystemExit("CDP timeout on " + method)
def main():
    global session
    target = call("Target.createTarget", {"url": url})["targetId"]
    session = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    def js(expr):
        r = call("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session)
        return r["result"].get("value")
    def until(expr, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if js(expr): return True
            time.sleep(0.1)
        raise SystemExit("timed out waiting for: " + expr)
    until("document.readyState === 'complete' && !document.getElementById('key-form').hidden")
    js("document.getElementById('key').value = 'wrong'; document.getElementById('key-form').requestSubmit(); true")
    until("document.getElementById('key-error').textContent !== ''")
    wrong = js("document.getElementById('key-error').textContent")
    js("document.getElementById('key').value = %s; document.getElementById('key-form').requestSubmit(); true" % json.dumps(key))
    until("!document.getElementById('content').hidden && document.querySelectorAll('.quota').length === 3")
    state = js("JSON.stringify({form: document.getElementById('key-form').hidden, text: document.body.innerText})")
    print(json.dumps({"wrong": wrong, "state": json.loads(state)}))
    try: call("Browser.close")
    except SystemExit: pass
try:
    main()
finally:
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
"#;

#[test]
fn dashboard_key_prompt_sends_the_key_and_renders_the_data() {
    let fake = Fake::start();
    let key = "sk-dashboard \"key\"";
    let proxy = Proxy::start(&fake, &["--api-key", key], &[]);
    let dir = TempDir::new();
    let profile = dir.path().join("profile");
    let out = Command::new("python3")
        .arg("-c")
        .arg(DEVTOOLS_DRIVER)
        .arg(chromium())
        .arg(proxy.at("/dashboard"))
        .arg(key)
        .arg(&profile)
        .stdin(Stdio::null())
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(v["wrong"], "That key was not accepted.", "{v}");
    assert_eq!(v["state"]["form"], true, "the prompt is gone: {v}");
    let page = v["state"]["text"].as_str().unwrap();
    assert!(
        page.contains("38 / 300 used") && page.contains("plan: individual"),
        "{page}"
    );
    // The proxy saw the data asked for without a key, with the wrong one, then with it.
    let log = proxy.output();
    let data: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("GET /dashboard/data"))
        .collect();
    assert!(
        data.iter().filter(|l| l.contains(" 401 ")).count() >= 2,
        "{data:#?}"
    );
    assert!(data.iter().any(|l| l.contains(" 200 ")), "{data:#?}");
}
