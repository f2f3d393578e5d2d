//! The routing rule of DESIGN.md §3 on the wire: each inbound API x each kind of catalog
//! model reaches the one upstream endpoint the catalog allows, and answers in the client's
//! own format. The fake refuses a catalog model on an endpoint it does not list (400
//! `unsupported_api_for_model`), so a wrong route fails here.

use crate::support::scenarios::TEXT_PARTS;
use crate::support::*;
use crate::{anthropic_blocks, assert_anthropic_stream, chat_request, named_events, post_json};
use serde_json::{Value, json};

const CHAT: &str = "/chat/completions";
const RESPONSES: &str = "/responses";
const MESSAGES: &str = "/v1/messages";
const ENDPOINTS: [&str; 3] = [CHAT, RESPONSES, MESSAGES];

/// (model, what it stands for, upstream path for inbound chat, responses, messages).
const MATRIX: [(&str, &str, [&str; 3]); 5] = [
    ("gpt-4.1", "chat-only", [CHAT, CHAT, CHAT]),
    (
        "gpt-5.2-codex",
        "responses-only",
        [RESPONSES, RESPONSES, RESPONSES],
    ),
    (
        "claude-sonnet-4.5",
        "messages-capable",
        [CHAT, CHAT, MESSAGES],
    ),
    (
        "gemini-2.5-pro",
        "no supported_endpoints",
        [CHAT, CHAT, CHAT],
    ),
    ("no-such-model-7", "unknown", [CHAT, RESPONSES, CHAT]),
];

fn request(inbound: &str, model: &str, stream: bool) -> Value {
    match inbound {
        "/v1/chat/completions" => chat_request(model, "hi", stream),
        "/v1/responses" => json!({"model": model, "input": "hi", "stream": stream}),
        _ => json!({"model": model, "max_tokens": 100, "stream": stream,
                    "messages": [{"role": "user", "content": "hi"}]}),
    }
}

/// The answer's text, read in the inbound API's own format.
fn answer_text(inbound: &str, resp: &Resp, stream: bool) -> String {
    let text = resp.text();
    match (inbound, stream) {
        ("/v1/chat/completions", false) => {
            let v = resp.json();
            assert_eq!(v["object"], "chat.completion", "{v}");
            v["choices"][0]["message"]["content"]
                .as_str()
                .unwrap_or("")
                .to_string()
        }
        ("/v1/chat/completions", true) => {
            let events = parse_sse(&text);
            assert!(events.last().unwrap().is_done(), "{text}");
            data_json(&events)
                .iter()
                .filter_map(|c| {
                    c.pointer("/choices/0/delta/content")
                        .and_then(Value::as_str)
                })
                .collect()
        }
        ("/v1/responses", false) => {
            let v = resp.json();
            assert_eq!(v["object"], "response", "{v}");
            assert_eq!(v["status"], "completed", "{v}");
            assert!(v["usage"]["total_tokens"].is_u64(), "{v}");
            v["output"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i["type"] == "message")
                .filter_map(|i| i["content"][0]["text"].as_str())
                .collect()
        }
        ("/v1/responses", true) => {
            let events = named_events(&text);
            let (last, data) = events.last().unwrap();
            assert_eq!(last, "response.completed", "{text}");
            assert!(data["response"]["usage"]["total_tokens"].is_u64(), "{data}");
            events
                .iter()
                .filter(|(n, _)| n == "response.output_text.delta")
                .filter_map(|(_, d)| d["delta"].as_str())
                .collect()
        }
        (_, false) => {
            let v = resp.json();
            assert_eq!(v["type"], "message", "{v}");
            assert_eq!(v["stop_reason"], "end_turn", "{v}");
            v["content"][0]["text"].as_str().unwrap_or("").to_string()
        }
        (_, true) => {
            let blocks = anthropic_blocks(&assert_anthropic_stream(&named_events(&text)));
            blocks[0]["text"].as_str().unwrap_or("").to_string()
        }
    }
}

#[test]
fn every_inbound_api_reaches_every_model_kind_on_the_allowed_endpoint() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let inbound = ["/v1/chat/completions", "/v1/responses", "/v1/messages"];
    for (model, kind, upstream) in MATRIX {
        for (api, want) in inbound.iter().zip(upstream) {
            for stream in [false, true] {
                let what = format!("{api} x {model} ({kind}), stream={stream}");
                let before: Vec<usize> = ENDPOINTS
                    .iter()
                    .map(|p| fake.requests_to(p).len())
                    .collect();
                let resp = post_json(&proxy, api, &[], &request(api, model, stream));
                assert_eq!(resp.status, 200, "{what}: {}", resp.text());
                let after: Vec<usize> = ENDPOINTS
                    .iter()
                    .map(|p| fake.requests_to(p).len())
                    .collect();
                let sent: Vec<&str> = ENDPOINTS
                    .iter()
                    .zip(before.iter().zip(&after))
                    .flat_map(|(p, (b, a))| std::iter::repeat_n(*p, a - b))
                    .collect();
                assert_eq!(sent, [want], "{what}: upstream calls");
                let up = fake.requests_to(want).pop().unwrap().json();
                assert_eq!(up["model"], model, "{what}");
                assert_eq!(up["stream"] == true, stream, "{what}: {up}");
                assert_eq!(
                    answer_text(api, &resp, stream),
                    TEXT_PARTS.concat(),
                    "{what}"
                );
            }
        }
    }
}

/// `--no-native-messages` moves Claude off Copilot's Messages endpoint, and only there.
#[test]
fn no_native_messages_changes_only_the_messages_route() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--no-native-messages"], &[]);
    for (api, want) in [
        ("/v1/messages", CHAT),
        ("/v1/chat/completions", CHAT),
        ("/v1/responses", CHAT),
    ] {
        let resp = post_json(&proxy, api, &[], &request(api, "claude-opus-4.8", true));
        assert_eq!(resp.status, 200, "{api}: {}", resp.text());
        assert_eq!(answer_text(api, &resp, true), TEXT_PARTS.concat(), "{api}");
        assert_eq!(
            fake.requests_to(want).pop().unwrap().json()["model"],
            "claude-opus-4.8"
        );
    }
    assert!(fake.requests_to(MESSAGES).is_empty());
    assert!(fake.requests_to(RESPONSES).is_empty());
}

/// The fake itself: a catalog model on an endpoint it does not list is refused as
/// Copilot refuses it, which is what makes the matrix above meaningful.
#[test]
fn the_fake_refuses_endpoints_a_model_does_not_list() {
    let fake = Fake::start();
    let token = get(
        &format!("{}/copilot_internal/v2/token", fake.url),
        &[("authorization", &format!("token {GITHUB_TOKEN}"))],
    )
    .json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let bearer = format!("Bearer {token}");
    let call = |path: &str, model: &str| {
        let body = request("/v1/chat/completions", model, false);
        let mut body = body;
        body["input"] = json!("hi");
        post(
            &format!("{}{path}", fake.url),
            &[
                ("authorization", &bearer),
                ("content-type", "application/json"),
            ],
            body.to_string().as_bytes(),
        )
    };
    for (path, model, ok) in [
        (CHAT, "gpt-5.2-codex", false),
        (RESPONSES, "gpt-4.1", false),
        (RESPONSES, "claude-sonnet-4.5", false),
        (RESPONSES, "gemini-2.5-pro", false),
        (MESSAGES, "gpt-4.1", false),
        (MESSAGES, "gemini-2.5-pro", false),
        (CHAT, "gemini-2.5-pro", true),
        (CHAT, "claude-sonnet-4.5", true),
        (RESPONSES, "gpt-5.2-codex", true),
        (CHAT, "not-in-the-catalog", true),
    ] {
        let resp = call(path, model);
        if ok {
            assert_eq!(resp.status, 200, "{path} {model}: {}", resp.text());
            continue;
        }
        assert_eq!(resp.status, 400, "{path} {model}: {}", resp.text());
        assert_eq!(
            resp.json()["error"]["code"],
            "unsupported_api_for_model",
            "{path} {model}"
        );
    }
}
