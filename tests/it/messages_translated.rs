//! `POST /v1/messages` for models without Copilot's native Messages endpoint (issue 4,
//! DESIGN.md §3-4): the request is translated to Chat Completions and the answer back, for
//! a chat-only model (`gpt-4.1`) and for Claude with `--no-native-messages`. Claude Code's
//! own request shape, golden event sequences, thinking with signatures both ways, tool
//! calls and aliases, usage. Faults and recovery are in `messages_recovery.rs`.

use crate::support::scenarios::{ANSWER, REASONING_PARTS, SIGNATURE, TEXT_PARTS, tool_arguments};
use crate::support::*;
use crate::{
    anthropic_blocks, assert_anthropic_stream, message_request, named_events, post_json,
    post_message,
};
use serde_json::{Value, json};

pub(crate) const CHAT_ONLY: &str = "gpt-4.1";
const CLAUDE: &str = "claude-sonnet-4.5";
/// Claude Code's `metadata.user_id`: a JSON document inside a string.
const USER_ID: &str = r#"{"device_id":"5f1c0e0d9a7b4c3e8f2a1b6d7c9e0f1a2b3c4d5e6f708192a3b4c5d6e7f80912","account_uuid":"","session_id":"0b6f3c1e-2d4a-4f7b-9e8c-1a2b3c4d5e6f"}"#;
const SYSTEM_TEXTS: [&str; 3] = [
    "x-anthropic-billing-header: cc_version=2.1.330.a1b; cc_entrypoint=sdk-cli;",
    "You are a Claude agent, built on Anthropic's Claude Agent SDK.",
    "You are an interactive agent that helps users with software engineering tasks.",
];
const ENVIRONMENT: &str = "Working directory: /work. Deferred tools: WebFetch, WebSearch.";

/// Claude Code's tools: plain custom tools (no `type`) and deferred ones.
pub(crate) fn claude_code_tools() -> Value {
    let object = |props: Value, required: Value| {
        json!({"type": "object", "properties": props, "required": required,
               "additionalProperties": false, "$schema": "http://json-schema.org/draft-07/schema#"})
    };
    json!([
        {"name": "Bash", "description": "Executes a bash command.",
         "input_schema": object(json!({"command": {"type": "string"}, "timeout": {"type": "number"},
                                       "description": {"type": "string"},
                                       "run_in_background": {"type": "boolean"},
                                       "dangerouslyDisableSandbox": {"type": "boolean"}}),
                                json!(["command"]))},
        {"name": "Read", "description": "Reads a file.",
         "input_schema": object(json!({"file_path": {"type": "string"}}), json!(["file_path"]))},
        {"name": "ToolSearch", "description": "Loads deferred tools.",
         "input_schema": object(json!({"query": {"type": "string"}, "limit": {"type": "number"}}),
                                json!(["query"]))},
        {"name": "DeferredToolPlaceholder", "description": "Stands in for deferred tools.",
         "input_schema": object(json!({}), json!([])), "defer_loading": true}
    ])
}

/// The body Claude Code sends (reference/clients.md §3) around `messages`.
pub(crate) fn claude_code_request(model: &str, messages: Value) -> Value {
    json!({
        "model": model,
        "max_tokens": 32000,
        "stream": true,
        "metadata": {"user_id": USER_ID},
        "system": [
            {"type": "text", "text": SYSTEM_TEXTS[0]},
            {"type": "text", "text": SYSTEM_TEXTS[1], "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": SYSTEM_TEXTS[2], "cache_control": {"type": "ephemeral"}}
        ],
        "messages": messages,
        "tools": claude_code_tools(),
        "thinking": {"type": "adaptive", "display": "omitted"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "medium"}
    })
}

/// The first turn's messages: a `role: "system"` message with empty content (`--bare`),
/// one with the environment, then the prompt as several text blocks.
pub(crate) fn first_turn(prompt: &str) -> Vec<Value> {
    vec![
        json!({"role": "system", "content": [], "output_config": {"effort": "medium"}}),
        json!({"role": "system", "content": [{"type": "text", "text": ENVIRONMENT,
                                               "cache_control": {"type": "ephemeral"}}]}),
        json!({"role": "user", "content": [
            {"type": "text", "text": "<system-reminder>Today is 2026-05-01.</system-reminder>"},
            {"type": "text", "text": prompt, "cache_control": {"type": "ephemeral"}}
        ]}),
    ]
}

pub(crate) const CLAUDE_CODE_HEADERS: [(&str, &str); 5] = [
    ("anthropic-version", "2023-06-01"),
    (
        "anthropic-beta",
        "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27",
    ),
    ("x-app", "cli"),
    ("user-agent", "claude-cli/2.1.330 (external, sdk-cli)"),
    ("x-stainless-retry-count", "0"),
];

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Claude Code's two-turn tool loop, streamed, on the translated path: turn one thinks and
/// calls ToolSearch; turn two returns a `tool_reference` result with the thinking block
/// (and its signature) in the history, and gets text.
#[test]
fn claude_code_tool_loop_streams_through_chat_completions() {
    for (model, args) in [
        (CHAT_ONLY, &[][..]),
        (CLAUDE, &["--no-native-messages"][..]),
    ] {
        let fake = Fake::start();
        let proxy = Proxy::start(&fake, args, &[]);
        let mut messages = first_turn("Which tools can fetch a web page?");
        fake.push_scenario(Scenario::ThinkCall("ToolSearch".into()));
        let body = claude_code_request(model, json!(messages));
        let resp = post_json(
            &proxy,
            "/v1/messages?beta=true",
            &CLAUDE_CODE_HEADERS,
            &body,
        );
        assert_eq!(resp.status, 200, "{model}: {}", resp.text());
        assert_eq!(
            resp.header("content-type"),
            Some("text/event-stream; charset=utf-8")
        );

        // What went upstream: a Chat request.
        assert!(fake.requests_to("/v1/messages").is_empty(), "{model}");
        let ups = fake.requests_to("/chat/completions");
        assert_eq!(ups.len(), 1, "{model}");
        assert_eq!(ups[0].header("x-initiator"), Some("user"), "{model}");
        let up = ups[0].json();
        assert_eq!(up["model"], model);
        assert_eq!(up["stream"], true);
        assert_eq!(up["stream_options"]["include_usage"], true);
        let chat = up["messages"].as_array().unwrap();
        assert_eq!(chat[0]["role"], "system", "{up}");
        let system = chat[0]["content"].as_str().unwrap();
        let mut at = 0;
        for part in SYSTEM_TEXTS.iter().chain([&ENVIRONMENT]) {
            let found = system[at..].find(part);
            assert!(found.is_some(), "{model}: {part:?} in order in {system:?}");
            at += found.unwrap();
        }
        assert_eq!(
            chat.iter().filter(|m| m["role"] == "system").count(),
            1,
            "one system message, first: {up}"
        );
        assert_eq!(chat.len(), 2, "{up}");
        assert_eq!(chat[1]["role"], "user");
        let prompt = text_of(&chat[1]["content"]);
        assert!(
            prompt.contains("Today is 2026-05-01") && prompt.contains("Which tools"),
            "{prompt}"
        );
        let tools = up["tools"].as_array().unwrap();
        let client_tools = claude_code_tools();
        assert_eq!(tools.len(), 4, "{up}");
        for (tool, sent) in tools.iter().zip(client_tools.as_array().unwrap()) {
            assert_eq!(tool["type"], "function");
            assert_eq!(tool["function"]["name"], sent["name"]);
            assert_eq!(tool["function"]["description"], sent["description"]);
            assert_eq!(tool["function"]["parameters"], sent["input_schema"]);
        }
        let text = up.to_string();
        for key in [
            "defer_loading",
            "cache_control",
            "context_management",
            "output_config",
            "metadata",
        ] {
            assert!(!text.contains(key), "{model}: `{key}` went upstream: {up}");
        }
        assert!(up.get("thinking").is_none(), "{up}");
        // Only a model whose catalog entry lists reasoning efforts gets one.
        if model == CLAUDE {
            assert_eq!(up["reasoning_effort"], "medium", "{up}");
        } else {
            assert!(up.get("reasoning_effort").is_none(), "{model}: {up}");
        }
        assert_eq!(up["user"], USER_ID, "{up}");

        // What the client got: thinking signed, then the tool call, in order.
        let events = assert_anthropic_stream(&named_events(&resp.text()));
        let names: Vec<String> = events
            .iter()
            .map(|(n, d)| match n.as_str() {
                "content_block_delta" => format!("delta:{}", d["delta"]["type"].as_str().unwrap()),
                "content_block_start" => {
                    format!("start:{}", d["content_block"]["type"].as_str().unwrap())
                }
                _ => n.clone(),
            })
            .collect();
        let mut expected = vec![
            "message_start",
            "start:thinking",
            "delta:thinking_delta",
            "delta:thinking_delta",
            "delta:signature_delta",
            "content_block_stop",
            "start:tool_use",
        ];
        expected.extend(["delta:input_json_delta"; 10]);
        expected.extend(["content_block_stop", "message_delta", "message_stop"]);
        assert_eq!(names, expected, "{model}");
        let start = &events[0].1["message"];
        assert_eq!(start["model"], model);
        assert_eq!(start["role"], "assistant");
        assert!(
            start["usage"]["input_tokens"].as_u64().unwrap() > 0,
            "the estimate: {start}"
        );
        let delta = &events[events.len() - 2].1;
        assert_eq!(delta["delta"]["stop_reason"], "tool_use");
        assert_eq!(delta["usage"]["input_tokens"], 12, "{delta}");
        assert_eq!(delta["usage"]["output_tokens"], 5, "{delta}");
        let blocks = anthropic_blocks(&events);
        assert_eq!(blocks[0]["thinking"], REASONING_PARTS.concat());
        assert_eq!(blocks[0]["signature"], SIGNATURE);
        assert_eq!(blocks[1]["name"], "ToolSearch");
        let call_id = blocks[1]["id"].as_str().unwrap().to_string();
        let input: Value = serde_json::from_str(&tool_arguments("ToolSearch")).unwrap();
        assert_eq!(blocks[1]["input"], input);

        // Turn two: the assistant turn as Claude Code replays it, then a ToolSearch result
        // of `tool_reference` blocks, and the deferred tool now loaded.
        messages.push(json!({"role": "assistant", "content": [
            {"type": "thinking", "thinking": blocks[0]["thinking"], "signature": blocks[0]["signature"]},
            {"type": "tool_use", "id": call_id, "name": "ToolSearch", "input": input}
        ]}));
        messages.push(json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": call_id, "content": [
                {"type": "tool_reference", "tool_name": "WebFetch"},
                {"type": "text", "text": "Tool WebFetch loaded.", "cache_control": {"type": "ephemeral"}}
            ]}
        ]}));
        let mut body = claude_code_request(model, json!(messages));
        body["tools"].as_array_mut().unwrap().push(json!({
            "name": "WebFetch", "description": "Fetches a URL.", "defer_loading": true,
            "input_schema": {"type": "object", "properties": {"url": {"type": "string"}}}}));
        let resp = post_json(
            &proxy,
            "/v1/messages?beta=true",
            &CLAUDE_CODE_HEADERS,
            &body,
        );
        assert_eq!(resp.status, 200, "{model}: {}", resp.text());
        let ups = fake.requests_to("/chat/completions");
        assert_eq!(ups.len(), 2);
        assert_eq!(
            ups[1].header("x-initiator"),
            Some("agent"),
            "{model}: a tool-result turn"
        );
        let up = ups[1].json();
        let chat = up["messages"].as_array().unwrap();
        let assistant = chat
            .iter()
            .find(|m| m["role"] == "assistant")
            .unwrap_or_else(|| panic!("no assistant message: {up}"));
        assert_eq!(
            assistant["reasoning_text"],
            REASONING_PARTS.concat(),
            "{up}"
        );
        assert_eq!(assistant["reasoning_opaque"], SIGNATURE, "{up}");
        let call = &assistant["tool_calls"][0];
        assert_eq!(call["id"], call_id.as_str());
        assert_eq!(call["function"]["name"], "ToolSearch");
        let args: Value =
            serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(args, input);
        let tool = chat.last().unwrap();
        assert_eq!(tool["role"], "tool", "{up}");
        assert_eq!(tool["tool_call_id"], call_id.as_str());
        let result = text_of(&tool["content"]);
        assert!(
            result.contains("WebFetch") && result.contains("Tool WebFetch loaded."),
            "{result}"
        );
        assert_eq!(up["tools"].as_array().unwrap().len(), 5, "{up}");

        let events = assert_anthropic_stream(&named_events(&resp.text()));
        let blocks = anthropic_blocks(&events);
        assert_eq!(blocks.len(), 1, "{events:?}");
        assert_eq!(blocks[0]["type"], "text");
        assert_eq!(blocks[0]["text"], TEXT_PARTS.concat());
        let delta = &events[events.len() - 2].1;
        assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    }
}

/// Golden event sequences of the translated stream, one per upstream shape.
#[test]
fn golden_event_sequences() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let cases: [(&str, &[&str]); 5] = [
        (
            "text",
            &[
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ],
        ),
        (
            "usage-inline",
            &[
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ],
        ),
        (
            "reasoning",
            &[
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ],
        ),
        (
            "tools",
            &[
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ],
        ),
        (
            "call:Read",
            &[
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ],
        ),
    ];
    for (marker, expected) in cases {
        let body = message_request(CHAT_ONLY, &format!("scenario:{marker}"), true);
        let resp = post_json(&proxy, "/v1/messages", &[], &body);
        assert_eq!(resp.status, 200, "{marker}: {}", resp.text());
        let events = assert_anthropic_stream(&named_events(&resp.text()));
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, expected, "{marker}");
        let delta = &events[events.len() - 2].1;
        assert_eq!(
            delta["usage"]["input_tokens"], 12,
            "{marker}: real usage in message_delta: {delta}"
        );
        assert_eq!(delta["usage"]["output_tokens"], 5, "{marker}: {delta}");
        let blocks = anthropic_blocks(&events);
        let stop = delta["delta"]["stop_reason"].as_str().unwrap();
        match marker {
            "text" | "usage-inline" => {
                assert_eq!(stop, "end_turn");
                assert_eq!(blocks[0]["text"], TEXT_PARTS.concat());
            }
            "reasoning" => {
                assert_eq!(stop, "end_turn");
                assert_eq!(blocks[0]["type"], "thinking");
                assert_eq!(blocks[1]["text"], ANSWER);
            }
            "tools" => {
                assert_eq!(stop, "tool_use");
                assert_eq!(blocks[0]["name"], "get_weather");
                assert_eq!(blocks[0]["id"], "call_fake_0");
                assert_eq!(blocks[0]["input"], json!({"city": "Paris"}));
                assert_eq!(blocks[1]["name"], "get_time");
                assert_eq!(blocks[1]["id"], "call_fake_1");
                assert_eq!(blocks[1]["input"], json!({"tz": "CET"}));
            }
            _ => {
                assert_eq!(stop, "tool_use");
                let args: Value = serde_json::from_str(&tool_arguments("Read")).unwrap();
                assert_eq!(blocks[0]["input"], args);
            }
        }
    }
}

#[test]
fn thinking_is_signed_stream_and_not_and_goes_back_upstream() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--no-native-messages"], &[]);
    let resp = post_message(&proxy, CLAUDE, "scenario:reasoning", true);
    let events = assert_anthropic_stream(&named_events(&resp.text()));
    let blocks = anthropic_blocks(&events);
    assert_eq!(
        blocks[0],
        json!({"type": "thinking", "thinking": REASONING_PARTS.concat(), "signature": SIGNATURE})
    );
    assert_eq!(blocks[1], json!({"type": "text", "text": ANSWER}));

    let resp = post_message(&proxy, CLAUDE, "scenario:reasoning", false);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let message = resp.json();
    assert_eq!(message["type"], "message");
    assert_eq!(message["role"], "assistant");
    assert_eq!(message["model"], CLAUDE);
    assert_eq!(
        message["content"],
        json!([{"type": "thinking", "thinking": REASONING_PARTS.concat(), "signature": SIGNATURE},
               {"type": "text", "text": ANSWER}])
    );
    assert_eq!(message["stop_reason"], "end_turn");
    assert_eq!(message["usage"]["input_tokens"], 12);
    assert_eq!(message["usage"]["output_tokens"], 5);

    // The next turn sends the thinking and its signature back.
    let body = json!({"model": CLAUDE, "max_tokens": 1024, "messages": [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": message["content"]},
        {"role": "user", "content": "And 3+3?"}
    ]});
    let resp = post_json(&proxy, "/v1/messages", &[], &body);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let up = fake.requests_to("/chat/completions").pop().unwrap();
    assert_eq!(up.header("x-initiator"), Some("user"));
    let up = up.json();
    assert_eq!(
        up["messages"][1],
        json!({"role": "assistant", "content": ANSWER,
               "reasoning_text": REASONING_PARTS.concat(), "reasoning_opaque": SIGNATURE}),
        "{up}"
    );
}

#[test]
fn parallel_tool_calls_become_tool_use_blocks_non_stream_too() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let resp = post_message(&proxy, CHAT_ONLY, "scenario:tools", false);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let message = resp.json();
    assert_eq!(message["stop_reason"], "tool_use");
    assert_eq!(
        message["content"],
        json!([
            {"type": "tool_use", "id": "call_fake_0", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_fake_1", "name": "get_time", "input": {"tz": "CET"}}
        ])
    );
}

/// A 68-character MCP tool name goes upstream under an alias Copilot accepts and comes
/// back restored, in the stream, in a JSON answer and in the history of the next turn.
#[test]
fn long_mcp_tool_name_round_trips_through_its_alias() {
    let long = "mcp__claude_in_chrome__take_a_full_resolution_screenshot_of_the_page";
    assert_eq!(long.len(), 68);
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let tool = json!({"name": long, "description": "Screenshot.",
                      "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}}});
    for stream in [true, false] {
        let mut body = message_request(CHAT_ONLY, "scenario:first-tool", stream);
        body["tools"] = json!([tool]);
        body["tool_choice"] = json!({"type": "tool", "name": long});
        let resp = post_json(&proxy, "/v1/messages", &[], &body);
        assert_eq!(resp.status, 200, "{}", resp.text());
        let up = fake.requests_to("/chat/completions").pop().unwrap().json();
        let alias = up["tools"][0]["function"]["name"].as_str().unwrap();
        assert_ne!(alias, long);
        assert!(
            alias.len() <= 64
                && alias
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
            "{alias}"
        );
        assert_eq!(up["tool_choice"]["function"]["name"], alias, "{up}");
        let content = if stream {
            anthropic_blocks(&assert_anthropic_stream(&named_events(&resp.text())))
        } else {
            resp.json()["content"].as_array().unwrap().clone()
        };
        assert_eq!(content[0]["type"], "tool_use");
        assert_eq!(content[0]["name"], long, "stream={stream}");
        assert!(
            !resp.text().contains(alias),
            "alias leaked: {}",
            resp.text()
        );
    }
    // In the history of the next turn, the call goes up under the same alias.
    let body = json!({"model": CHAT_ONLY, "max_tokens": 100, "tools": [tool], "messages": [
        {"role": "user", "content": "screenshot"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": long, "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "done"}]}
    ]});
    let resp = post_json(&proxy, "/v1/messages", &[], &body);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let up = fake.requests_to("/chat/completions").pop().unwrap().json();
    let alias = up["tools"][0]["function"]["name"].clone();
    assert_eq!(
        up["messages"][1]["tool_calls"][0]["function"]["name"],
        alias
    );
}

/// A `length` finish in the middle of tool arguments: the call is not passed off as a
/// finished one.
#[test]
fn arguments_cut_by_length_stop_with_max_tokens() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let resp = post_message(&proxy, CHAT_ONLY, "scenario:tool-length", true);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let events = assert_anthropic_stream(&named_events(&resp.text()));
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "max_tokens", "{delta}");
    let resp = post_message(&proxy, CHAT_ONLY, "scenario:tool-length", false);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["stop_reason"], "max_tokens", "{}", resp.text());
}
