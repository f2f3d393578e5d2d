//! A chat stream never ends silently (DESIGN.md §4 "Reliability"): every upstream fault
//! ends the client stream with an error chunk `{"error":{"message","type"}}` and then
//! `data: [DONE]`; silence is filled with `: keepalive`; a stall shuts the upstream down.

use crate::support::*;
use crate::{FAST, chat_request, contents, post_chat, post_json};
use serde_json::Value;
use std::time::{Duration, Instant};

/// The error object of the stream's last chunk, after checking that `[DONE]` follows it
/// and that neither appears earlier.
fn error_then_done(events: &[Sse], what: &str) -> Value {
    let n = events.len();
    assert!(n >= 2, "{what}: {events:?}");
    assert!(
        events[n - 1].is_done(),
        "{what}: ends with [DONE]: {events:?}"
    );
    let error = events[n - 2].json()["error"].clone();
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: error chunk before [DONE]: {events:?}"
    );
    assert!(error["type"].is_string(), "{what}: error.type: {error}");
    let dones = events.iter().filter(|e| e.is_done()).count();
    assert_eq!(dones, 1, "{what}: one [DONE]");
    let errors = data_json(events)
        .iter()
        .filter(|c| c.get("error").is_some())
        .count();
    assert_eq!(errors, 1, "{what}: one error chunk");
    error
}

#[test]
fn every_upstream_fault_ends_with_an_error_chunk_then_done() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &FAST, &[]);
    let markers = [
        "stall-first",
        "stall-mid",
        "drop",
        "malformed",
        "error-event",
        "truncated",
    ];
    // In parallel: the two stalls take a second or two each.
    let results: Vec<(&str, Resp, Duration)> = std::thread::scope(|s| {
        let handles: Vec<_> = markers
            .iter()
            .map(|marker| {
                let proxy = &proxy;
                s.spawn(move || {
                    let started = Instant::now();
                    let body = chat_request("gpt-4.1", &format!("scenario:{marker}"), true);
                    let resp = post_json(proxy, "/v1/chat/completions", &[], &body);
                    (*marker, resp, started.elapsed())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (marker, resp, took) in &results {
        assert_eq!(resp.status, 200, "{marker}: {}", resp.text());
        let events = parse_sse(&resp.text());
        let error = error_then_done(&events, marker);
        let keepalives_before_error = events
            .iter()
            .take(events.len() - 2)
            .filter(|e| e.is_keepalive())
            .count();
        match *marker {
            "stall-first" => {
                assert!(keepalives_before_error >= 2, "{marker}: {events:?}");
                assert!(
                    *took >= Duration::from_millis(1400) && *took < Duration::from_secs(4),
                    "{marker}: first-byte limit is 1.5 s, took {took:?}"
                );
            }
            "stall-mid" => {
                assert!(keepalives_before_error >= 2, "{marker}: {events:?}");
                assert_eq!(contents(&events), "Hello");
                assert!(
                    *took >= Duration::from_millis(900) && *took < Duration::from_secs(3),
                    "{marker}: stall limit is 1 s, took {took:?}"
                );
            }
            "error-event" => {
                assert_eq!(error["message"], "fake: the model failed mid-stream");
                assert_eq!(contents(&events), "Hello");
            }
            _ => assert_eq!(contents(&events), "Hello", "{marker}: {events:?}"),
        }
    }
    // A stall shuts the upstream connection down instead of leaving it open.
    let mut stalls_checked = 0;
    for rq in fake.requests_to("/chat/completions") {
        let marker = crate::support::scenarios::marker(&rq.json()).unwrap();
        if marker.starts_with("stall") {
            stalls_checked += 1;
            let end = fake.wait_stream_end(rq.id, Duration::from_secs(3));
            assert!(
                matches!(end, Some((StreamEnd::PeerClosed, _))),
                "{marker}: upstream connection after the stall: {end:?}"
            );
        }
    }
    // The loop above checks only stall markers: make sure it checked them all.
    let stalls = markers.iter().filter(|m| m.starts_with("stall")).count();
    assert!(
        stalls > 0 && stalls_checked == stalls,
        "{stalls_checked} of {stalls} stalls"
    );
    assert_eq!(fake.requests_to("/chat/completions").len(), markers.len());
}

#[test]
fn finish_without_done_still_ends_with_done() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &FAST, &[]);
    let resp = post_chat(&proxy, "gpt-4.1", "scenario:no-done", true);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let events = parse_sse(&resp.text());
    assert!(events.last().unwrap().is_done(), "{events:?}");
    let chunks = data_json(&events);
    assert!(
        chunks.iter().all(|c| c.get("error").is_none()),
        "{events:?}"
    );
    assert_eq!(contents(&events), "Hello from the fake.");
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "stop"
    );
}

#[test]
fn silence_shorter_than_the_stall_limit_is_filled_with_keepalives() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &FAST, &[]);
    let resp = post_chat(&proxy, "gpt-4.1", "scenario:pause:800", true);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let events = parse_sse(&resp.text());
    assert!(events.last().unwrap().is_done());
    assert!(data_json(&events).iter().all(|c| c.get("error").is_none()));
    assert_eq!(contents(&events), "Hello again");
    // The keepalives sit in the silence, between the two halves of the answer.
    let hello = events
        .iter()
        .position(|e| e.data.as_deref().is_some_and(|d| d.contains("Hello")))
        .unwrap();
    let again = events
        .iter()
        .position(|e| e.data.as_deref().is_some_and(|d| d.contains(" again")))
        .unwrap();
    let between = events[hello..again]
        .iter()
        .filter(|e| e.is_keepalive())
        .count();
    assert!(
        (2..=5).contains(&between),
        "about 0.8 s / 0.2 s keepalives, got {between}: {events:?}"
    );
}

#[test]
fn stall_before_the_response_head_is_bounded_by_the_first_byte_limit() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &FAST, &[]);
    let (tx, rx) = std::sync::mpsc::channel();
    let url = proxy.at("/v1/chat/completions");
    // On its own thread: if the proxy hangs, the test fails after 5 s, not the client's 20.
    std::thread::spawn(move || {
        let body = chat_request("gpt-4.1", "scenario:stall-head", true).to_string();
        let _ = tx.send(post(
            &url,
            &[("content-type", "application/json")],
            body.as_bytes(),
        ));
    });
    let resp = rx.recv_timeout(Duration::from_secs(5)).unwrap_or_else(|_| {
        panic!("--first-byte-timeout 1.5, but no answer after 5 s (upstream sent no head)")
    });
    // Either a gateway error before the stream, or a stream that ends with an error.
    if resp.status == 200 {
        error_then_done(&parse_sse(&resp.text()), "stall-head");
    } else {
        crate::assert_openai_error(&resp, resp.status, None);
        assert!(resp.status >= 500, "{}", resp.text());
    }
}
