//! Issue #11, manual approval (`--manual`) driven through a real pseudo-terminal: the facts
//! each prompt shows, approve (`y`, Enter), reject (`n`), timeout, approve-all (`a`), one
//! prompt at a time for concurrent requests, a client that leaves while waiting, and the
//! refusal to start without a terminal.

use super::{assert_anthropic_error, assert_openai_error, post_chat, post_json};
use crate::support::{Fake, Proxy, Resp, TempDir, catalog_json, run_cli, wait_until};
use serde_json::json;
use std::thread::ScopedJoinHandle;
use std::time::Duration;

const PROMPT: &str = "=== approval needed";
const QUESTION: &str = "approve? [Y]es (Enter) / [n]o / [a]ll until restart";

/// The default catalog, with gpt-4.1 billed at a premium multiplier the prompt must show.
fn start(extra: &[&str]) -> (Fake, Proxy) {
    let fake = Fake::start();
    let mut catalog = catalog_json();
    catalog["data"][0]["billing"] = json!({"is_premium": true, "multiplier": 0.33});
    fake.set_catalog(catalog);
    let mut args = vec!["--manual"];
    args.extend_from_slice(extra);
    let proxy = Proxy::start_on_terminal(&fake, &args);
    (fake, proxy)
}

fn prompts(proxy: &Proxy) -> usize {
    proxy.output().iter().filter(|l| l.contains(PROMPT)).count()
}

/// Waits until `n` prompts have been shown in full (the question ends each).
fn wait_prompts(proxy: &Proxy, n: usize) {
    let shown = wait_until(Duration::from_secs(10), || {
        proxy
            .output()
            .iter()
            .filter(|l| l.contains(QUESTION))
            .count()
            >= n
    });
    assert!(
        shown,
        "prompt {n} never shown:\n{}",
        proxy.output().join("\n")
    );
}

/// The lines of the latest prompt.
fn last_prompt(proxy: &Proxy) -> Vec<String> {
    let out = proxy.output();
    let start = out.iter().rposition(|l| l.contains(PROMPT)).unwrap();
    out[start..].iter().take(11).cloned().collect()
}

fn upstream_texts(fake: &Fake) -> Vec<String> {
    fake.requests_to("/chat/completions")
        .iter()
        .map(|r| {
            r.json()["messages"][0]["content"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

fn in_background<'s>(
    s: &'s std::thread::Scope<'s, '_>,
    proxy: &'s Proxy,
    text: &'s str,
) -> ScopedJoinHandle<'s, Resp> {
    s.spawn(move || post_chat(proxy, "gpt-4-1", text, false))
}

#[test]
fn the_prompt_shows_the_facts_and_y_approves() {
    let (fake, proxy) = start(&[]);
    std::thread::scope(|s| {
        let request = in_background(s, &proxy, "please \u{1b}[31mapprove\r\nme");
        wait_prompts(&proxy, 1);
        let shown = last_prompt(&proxy).join("\n");
        for fact in [
            "request:  POST /v1/chat/completions",
            "model:    gpt-4-1 -> gpt-4.1",
            "route:    pass-through (/chat/completions)",
            "stream:   no",
            "messages: 1, tools: 0",
            "billed:   user",
            "premium:  x0.33",
            "text:     please [31mapprove  me",
        ] {
            assert!(shown.contains(fact), "{fact:?} in:\n{shown}");
        }
        assert!(!shown.contains('\u{1b}'), "no escape reaches the terminal");
        assert!(
            upstream_texts(&fake).is_empty(),
            "nothing sent before approval"
        );
        proxy.type_line("y");
        assert_eq!(request.join().unwrap().status, 200);
    });
    assert_eq!(upstream_texts(&fake).len(), 1);
    assert!(
        proxy
            .output()
            .join("\n")
            .contains("approved by the operator")
    );
}

#[test]
fn n_rejects_with_403_and_enter_approves() {
    let (fake, proxy) = start(&[]);
    std::thread::scope(|s| {
        let request = in_background(s, &proxy, "reject me");
        wait_prompts(&proxy, 1);
        proxy.type_line("n");
        let resp = request.join().unwrap();
        let error = assert_openai_error(&resp, 403, Some("permission_error"));
        assert!(
            error["message"].as_str().unwrap().contains("rejected"),
            "{error}"
        );
        let request = in_background(s, &proxy, "enter approves");
        wait_prompts(&proxy, 2);
        proxy.type_line("");
        assert_eq!(request.join().unwrap().status, 200);
    });
    assert_eq!(upstream_texts(&fake), ["enter approves"]);
}

#[test]
fn no_answer_in_time_is_a_rejection_in_the_routes_shape() {
    let (fake, proxy) = start(&["--manual-timeout", "1"]);
    let message = json!({"model": "claude-sonnet-4.5", "max_tokens": 10,
                         "messages": [{"role": "user", "content": "anyone there?"}]});
    let resp = post_json(&proxy, "/v1/messages", &[], &message);
    assert_anthropic_error(&resp, 403, Some("permission_error"));
    let text = resp.text();
    assert!(text.contains("timed out"), "{text}");
    assert!(fake.requests_to("/v1/messages").is_empty());
    let shown = last_prompt(&proxy).join("\n");
    assert!(
        shown.contains("route:    native (Copilot's /v1/messages)"),
        "{shown}"
    );
}

#[test]
fn a_approves_this_and_every_later_request() {
    let (fake, proxy) = start(&[]);
    std::thread::scope(|s| {
        let request = in_background(s, &proxy, "first");
        wait_prompts(&proxy, 1);
        proxy.type_line("a");
        assert_eq!(request.join().unwrap().status, 200);
    });
    assert_eq!(post_chat(&proxy, "gpt-4.1", "second", false).status, 200);
    assert_eq!(post_chat(&proxy, "gpt-4.1", "third", false).status, 200);
    assert_eq!(prompts(&proxy), 1, "no prompt after `a`");
    assert_eq!(upstream_texts(&fake), ["first", "second", "third"]);
}

#[test]
fn concurrent_requests_are_prompted_one_after_the_other() {
    let (fake, proxy) = start(&[]);
    std::thread::scope(|s| {
        let alpha = in_background(s, &proxy, "alpha");
        wait_prompts(&proxy, 1);
        let beta = in_background(s, &proxy, "beta");
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(prompts(&proxy), 1, "the second waits for the first prompt");
        assert!(last_prompt(&proxy).join("\n").contains("text:     alpha"));
        proxy.type_line("y");
        assert_eq!(alpha.join().unwrap().status, 200);
        wait_prompts(&proxy, 2);
        assert!(last_prompt(&proxy).join("\n").contains("text:     beta"));
        proxy.type_line("n");
        assert_eq!(beta.join().unwrap().status, 403);
    });
    assert_eq!(upstream_texts(&fake), ["alpha"]);
}

#[test]
fn a_client_that_leaves_while_awaiting_approval_is_dropped() {
    let (fake, proxy) = start(&[]);
    let conn = super::traffic::chat_on_raw_connection(&proxy, "gpt-4.1", "leaver");
    wait_prompts(&proxy, 1);
    drop(conn);
    let dropped = wait_until(Duration::from_secs(5), || {
        proxy
            .output()
            .iter()
            .any(|l| l.contains("the client went away"))
    });
    assert!(dropped, "{}", proxy.output().join("\n"));
    // The terminal is free for the next request; a late `y` is not taken for it.
    std::thread::scope(|s| {
        let next = in_background(s, &proxy, "next");
        wait_prompts(&proxy, 2);
        proxy.type_line("y");
        assert_eq!(next.join().unwrap().status, 200);
    });
    assert_eq!(upstream_texts(&fake), ["next"]);
}

#[test]
fn manual_without_a_terminal_exits_2_with_one_line() {
    let home = TempDir::new();
    let (code, _, stderr) = run_cli(&["start", "--manual"], &[], home.path());
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("--manual needs an interactive terminal"),
        "{stderr}"
    );
}
