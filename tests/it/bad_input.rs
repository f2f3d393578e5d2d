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
