//! Issue #11, rate limits: the interval limiter as a FIFO queue (`--rate-limit --wait`) and
//! its 429 in each API's shape, the burst window, `--max-wait`, and a queued client that
//! hangs up, all seen from both ends: what the client got and when Copilot got what.

use super::{assert_anthropic_error, assert_openai_error, chat_request, post_chat, post_json};
use crate::support::{Fake, Proxy, Recorded, get, wait_until};
use serde_json::json;
use std::io::Write;
use std::time::{Duration, Instant};

/// Every completion request Copilot received, in arrival order.
fn completions(fake: &Fake) -> Vec<Recorded> {
    fake.requests()
        .into_iter()
        .filter(|r| {
            matches!(
                r.path.as_str(),
                "/chat/completions" | "/v1/messages" | "/responses"
            )
        })
        .collect()
}

fn user_text(r: &Recorded) -> String {
    r.json()["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn metric(proxy: &Proxy, name: &str) -> Option<i64> {
    let text = get(&proxy.at("/metrics"), &[]).text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

/// The proxy started with these space-separated flags.
fn start_with(fake: &Fake, flags: &str) -> Proxy {
    let args: Vec<&str> = flags.split_whitespace().collect();
    Proxy::start(fake, &args, &[])
}

/// Sends a chat request on a raw connection and returns it unanswered, for a client that
/// goes away (drop the stream) while its request waits.
pub fn chat_on_raw_connection(proxy: &Proxy, model: &str, text: &str) -> std::net::TcpStream {
    let body = chat_request(model, text, false).to_string();
    let mut conn = std::net::TcpStream::connect(proxy.url.trim_start_matches("http://")).unwrap();
    write!(
        conn,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    conn
}

fn retry_after(resp: &crate::support::Resp) -> u64 {
    resp.header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("Retry-After in whole seconds: {:?}", resp.headers))
}

/// Posts one chat request per text, each on its own thread, the next only once the
/// previous one has passed the gate or queued at it (so the arrival order is certain even
/// on a loaded machine); returns the statuses in the same order.
fn post_in_order(proxy: &Proxy, fake: &Fake, model: &str, texts: &[&str]) -> Vec<u16> {
    let reached = || {
        completions(fake).len() as i64
            + metric(proxy, "copilot_api_limiter_queue_depth").unwrap_or(0)
    };
    let before = reached();
    std::thread::scope(|s| {
        let handles: Vec<_> = texts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let h = s.spawn(move || post_chat(proxy, model, text, false).status);
                let arrived = wait_until(Duration::from_secs(5), || reached() > before + i as i64);
                assert!(arrived, "request {text} never reached the gate");
                h
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn rate_limit_with_wait_admits_in_arrival_order_one_interval_apart() {
    let fake = Fake::start();
    let proxy = start_with(&fake, "--rate-limit 0.6 --wait");
    let statuses = post_in_order(&proxy, &fake, "gpt-4.1", &["first", "second", "third"]);
    assert_eq!(statuses, [200, 200, 200]);
    let got = completions(&fake);
    let order: Vec<String> = got.iter().map(user_text).collect();
    assert_eq!(order, ["first", "second", "third"], "FIFO");
    // Measured where the fake receives each request, so each gap also holds the difference
    // of two requests' trips from the gate to the fake (tens of ms on a loaded machine).
    for pair in got.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= Duration::from_millis(450) && gap < Duration::from_millis(1200),
            "admissions 0.6 s apart, not together: {gap:?}"
        );
    }
    assert_eq!(metric(&proxy, "copilot_api_limiter_waits_total"), Some(2));
    assert_eq!(metric(&proxy, "copilot_api_limiter_queue_depth"), Some(0));
    assert_eq!(
        metric(&proxy, "copilot_api_limiter_rejections_total"),
        Some(0)
    );
    let log = proxy.output().join("\n");
    assert!(log.contains("rate limit reached; queued"), "{log}");
}

#[test]
fn rate_limit_without_wait_answers_429_in_each_api_shape() {
    let fake = Fake::start();
    let proxy = start_with(&fake, "--rate-limit 30");
    assert_eq!(post_chat(&proxy, "gpt-4.1", "hi", false).status, 200);
    for path in ["/v1/chat/completions", "/chat/completions"] {
        let resp = post_json(&proxy, path, &[], &chat_request("gpt-4.1", "again", false));
        let error = assert_openai_error(&resp, 429, Some("rate_limit_error"));
        assert_eq!(error["code"], "rate_limit_exceeded");
        assert!((1..=30).contains(&retry_after(&resp)), "{:?}", resp.headers);
    }
    let message = json!({"model": "claude-sonnet-4.5", "max_tokens": 10,
                         "messages": [{"role": "user", "content": "again"}]});
    let resp = post_json(&proxy, "/v1/messages", &[], &message);
    assert_anthropic_error(&resp, 429, Some("rate_limit_error"));
    assert!(retry_after(&resp) >= 1);
    for path in ["/v1/responses", "/responses"] {
        let resp = post_json(
            &proxy,
            path,
            &[],
            &json!({"model": "gpt-5.2-codex", "input": "again"}),
        );
        let error = assert_openai_error(&resp, 429, Some("rate_limit_error"));
        assert_eq!(error["code"], "rate_limit_exceeded");
        assert!(retry_after(&resp) >= 1);
    }
    // Not limited: token counting and the model list.
    let count = post_json(&proxy, "/v1/messages/count_tokens", &[], &message);
    assert_eq!(count.status, 200, "{}", count.text());
    assert_eq!(get(&proxy.at("/v1/models"), &[]).status, 200);
    assert_eq!(
        completions(&fake).len(),
        1,
        "refused requests never reach Copilot"
    );
    assert_eq!(
        metric(&proxy, "copilot_api_limiter_rejections_total"),
        Some(5)
    );
}

#[test]
fn a_refused_request_does_not_move_the_clock() {
    let fake = Fake::start();
    let proxy = start_with(&fake, "--rate-limit 1");
    let t0 = Instant::now();
    assert_eq!(post_chat(&proxy, "gpt-4.1", "one", false).status, 200);
    std::thread::sleep(Duration::from_millis(500).saturating_sub(t0.elapsed()));
    assert_eq!(post_chat(&proxy, "gpt-4.1", "early", false).status, 429);
    // 1.1 s after the first admission, 0.6 s after the refusal: admitted.
    std::thread::sleep(Duration::from_millis(1100).saturating_sub(t0.elapsed()));
    assert_eq!(post_chat(&proxy, "gpt-4.1", "later", false).status, 200);
}

#[test]
fn burst_window_admits_n_at_once_and_the_next_after_the_window() {
    let fake = Fake::start();
    let proxy = start_with(&fake, "--burst-count 2 --burst-window 1");
    let statuses = post_in_order(&proxy, &fake, "gpt-4.1", &["a", "b", "c"]);
    assert_eq!(statuses, [200, 200, 200]);
    let got = completions(&fake);
    let order: Vec<String> = got.iter().map(user_text).collect();
    assert_eq!(order, ["a", "b", "c"]);
    assert!(
        got[1].at - got[0].at < Duration::from_millis(600),
        "two at once"
    );
    let third = got[2].at - got[0].at;
    assert!(
        third >= Duration::from_millis(950) && third < Duration::from_millis(1700),
        "the third once the first leaves the window: {third:?}"
    );
}

#[test]
fn burst_scope_model_keeps_models_apart_and_max_wait_refuses_at_once() {
    let fake = Fake::start();
    let proxy = start_with(
        &fake,
        "--burst-count 1 --burst-window 30 --burst-scope model --max-wait 1",
    );
    assert_eq!(post_chat(&proxy, "gpt-4.1", "one", false).status, 200);
    assert_eq!(
        post_chat(&proxy, "claude-sonnet-4.5", "other model", false).status,
        200
    );
    let t = Instant::now();
    let resp = post_chat(&proxy, "gpt-4.1", "two", false);
    assert!(
        t.elapsed() < Duration::from_millis(800),
        "refused at once, not after waiting"
    );
    assert_openai_error(&resp, 429, Some("rate_limit_error"));
    // It could come back when its wait would fit in --max-wait: about 29 s from now.
    let after = retry_after(&resp);
    assert!((27..=30).contains(&after), "{after}");
    assert_eq!(completions(&fake).len(), 2);
}

/// Model names the catalog lacks share one burst lane: a client inventing names cannot
/// grow the limiter's state (one lane per name, each kept for a window) without bound.
#[test]
fn burst_scope_model_puts_unknown_names_in_one_lane() {
    let fake = Fake::start();
    let proxy = start_with(
        &fake,
        "--burst-count 1 --burst-window 30 --burst-scope model --max-wait 1",
    );
    assert_ne!(
        post_chat(&proxy, "invented-model-1", "one", false).status,
        429
    );
    let resp = post_chat(&proxy, "invented-model-2", "two", false);
    assert_openai_error(&resp, 429, Some("rate_limit_error"));
    // A catalog model keeps its own lane.
    assert_eq!(post_chat(&proxy, "gpt-4.1", "three", false).status, 200);
    assert_eq!(completions(&fake).len(), 2);
}

#[test]
fn global_burst_scope_counts_every_model_together() {
    let fake = Fake::start();
    let proxy = start_with(&fake, "--burst-count 1 --burst-window 30 --max-wait 1");
    assert_eq!(post_chat(&proxy, "gpt-4.1", "one", false).status, 200);
    assert_eq!(
        post_chat(&proxy, "claude-sonnet-4.5", "other", false).status,
        429
    );
}

#[test]
fn a_queued_client_that_hangs_up_is_never_sent_upstream() {
    let fake = Fake::start();
    let proxy = start_with(&fake, "--rate-limit 1.5 --wait");
    let t0 = Instant::now();
    assert_eq!(post_chat(&proxy, "gpt-4.1", "first", false).status, 200);
    // The second queues, then its client goes away.
    let conn = chat_on_raw_connection(&proxy, "gpt-4.1", "quitter");
    assert!(wait_until(Duration::from_secs(2), || {
        metric(&proxy, "copilot_api_limiter_queue_depth") == Some(1)
    }));
    drop(conn);
    assert!(
        wait_until(Duration::from_secs(2), || {
            metric(&proxy, "copilot_api_limiter_queue_depth") == Some(0)
        }),
        "the quitter left the queue"
    );
    // The next one takes the freed place: admitted 1.5 s after the first, not 3 s.
    assert_eq!(post_chat(&proxy, "gpt-4.1", "third", false).status, 200);
    let texts: Vec<String> = completions(&fake).iter().map(user_text).collect();
    assert_eq!(texts, ["first", "third"]);
    assert!(
        t0.elapsed() < Duration::from_millis(2800),
        "{:?}",
        t0.elapsed()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        completions(&fake).len(),
        2,
        "the quitter never reached Copilot"
    );
    let log = proxy.output().join("\n");
    assert!(log.contains("the client left while queued"), "{log}");
}

#[test]
fn traffic_flags_are_validated() {
    use crate::support::{TempDir, run_cli};
    let home = TempDir::new();
    for args in [
        &["start", "--rate-limit", "abc"][..],
        &["start", "--wait"],
        &["start", "--burst-count", "3"],
        &[
            "start",
            "--burst-count",
            "3",
            "--burst-window",
            "1",
            "--burst-scope",
            "user",
        ],
        &["start", "--min-spacing", "100"],
        &["start", "--max-wait", "-1"],
    ] {
        let (code, _, stderr) = run_cli(args, &[], home.path());
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
    let (code, help, _) = run_cli(&["start", "--help"], &[], home.path());
    assert_eq!(code, 0);
    for flag in [
        "--rate-limit",
        "--wait",
        "--burst-count",
        "--burst-window",
        "--min-spacing",
        "--burst-scope",
        "--max-wait",
        "--manual",
        "--manual-timeout",
        "--no-auto-switch",
    ] {
        assert!(help.contains(flag), "{flag} in start --help");
    }
}

#[test]
fn min_spacing_keeps_admissions_apart_inside_the_window() {
    let fake = Fake::start();
    let proxy = start_with(&fake, "--burst-count 5 --burst-window 10 --min-spacing 300");
    let statuses = post_in_order(&proxy, &fake, "gpt-4.1", &["a", "b", "c"]);
    assert_eq!(statuses, [200, 200, 200]);
    let got = completions(&fake);
    assert_eq!(
        got.iter().map(user_text).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    for pair in got.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= Duration::from_millis(280) && gap < Duration::from_secs(3), // far below the 10 s window, loose enough for a loaded CI machine
            "{gap:?}"
        );
    }
}

#[test]
fn an_interval_wait_past_max_wait_is_refused_at_once_even_for_a_stream() {
    let fake = Fake::start();
    let proxy = start_with(&fake, "--rate-limit 5 --wait --max-wait 1");
    assert_eq!(post_chat(&proxy, "gpt-4.1", "one", true).status, 200);
    let t = Instant::now();
    let resp = post_chat(&proxy, "gpt-4.1", "two", true);
    assert!(t.elapsed() < Duration::from_millis(800));
    assert_openai_error(&resp, 429, Some("rate_limit_error"));
    assert!((3..=5).contains(&retry_after(&resp)), "{:?}", resp.headers);
    assert_eq!(completions(&fake).len(), 1);
}

#[test]
fn a_request_the_burst_window_refuses_gives_its_interval_slot_back() {
    let fake = Fake::start();
    let flags =
        "--rate-limit 0.5 --burst-count 1 --burst-window 30 --burst-scope model --max-wait 1";
    let proxy = start_with(&fake, flags);
    assert_eq!(post_chat(&proxy, "gpt-4.1", "one", false).status, 200);
    std::thread::sleep(Duration::from_millis(600));
    // Past the interval, but gpt-4.1's burst window is full: 429.
    assert_eq!(post_chat(&proxy, "gpt-4.1", "two", false).status, 429);
    // Had the refused request kept its interval slot, this one would be too early.
    assert_eq!(
        post_chat(&proxy, "claude-sonnet-4.5", "three", false).status,
        200
    );
}
