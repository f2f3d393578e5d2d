//! The Chat pass-through sends the client's body as it came (README "Chat Completions"):
//! every member the proxy does not change reaches Copilot byte for byte, in the client's
//! order (numbers a tree would rewrite, escapes, whitespace inside values), and only the
//! members it fits to the model are written anew, where they stood.

use crate::support::*;
use crate::{assert_openai_error, post_json};
use serde_json::json;

/// Members of every JSON type, written the way a tree would not write them back.
const KEPT: [(&str, &str); 9] = [
    (
        "messages",
        r#"[ {"role" : "system", "content": "caf\u00e9 \ud83d\ude00 \"q\" \/ \n"},
              {"role": "user", "content": [ {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}},
                                             {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}} ]} ]"#,
    ),
    ("big", "123456789012345678901234567890"),
    ("neg_zero", "-0.0"),
    ("float", "1.50"),
    ("exp", "1E+2"),
    (
        "nested",
        r#"{ "z": [true, false, null, {}, [ ]], "a": -12 }"#,
    ),
    (
        "tools",
        r#"[{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "number", "maximum": 1e2}}}}}]"#,
    ),
    ("temperature", "0.70"),
    ("x_text", r#""tab\tand \u0000 nul""#),
];

/// The body as a client with odd spacing would write it, members in this order.
fn written(members: &[(&str, &str)]) -> String {
    let inner: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("\"{k}\" :  {v}"))
        .collect();
    format!("{{ {} \n}}", inner.join(" ,\n  "))
}

/// What the splice makes of members: compact between them, the values as they are.
fn spliced(members: &[(&str, &str)]) -> String {
    let inner: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("\"{k}\":{v}"))
        .collect();
    format!("{{{}}}", inner.join(","))
}

fn send(fake: &Fake, proxy: &Proxy, body: &str) -> String {
    let resp = post(
        &proxy.at("/v1/chat/completions"),
        &[("content-type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let upstream = fake.requests_to("/chat/completions").pop().unwrap();
    String::from_utf8(upstream.body).unwrap()
}

#[test]
fn unchanged_members_reach_copilot_byte_for_byte() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let mut members = vec![("model", r#""claude-sonnet-4.5""#)];
    members.extend(KEPT);
    members.push(("stream", "false"));
    assert_eq!(send(&fake, &proxy, &written(&members)), spliced(&members));
}

#[test]
fn fitted_members_are_rewritten_in_place_and_added_ones_go_last() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    // Over the model's output limit (16000), an effort it does not take (it takes low,
    // medium, high), a nested effort, and a stream without `stream_options`.
    let mut sent = vec![("max_tokens", "999999"), ("reasoning_effort", r#""xhigh""#)];
    sent.extend(KEPT);
    sent.extend([
        ("reasoning", r#"{"keep": [1, 2.50], "effort": "max"}"#),
        ("model", r#""claude-sonnet-4.5""#),
        ("stream", "true"),
    ]);
    let mut expected = vec![("max_tokens", "16000"), ("reasoning_effort", r#""high""#)];
    expected.extend(KEPT);
    expected.extend([
        ("reasoning", r#"{"effort":"high","keep":[1,2.5]}"#),
        ("model", r#""claude-sonnet-4.5""#),
        ("stream", "true"),
        ("stream_options", r#"{"include_usage":true}"#),
    ]);
    assert_eq!(send(&fake, &proxy, &written(&sent)), spliced(&expected));

    // A client's own `stream_options` is edited where it stands.
    let sent = [
        ("model", r#""gpt-4.1""#),
        ("stream_options", r#"{"x": 1, "include_usage": false}"#),
        ("messages", r#"[{"role": "user", "content": "hi"}]"#),
        ("stream", "true"),
    ];
    let expected = [
        ("model", r#""gpt-4.1""#),
        ("stream_options", r#"{"include_usage":true,"x":1}"#),
        ("messages", r#"[{"role": "user", "content": "hi"}]"#),
        ("stream", "true"),
    ];
    assert_eq!(send(&fake, &proxy, &written(&sent)), spliced(&expected));

    // GPT-5 takes `max_completion_tokens`: `max_tokens` leaves its place and comes back
    // at the end under that name.
    let sent = [
        ("max_tokens", "77"),
        ("model", r#""gpt-5-mini""#),
        ("messages", r#"[{"role": "user", "content": "hi"}]"#),
    ];
    let expected = [
        ("model", r#""gpt-5-mini""#),
        ("messages", r#"[{"role": "user", "content": "hi"}]"#),
        ("max_completion_tokens", "77"),
    ];
    assert_eq!(send(&fake, &proxy, &written(&sent)), spliced(&expected));
}

#[test]
fn a_model_alias_is_rewritten_to_copilots_id() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let sent = [
        ("messages", r#"[{"role": "user", "content": "hi"}]"#),
        ("model", r#""claude-sonnet-4-5-20250929""#),
        ("n", "1"),
    ];
    let expected = [
        ("messages", r#"[{"role": "user", "content": "hi"}]"#),
        ("model", r#""claude-sonnet-4.5""#),
        ("n", "1"),
    ];
    assert_eq!(send(&fake, &proxy, &written(&sent)), spliced(&expected));
}

#[test]
fn what_a_tree_refused_is_still_refused() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let cases = [
        (
            r#"{"model": "gpt-4.1", "messages": [{"role": "user", "content": "a", "content": "b"}]}"#,
            "duplicate key `content`",
        ),
        (
            r#"{"model": "gpt-4.1", "x": 1e400, "messages": [{"role": "user", "content": "a"}]}"#,
            "number out of range",
        ),
        (
            r#"{"model": "gpt-4.1", "messages": [{"role": "user", "content": "a"}]} x"#,
            "trailing characters",
        ),
        (r#"[{"model": "gpt-4.1"}]"#, "must be a JSON object"),
        // Inside the prompt's skipped labels and opaque fields, and inside the tools,
        // whose length alone is measured.
        (
            r#"{"model": "gpt-4.1", "messages": [{"role": "user", "id": [1e999], "content": "a"}]}"#,
            "number out of range",
        ),
        (
            r#"{"model": "gpt-4.1", "messages": [{"role": "user", "content": [{"type": "x", "signature": {"s": 1, "s": 2}}]}]}"#,
            "duplicate key `s`",
        ),
        (
            r#"{"model": "gpt-4.1", "messages": [{"role": "user", "content": "a"}], "tools": [{"type": "function", "function": {"name": "f", "name": "g"}}]}"#,
            "duplicate key `name`",
        ),
        (
            r#"{"model": "gpt-4.1", "model": "gpt-4.1", "messages": [{"role": "user", "content": "a"}]}"#,
            "duplicate key `model`",
        ),
    ];
    for (body, says) in cases {
        let resp = post(
            &proxy.at("/v1/chat/completions"),
            &[("content-type", "application/json")],
            body.as_bytes(),
        );
        let error = assert_openai_error(&resp, 400, None);
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }
    let resp = post_json(
        &proxy,
        "/v1/chat/completions",
        &[],
        &json!({"model": "gpt-4.1", "messages": [{"role": "user", "content": [{"type": "text"}]}]}),
    );
    let error = assert_openai_error(&resp, 400, None);
    assert_eq!(
        error["message"],
        "`messages[0].content[0].text` must be a string"
    );
    assert!(fake.requests_to("/chat/completions").is_empty());
}
