//! Retries (README "Chat Completions", DESIGN.md §4 "Reliability"): transient failures are
//! retried only before the first byte reaches the client, deterministic 400s never, and an
//! upstream 401 refreshes the Copilot token once and replays.

use crate::support::scenarios::{self, Api, TEXT_PARTS};
use crate::support::*;
use crate::{FAST, post_chat};
use serde_json::Value;
use std::time::Duration;

/// The binary exchanges tokens at most once a second: a 401 right after start-up replays
/// with the same token. The 401 tests wait that long first.
fn past_exchange_guard() {
    std::thread::sleep(Duration::from_millis(1100));
}

fn metric(proxy: &Proxy, line_start: &str) -> Option<u64> {
    let text = get(&proxy.at("/metrics"), &[]).text();
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|rest| rest.trim().parse().ok())
}

#[test]
fn rate_limited_twice_then_success_returns_200_after_three_requests() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    fake.push_scenario(Scenario::status(429));
    fake.push_scenario(Scenario::status(429));
    let resp = post_chat(&proxy, "gpt-4.1", "hi", false);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.json()["choices"][0]["message"]["content"],
        TEXT_PARTS.concat()
    );
    let sent = fake.requests_to("/chat/completions");
    assert_eq!(sent.len(), 3);
    // The same request each time.
    assert!(sent.iter().all(|r| r.body == sent[0].body));
    assert_eq!(
        metric(&proxy, "copilot_api_upstream_retries_total "),
        Some(2)
    );
    assert_eq!(
        metric(
            &proxy,
            "copilot_api_upstream_responses_total{status=\"429\"} "
        ),
        Some(2)
    );
}

#[test]
fn retries_made_by_the_proxy_are_billed_as_agent() {
    // DESIGN.md §4 "Honest billing": any request the proxy makes itself is `agent`.
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    fake.push_scenario(Scenario::status(429));
    let resp = post_chat(&proxy, "gpt-4.1", "hi", false);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let sent = fake.requests_to("/chat/completions");
    let initiators: Vec<Option<&str>> = sent.iter().map(|r| r.header("x-initiator")).collect();
    assert_eq!(initiators, [Some("user"), Some("agent")]);
}

#[test]
fn stream_retried_before_its_first_byte_by_marker() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    // `fail:2:502` fails the first two requests carrying it, whoever sends them.
    let resp = post_chat(&proxy, "gpt-4.1", "scenario:fail:2:502", true);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let events = parse_sse(&resp.text());
    assert!(events.last().unwrap().is_done(), "{}", resp.text());
    assert!(
        data_json(&events).iter().all(|c| c.get("error").is_none()),
        "{}",
        resp.text()
    );
    assert_eq!(fake.requests_to("/chat/completions").len(), 3);
}

#[test]
fn gives_up_after_five_attempts() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    for _ in 0..6 {
        fake.push_scenario(Scenario::status(503));
    }
    let resp = post_chat(&proxy, "gpt-4.1", "hi", true);
    assert_eq!(resp.status, 503, "{}", resp.text());
    assert_eq!(resp.json(), scenarios::error_json(Api::Chat, 503));
    assert_eq!(fake.requests_to("/chat/completions").len(), 5);
}

#[test]
fn deterministic_400_is_sent_once() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    fake.push_scenario(Scenario::status(400));
    let resp = post_chat(&proxy, "gpt-4.1", "hi", false);
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.json(), scenarios::error_json(Api::Chat, 400));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(fake.requests_to("/chat/completions").len(), 1);
    assert_eq!(
        metric(&proxy, "copilot_api_upstream_retries_total "),
        Some(0)
    );
}

#[test]
fn failure_after_the_first_byte_is_not_retried() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &FAST, &[]);
    let resp = post_chat(&proxy, "gpt-4.1", "scenario:drop", true);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let events = parse_sse(&resp.text());
    let chunks = data_json(&events);
    assert_eq!(
        chunks[1]["choices"][0]["delta"]["content"],
        "Hello",
        "what came before the drop reached the client: {}",
        resp.text()
    );
    assert!(
        chunks.last().unwrap().get("error").is_some(),
        "{}",
        resp.text()
    );
    assert!(events.last().unwrap().is_done());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(fake.requests_to("/chat/completions").len(), 1);
}

#[test]
fn connection_closed_without_an_answer_is_retried() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    fake.push_scenario(Scenario::Hangup);
    let resp = post_chat(&proxy, "gpt-4.1", "hi", false);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(fake.requests_to("/chat/completions").len(), 2);
}

#[test]
fn upstream_401_refreshes_the_token_once_and_replays() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    past_exchange_guard();
    let exchanges_before = fake.requests_to("/copilot_internal/v2/token").len();
    let tokens_before = fake.issued_tokens();
    fake.push_scenario(Scenario::status(401));
    let resp = post_chat(&proxy, "gpt-4.1", "hi", true);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(parse_sse(&resp.text()).last().unwrap().is_done());

    let sent = fake.requests_to("/chat/completions");
    assert_eq!(sent.len(), 2, "one request and one replay");
    assert_eq!(
        fake.requests_to("/copilot_internal/v2/token").len(),
        exchanges_before + 1,
        "exactly one token exchange"
    );
    let tokens = fake.issued_tokens();
    assert_eq!(tokens.len(), tokens_before.len() + 1);
    let old = format!("Bearer {}", tokens_before.last().unwrap());
    let new = format!("Bearer {}", tokens.last().unwrap());
    assert_eq!(sent[0].header("authorization"), Some(old.as_str()));
    assert_eq!(sent[1].header("authorization"), Some(new.as_str()));
    assert_eq!(sent[0].json(), sent[1].json(), "same body replayed");
    let exchange = fake
        .requests_to("/copilot_internal/v2/token")
        .pop()
        .unwrap();
    assert!(exchange.at > sent[0].at && exchange.at < sent[1].at);
}

#[test]
fn second_401_reaches_the_client() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    past_exchange_guard();
    let exchanges_before = fake.requests_to("/copilot_internal/v2/token").len();
    fake.push_scenario(Scenario::status(401));
    fake.push_scenario(Scenario::status(401));
    let resp = post_chat(&proxy, "gpt-4.1", "hi", false);
    assert_eq!(resp.status, 401, "{}", resp.text());
    let body: Value = resp.json();
    assert_eq!(body, scenarios::error_json(Api::Chat, 401));
    assert_eq!(fake.requests_to("/chat/completions").len(), 2);
    assert_eq!(
        fake.requests_to("/copilot_internal/v2/token").len(),
        exchanges_before + 1
    );
    // Still serving afterwards.
    let ok = post_chat(&proxy, "gpt-4.1", "hi", false);
    assert_eq!(ok.status, 200, "{}", ok.text());
}

/// The GETs on the Copilot API (the catalog) replay after a 401 too, once, with a new token.
#[test]
fn catalog_fetch_after_a_401_gets_a_new_token_and_replays_once() {
    let fake = Fake::start();
    // The start-up fetch fails (an empty list), so `/v1/models` fetches the catalog again.
    fake.set_catalog(serde_json::json!({"data": []}));
    let proxy = Proxy::start(&fake, &[], &[]);
    past_exchange_guard();
    fake.set_catalog(catalog_json());
    let fetches_before = fake.requests_to("/models").len();
    let tokens_before = fake.issued_tokens();
    fake.revoke_tokens();
    let resp = get(&proxy.at("/v1/models"), &[]);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let fetches = fake.requests_to("/models")[fetches_before..].to_vec();
    assert_eq!(fetches.len(), 2, "one fetch and one replay");
    let tokens = fake.issued_tokens();
    assert_eq!(
        tokens.len(),
        tokens_before.len() + 1,
        "exactly one exchange"
    );
    let old = format!("Bearer {}", tokens_before.last().unwrap());
    let new = format!("Bearer {}", tokens.last().unwrap());
    assert_eq!(fetches[0].header("authorization"), Some(old.as_str()));
    assert_eq!(fetches[1].header("authorization"), Some(new.as_str()));
}
