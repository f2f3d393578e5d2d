//! Client mistakes get a 4xx in the protocol's own error shape (DESIGN.md §4 "Correct
//! errors"): unknown routes, wrong methods, oversized bodies.

use crate::support::*;
use crate::{assert_anthropic_error, assert_openai_error};

#[test]
fn unknown_route_is_404_in_each_family_shape() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    for path in ["/v1/nope", "/nope", "/v1/chat/completions/extra"] {
        let resp = get(&proxy.at(path), &[]);
        assert_openai_error(&resp, 404, Some("invalid_request_error"));
    }
    let resp = post(&proxy.at("/v1/messages/nope"), &[], b"{}");
    assert_anthropic_error(&resp, 404, Some("not_found_error"));
}

#[test]
fn wrong_method_is_405_in_each_family_shape() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    assert_openai_error(&delete(&proxy.at("/v1/models"), &[]), 405, None);
    assert_openai_error(&get(&proxy.at("/v1/chat/completions"), &[]), 405, None);
    assert_anthropic_error(&get(&proxy.at("/v1/messages"), &[]), 405, None);
}

#[test]
fn messages_query_string_is_ignored_by_routing() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--max-body-mb", "1"], &[]);
    // Same answer as for /v1/messages itself, not a 404.
    let resp = get(&proxy.at("/v1/messages?beta=true"), &[]);
    assert_anthropic_error(&resp, 405, None);
    let big = vec![b' '; 2 << 20];
    let resp = post(
        &proxy.at("/v1/messages?beta=true"),
        &[("content-type", "application/json")],
        &big,
    );
    assert_anthropic_error(&resp, 413, Some("request_too_large"));
}

#[test]
fn oversized_body_is_413_in_each_family_shape() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--max-body-mb", "1"], &[]);
    let json = [("content-type", "application/json")];
    // 2 MiB of valid JSON whitespace: only the size is wrong.
    let mut big = vec![b' '; 2 << 20];
    big[0] = b'{';
    *big.last_mut().unwrap() = b'}';

    let chat = post(&proxy.at("/v1/chat/completions"), &json, &big);
    assert_openai_error(&chat, 413, None);
    let messages = post(&proxy.at("/v1/messages"), &json, &big);
    assert_anthropic_error(&messages, 413, Some("request_too_large"));

    // Nothing of it reached upstream, and the server is still answering.
    assert!(fake.requests_to("/chat/completions").is_empty());
    assert!(fake.requests_to("/v1/messages").is_empty());
    assert_eq!(get(&proxy.at("/healthz"), &[]).status, 200);
}

/// Regression (found with Codex CLI's built-in provider): a WebSocket attempt on
/// `GET /v1/responses` and an h2c `Connection: Upgrade` POST hung until the client gave up,
/// because tiny_http (the HTTP server then) handed the raw socket over as the body of an
/// upgrade request.
#[test]
fn upgrade_requests_are_answered_at_once() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let started = std::time::Instant::now();
    // Issue 13 serves the WebSocket (tests/it/responses_ws.rs); a malformed attempt (no
    // Sec-WebSocket-Key) still gets its answer at once, and the connection closed.
    let ws = raw_request(
        &proxy.url,
        b"GET /v1/responses HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
    );
    assert!(ws.starts_with("HTTP/1.1 400"), "{ws}");
    assert!(ws.contains("Connection: close"), "{ws}");
    let body = r#"{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}"#;
    let h2c = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n\
         Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let answer = raw_request(&proxy.url, h2c.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("Hello from the fake."), "{answer}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

/// Regression (found with Claude Code): a 401 made it retry ten times with back-off; client
/// mistakes now say `x-should-retry: false`, and Anthropic answers carry a `request-id`.
#[test]
fn client_errors_say_do_not_retry_and_anthropic_answers_carry_a_request_id() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--api-key", "k"], &[]);
    let resp = post(&proxy.at("/v1/messages"), &[("x-api-key", "wrong")], b"{}");
    assert_eq!(resp.status, 401);
    assert_eq!(resp.header("x-should-retry"), Some("false"));
    assert!(
        resp.header("request-id")
            .is_some_and(|id| id.starts_with("req_"))
    );
    let resp = post(
        &proxy.at("/v1/chat/completions"),
        &[("authorization", "Bearer k")],
        b"{oops",
    );
    assert_eq!(resp.status, 400);
    assert_eq!(resp.header("x-should-retry"), Some("false"));
    let resp = get(&proxy.at("/v1/responses"), &[("authorization", "Bearer k")]);
    assert_eq!(resp.status, 405);
    assert_eq!(resp.header("allow"), Some("POST"));
}
