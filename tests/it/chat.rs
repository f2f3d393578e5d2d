//! `POST /v1/chat/completions` on its happy paths (README "Chat Completions"): what the
//! client receives, stream and not, and exactly what went upstream.

use crate::support::scenarios::{self, TEXT_PARTS};
use crate::support::*;
use crate::{assert_openai_error, chat_request, contents, post_chat, post_json};
use serde_json::{Value, json};

/// The fields the proxy may add to a chunk or completion that lacks them.
const FILLED: [&str; 3] = ["object", "created", "id"];

/// `got` is `sent` with at most `object`/`created`/`id` added.
fn assert_passed_through(sent: &Value, got: &Value) {
    let (Some(s), Some(g)) = (sent.as_object(), got.as_object()) else {
        panic!("not objects: sent {sent} got {got}");
    };
    for (k, v) in s {
        assert_eq!(g.get(k), Some(v), "field {k}: sent {sent}\ngot {got}");
    }
    for k in g.keys().filter(|k| !s.contains_key(*k)) {
        assert!(FILLED.contains(&k.as_str()), "added field {k}: {got}");
    }
}

#[test]
fn stream_scenarios_pass_through_event_by_event() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    for marker in [
        "text",
        "usage-inline",
        "prompt-filter",
        "tools",
        "reasoning",
    ] {
        let mut body = chat_request("gpt-4.1", &format!("scenario:{marker}"), true);
        body["stream_options"] = json!({"include_usage": true});
        let resp = post_json(&proxy, "/v1/chat/completions", &[], &body);
        assert_eq!(resp.status, 200, "{marker}: {}", resp.text());
        assert_eq!(
            resp.header("content-type"),
            Some("text/event-stream; charset=utf-8"),
            "{marker}"
        );
        assert_eq!(resp.header("x-accel-buffering"), Some("no"), "{marker}");

        let upstream = fake.requests_to("/chat/completions").pop().unwrap();
        let sent = parse_sse(&scenarios::script_text(&chat_answers::chat(
            &Scenario::parse(marker).unwrap(),
            &upstream.json(),
        )));
        let got = parse_sse(&resp.text());
        assert_eq!(got.len(), sent.len(), "{marker}: {}", resp.text());
        assert!(got.last().unwrap().is_done(), "{marker}: ends with [DONE]");
        for (s, g) in sent.iter().zip(&got).filter(|(s, _)| !s.is_done()) {
            if s.comment.is_some() {
                assert_eq!(g, s, "{marker}: comments pass through");
                continue;
            }
            assert_passed_through(&s.json(), &g.json());
            assert_eq!(
                g.json()["object"],
                "chat.completion.chunk",
                "{marker}: {g:?}"
            );
        }
    }
}

#[test]
fn text_stream_without_include_usage_hides_the_usage_chunk() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let resp = post_chat(&proxy, "gpt-4.1", "hi", true);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let events = parse_sse(&resp.text());
    let chunks = data_json(&events);
    assert_eq!(contents(&events), TEXT_PARTS.concat());
    assert!(
        chunks.iter().all(|c| c["choices"] != json!([])),
        "usage-only chunk leaked: {}",
        resp.text()
    );
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "stop"
    );
    assert!(events.last().unwrap().is_done());
    // Turned on upstream all the same, so usage is never lost.
    let upstream = fake.requests_to("/chat/completions").pop().unwrap().json();
    assert_eq!(upstream["stream_options"], json!({"include_usage": true}));

    // Inline usage, on the finish chunk, reaches the client either way.
    let resp = post_chat(&proxy, "gpt-4.1", "scenario:usage-inline", true);
    let chunks = data_json(&parse_sse(&resp.text()));
    assert_eq!(chunks.last().unwrap()["usage"], chat_answers::usage());
}

#[test]
fn non_stream_completion_passes_through() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    for marker in ["text", "tools", "reasoning"] {
        let resp = post_json(
            &proxy,
            "/v1/chat/completions",
            &[],
            &chat_request("gpt-4.1", &format!("scenario:{marker}"), false),
        );
        assert_eq!(resp.status, 200, "{marker}: {}", resp.text());
        assert_eq!(resp.header("content-type"), Some("application/json"));
        let upstream = fake.requests_to("/chat/completions").pop().unwrap();
        let sent = match chat_answers::chat(&Scenario::parse(marker).unwrap(), &upstream.json()) {
            wire::Reply::Body { body, .. } => serde_json::from_slice::<Value>(&body).unwrap(),
            _ => panic!("{marker}: the fake should answer a body"),
        };
        assert_eq!(resp.json(), sent, "{marker}");
    }
}

#[test]
fn missing_object_created_and_id_are_filled_in() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let resp = post_chat(&proxy, "gpt-4.1", "scenario:bare", true);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let events = parse_sse(&resp.text());
    let chunks = data_json(&events);
    assert!(chunks.len() >= 5, "{}", resp.text());
    let first_id = chunks[0]["id"].clone();
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk", "{c}");
        assert!(
            c["created"].as_u64().is_some_and(|t| t > 1_600_000_000),
            "{c}"
        );
        assert!(c["id"].as_str().is_some_and(|id| !id.is_empty()), "{c}");
        assert_eq!(c["id"], first_id, "one id for the whole stream");
    }
    assert_eq!(contents(&events), TEXT_PARTS.concat());

    let resp = post_chat(&proxy, "gpt-4.1", "scenario:bare", false);
    let v = resp.json();
    assert_eq!(v["object"], "chat.completion", "{v}");
    assert!(
        v["created"].as_u64().is_some_and(|t| t > 1_600_000_000),
        "{v}"
    );
    assert!(v["id"].as_str().is_some_and(|id| !id.is_empty()), "{v}");
    assert_eq!(v["choices"][0]["message"]["content"], TEXT_PARTS.concat());
}

#[test]
fn model_is_reported_as_the_client_named_it() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let named = "claude-sonnet-4-5";
    let resp = post_chat(&proxy, named, "hi", true);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let upstream = fake.requests_to("/chat/completions").pop().unwrap().json();
    assert_eq!(upstream["model"], "claude-sonnet-4.5", "resolved upstream");
    for c in data_json(&parse_sse(&resp.text())) {
        assert_eq!(c["model"], named, "{c}");
    }
    let resp = post_json(
        &proxy,
        "/chat/completions",
        &[],
        &chat_request(named, "hi", false),
    );
    assert_eq!(resp.json()["model"], named, "{}", resp.text());
}

#[test]
fn initiator_vision_and_auth_headers_upstream() {
    let fake = Fake::start();
    let key = "sk-client-secret-key";
    let proxy = Proxy::start(&fake, &["--api-key", key], &[]);
    let bearer = format!("Bearer {key}");
    let send = |headers: &[(&str, &str)], body: Value| {
        let resp = post_json(&proxy, "/v1/chat/completions", headers, &body);
        assert_eq!(resp.status, 200, "{}", resp.text());
        fake.requests_to("/chat/completions").pop().unwrap()
    };

    let user = send(
        &[("authorization", &bearer)],
        chat_request("gpt-4.1", "hi", false),
    );
    assert_eq!(user.header("x-initiator"), Some("user"));
    assert_eq!(user.header("copilot-vision-request"), None);

    let tool_turn = json!({"model": "gpt-4.1", "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
    ]});
    let agent = send(&[("x-api-key", key)], tool_turn);
    assert_eq!(agent.header("x-initiator"), Some("agent"));

    let image = json!({"model": "gpt-4.1", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    ]}]});
    let vision = send(&[("authorization", &bearer)], image);
    assert_eq!(vision.header("copilot-vision-request"), Some("true"));
    assert_eq!(vision.header("x-initiator"), Some("user"));

    let tokens = fake.issued_tokens();
    let ids: Vec<&str> = [&user, &agent, &vision]
        .iter()
        .map(|r| r.header("x-request-id").unwrap_or_default())
        .collect();
    assert!(ids.iter().all(|id| !id.is_empty()), "{ids:?}");
    assert!(
        ids[0] != ids[1] && ids[1] != ids[2],
        "fresh x-request-id: {ids:?}"
    );
    for rq in [&user, &agent, &vision] {
        let auth = rq.header("authorization").unwrap_or_default();
        assert!(
            tokens.iter().any(|t| auth == format!("Bearer {t}")),
            "Copilot token upstream, got {auth:?}"
        );
        assert_eq!(rq.header("x-api-key"), None);
    }
    for rq in fake.requests() {
        for (name, value) in &rq.headers {
            assert!(
                !value.contains(key),
                "client key leaked upstream in {name} of {}",
                rq.path
            );
        }
    }
}

#[test]
fn body_reaches_upstream_unchanged_but_for_the_documented_edits() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let body = json!({
        "model": "gpt-4.1",
        "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}],
        "stream": true,
        "temperature": 0.25,
        "top_p": 0.9,
        "max_tokens": 100,
        "seed": 7,
        "user": "u-1",
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": "auto",
        "response_format": {"type": "text"},
        "x_vendor_extension": {"nested": [1, 2, {"deep": true}]}
    });
    let resp = post_json(&proxy, "/v1/chat/completions", &[], &body);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let mut expected = body.clone();
    expected["stream_options"] = json!({"include_usage": true});
    let upstream = fake.requests_to("/chat/completions").pop().unwrap();
    assert_eq!(upstream.json(), expected);
    assert_eq!(upstream.header("content-type"), Some("application/json"));

    // A client's own stream_options keep their other fields.
    let mut body = chat_request("gpt-4.1", "hi", true);
    body["stream_options"] = json!({"include_usage": false, "x": 1});
    post_json(&proxy, "/v1/chat/completions", &[], &body);
    let upstream = fake.requests_to("/chat/completions").pop().unwrap().json();
    assert_eq!(
        upstream["stream_options"],
        json!({"include_usage": true, "x": 1})
    );

    // Not a stream: nothing added.
    let body = chat_request("gpt-4.1", "hi", false);
    post_json(&proxy, "/v1/chat/completions", &[], &body);
    let upstream = fake.requests_to("/chat/completions").pop().unwrap().json();
    assert_eq!(upstream, body);
}

#[test]
fn output_limits_renamed_for_gpt5_and_capped_to_the_model() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let upstream_for = |model: &str, max_tokens: u64| {
        let mut body = chat_request(model, "hi", false);
        body["max_tokens"] = json!(max_tokens);
        let resp = post_json(&proxy, "/v1/chat/completions", &[], &body);
        assert_eq!(resp.status, 200, "{model}: {}", resp.text());
        fake.requests_to("/chat/completions").pop().unwrap().json()
    };
    // Not in the catalog: sent as named, with the GPT-5 field.
    let gpt5 = upstream_for("gpt-5-mini", 1000);
    assert_eq!(gpt5["model"], "gpt-5-mini");
    assert_eq!(gpt5["max_completion_tokens"], 1000, "{gpt5}");
    assert!(gpt5.get("max_tokens").is_none(), "{gpt5}");
    let o3 = upstream_for("o3-mini", 50);
    assert_eq!(o3["max_completion_tokens"], 50, "{o3}");
    assert!(o3.get("max_tokens").is_none(), "{o3}");
    // gpt-4.1 allows 16384 output tokens.
    let capped = upstream_for("gpt-4.1", 100_000);
    assert_eq!(capped["max_tokens"], 16384, "{capped}");
    assert!(capped.get("max_completion_tokens").is_none(), "{capped}");
    let kept = upstream_for("gpt-4.1", 512);
    assert_eq!(kept["max_tokens"], 512, "{kept}");
}

#[test]
fn upstream_json_errors_are_forwarded_with_status_and_body() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let request = chat_request("gpt-4.1", "hi", true);
    for status in [400, 413, 429] {
        let retry_after = (status == 429).then(|| "3600".to_string());
        fake.push_scenario(Scenario::Error {
            status,
            body: ErrorBody::Json,
            retry_after,
        });
        let before = fake.requests_to("/chat/completions").len();
        let resp = post_json(&proxy, "/v1/chat/completions", &[], &request);
        assert_eq!(
            fake.requests_to("/chat/completions").len(),
            before + 1,
            "{status}: sent once"
        );
        if status == 413 {
            // A 413 is Copilot's way of saying the prompt is too large.
            let e = assert_openai_error(&resp, 400, Some("invalid_request_error"));
            assert_eq!(e["code"], "context_length_exceeded", "{}", resp.text());
            continue;
        }
        assert_eq!(resp.status, status, "{}", resp.text());
        assert_eq!(resp.header("content-type"), Some("application/json"));
        assert_eq!(
            resp.json(),
            scenarios::error_json(scenarios::Api::Chat, status)
        );
        if status == 429 {
            // Too long to wait out: the client decides.
            assert_eq!(resp.header("retry-after"), Some("3600"));
        }
    }
}

#[test]
fn html_and_empty_error_bodies_become_readable_messages() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let request = chat_request("gpt-4.1", "hi", false);
    let cases = [
        (400, ErrorBody::Html, "HTML"),
        (400, ErrorBody::Empty, "empty"),
        (502, ErrorBody::Html, "HTML"),
        (500, ErrorBody::Empty, "empty"),
    ];
    for (status, body, word) in cases {
        // A 5xx is transient: retried up to 5 attempts, all failing here.
        let attempts = if status >= 500 { 5 } else { 1 };
        for _ in 0..attempts {
            fake.push_scenario(Scenario::Error {
                status,
                body,
                retry_after: Some("0".into()),
            });
        }
        let before = fake.requests_to("/chat/completions").len();
        let resp = post_json(&proxy, "/v1/chat/completions", &[], &request);
        // Copilot's 500 is answered as 502: a 500 would blame the proxy (issue 10).
        let relayed = if status == 500 { 502 } else { status };
        let e = assert_openai_error(&resp, relayed, None);
        let message = e["message"].as_str().unwrap();
        assert!(
            message.contains(word) && message.contains(&status.to_string()),
            "{status} {body:?}: {message}"
        );
        if body == ErrorBody::Html {
            assert!(message.contains("502 Bad Gateway"), "page title: {message}");
            assert!(!message.contains("<html"), "tags stripped: {message}");
        }
        assert_eq!(
            fake.requests_to("/chat/completions").len() - before,
            attempts,
            "{status} {body:?}"
        );
    }
}

#[test]
fn version_rejected_466_names_the_override_flags() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    fake.push_scenario(Scenario::status(466));
    let resp = post_chat(&proxy, "gpt-4.1", "hi", true);
    let e = assert_openai_error(&resp, 466, None);
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("--editor-version") && message.contains("too old"),
        "{message}"
    );
    assert_eq!(fake.requests_to("/chat/completions").len(), 1);
}

#[test]
fn context_window_error_is_400_context_length_exceeded() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    for stream in [false, true] {
        let resp = post_chat(&proxy, "gpt-4.1", "scenario:context-window", stream);
        let e = assert_openai_error(&resp, 400, Some("invalid_request_error"));
        assert_eq!(e["code"], "context_length_exceeded", "{}", resp.text());
        assert!(
            e["message"].as_str().unwrap().contains("140000"),
            "the upstream's numbers: {}",
            resp.text()
        );
    }
    assert_eq!(
        fake.requests_to("/chat/completions").len(),
        2,
        "not retried"
    );
}

#[test]
fn bad_client_input_is_400_naming_the_field() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let cases: [(&[u8], &str); 9] = [
        (b"{\"model\": \"gpt-4.1\", ", "JSON"),
        (b"", "empty"),
        (b"[1, 2]", "object"),
        (br#"{"messages": [{"role": "user", "content": "hi"}]}"#, "`model`"),
        (br#"{"model": 4, "messages": []}"#, "`model`"),
        (br#"{"model": "gpt-4.1"}"#, "`messages`"),
        (br#"{"model": "gpt-4.1", "messages": "hi"}"#, "`messages`"),
        (
            br#"{"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": "x"}"#,
            "`max_tokens`",
        ),
        (
            br#"{"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "stream": "yes"}"#,
            "`stream`",
        ),
    ];
    for path in ["/v1/chat/completions", "/chat/completions"] {
        for (body, field) in cases {
            let resp = post(
                &proxy.at(path),
                &[("content-type", "application/json")],
                body,
            );
            let e = assert_openai_error(&resp, 400, Some("invalid_request_error"));
            let message = e["message"].as_str().unwrap();
            assert!(
                message.contains(field),
                "{path} {:?}: {message}",
                String::from_utf8_lossy(body)
            );
        }
    }
    assert!(fake.requests_to("/chat/completions").is_empty());
}
