//! Unit tests of `translate::chat_responses::request`: Chat requests in, Responses requests out.

use super::*;
use serde_json::json;

/// The Responses request as upstream reads it, through the bytes entry and the tree
/// entry; both write the bytes of the tree translation they replaced (`oracle`), and
/// fail with its words.
fn chat_to_responses(req: &Value, model: &str) -> Result<Value, String> {
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    let mut req = req.clone();
    if let Some(r) = req.as_object_mut() {
        r.insert("model".into(), model.into());
    }
    let req = &req;
    let from_bytes = request_from_bytes(&serde_json::to_vec(req).unwrap()).map(text);
    let from_value = request_from_value(req).map(text);
    let old = oracle::chat_to_responses(req, model).map(|v| v.to_string());
    assert_eq!(from_bytes, old, "{req}");
    assert_eq!(from_value, old, "{req}");
    old.map(|o| serde_json::from_str(&o).unwrap())
}

#[test]
fn chat_request_becomes_a_responses_request() {
    let req = json!({
        "model": "gpt-5.5",
        "messages": [
            {"role": "system", "content": "You are helpful."},
            {"role": "system", "content": [{"type": "text", "text": "Be terse."}]},
            {"role": "user", "content": [{"type": "text", "text": "What is in this image?"},
                                         {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]},
            {"role": "assistant", "content": "Let me check.", "reasoning_text": "Look first.",
             "reasoning_opaque": "gAAAAB==@rs_42",
             "tool_calls": [{"id": "call_1", "type": "function",
                             "function": {"name": "get_weather", "arguments": "{\"city\":\"London\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 15}"},
            {"role": "system", "content": "Late rule."},
            {"role": "user", "content": "Thanks!"},
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "max_tokens": 500,
        "reasoning_effort": "high",
        "response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}, "strict": true}},
        "stream": true,
        "stream_options": {"include_usage": true},
        "stop": ["x"],
        "user": "u1",
    });
    let r = chat_to_responses(&req, "gpt-5.5").unwrap();
    assert_eq!(r["model"], "gpt-5.5");
    assert_eq!(r["instructions"], "You are helpful.\n\nBe terse.");
    assert!(r.get("store").is_none());
    assert_eq!(r["include"], json!(["reasoning.encrypted_content"]));
    assert_eq!(r["max_output_tokens"], 500);
    assert_eq!(r["reasoning"], json!({"effort": "high", "summary": "auto"}));
    assert_eq!(
        r["tool_choice"],
        json!({"type": "function", "name": "get_weather"})
    );
    assert_eq!(
        r["tools"],
        json!([{"type": "function", "name": "get_weather", "parameters": {"type": "object"}, "strict": false}])
    );
    assert_eq!(
        r["text"],
        json!({"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}, "strict": true}})
    );
    assert_eq!(r["stream"], true);
    for absent in [
        "messages",
        "stream_options",
        "stop",
        "user",
        "max_tokens",
        "reasoning_effort",
    ] {
        assert!(r.get(absent).is_none(), "{absent}");
    }
    assert_eq!(
        r["input"],
        json!([
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "What is in this image?"},
                {"type": "input_image", "image_url": "data:image/png;base64,AA", "detail": "auto"}]},
            {"type": "reasoning", "id": "rs_42", "encrypted_content": "gAAAAB==",
             "summary": [{"type": "summary_text", "text": "Look first."}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me check."}]},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"London\"}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "{\"temp\": 15}"},
            {"type": "message", "role": "developer", "content": "Late rule."},
            {"type": "message", "role": "user", "content": "Thanks!"},
        ])
    );
}

#[test]
fn request_edge_cases() {
    let base = |extra: Value| {
        let mut r = json!({"messages": [{"role": "user", "content": "hi"}]});
        r.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        r
    };
    // tool_choice without tools is dropped; max_tokens is raised to the minimum.
    let r = chat_to_responses(
        &base(json!({"tool_choice": "auto", "max_completion_tokens": 1})),
        "m",
    )
    .unwrap();
    assert!(r.get("tool_choice").is_none() && r.get("tools").is_none());
    assert_eq!(r["max_output_tokens"], MIN_OUTPUT_TOKENS);
    assert!(r.get("reasoning").is_none());
    // The Messages path's thinking budget asks for summaries.
    let r = chat_to_responses(&base(json!({"thinking_budget": 1000})), "m").unwrap();
    assert_eq!(r["reasoning"], json!({"summary": "auto"}));

    let errors = [
        (json!({}), "`messages`"),
        (base(json!({"n": 2})), "`n`"),
        (json!({"messages": [{"content": "x"}]}), "messages.0.role"),
        (
            json!({"messages": [{"role": "tool", "content": "x"}]}),
            "messages.0.tool_call_id",
        ),
        (
            json!({"messages": [{"role": "user", "content": 1}]}),
            "messages.0.content",
        ),
        (
            base(json!({"tools": [{"type": "function", "function": {}}]})),
            "tools.0.function.name",
        ),
        (base(json!({"max_tokens": "x"})), "max_tokens"),
    ];
    for (req, want) in errors {
        let err = chat_to_responses(&req, "m")
            .err()
            .unwrap_or_else(|| panic!("accepted {req}"));
        assert!(err.contains(want), "{req}: {err}");
    }
}

/// Loose shapes clients send, each translated as the tree translation did (the helper
/// compares the bytes, or the error).
#[test]
fn loose_requests_read_as_the_trees_did() {
    let msgs = |m: Value| json!({"messages": m});
    let cases = [
        msgs(
            json!([{"role": "user", "content": null}, {"role": "user", "content": ""},
                    {"role": "user", "content": [7, {"type": "text"}, {"type": "audio"},
                        {"type": "image_url", "image_url": "https://x/a.png"},
                        {"type": "image_url", "image_url": {"detail": "low"}},
                        {"type": "image_url", "image_url": {"url": "u", "detail": 3}}]}]),
        ),
        msgs(
            json!([{"role": "user", "content": "a \"quoted\" \u{1F600}\n"},
                    {"role": "assistant", "content": [{"type": "text", "text": "x"}, {"text": "y"}],
                     "reasoning_opaque": "", "reasoning_text": "",
                     "tool_calls": [{"id": "c1", "custom": null},
                                    {"id": "c2", "custom": {"name": "apply_patch", "input": "*** Begin"}},
                                    {"id": "c3", "function": {"name": "f", "arguments": {"a": 1}}},
                                    "junk"]}]),
        ),
        msgs(json!([{"role": "user", "content": "go"},
                    {"role": "assistant", "tool_calls": [{"id": "c2", "custom": {"name": "p"}},
                                                          {"id": "c3", "function": {"name": "f"}}]},
                    {"role": "tool", "tool_call_id": "c2", "content": {"b": 1, "a": [true]}},
                    {"role": "tool", "tool_call_id": "c3", "content": 1.5},
                    {"role": "tool", "tool_call_id": "c3"},
                    {"role": "tool", "tool_call_id": "c3", "content": [{"type": "text", "text": "t"},
                        {"type": "image_url", "image_url": {"url": "data:x"}}, {"type": "other"}]},
                    {"role": "developer", "content": [{"type": "text", "text": "late"}]},
                    {"role": "system", "content": 5}])),
        json!({"messages": [{"role": "system", "content": ""}, {"role": "user", "content": "q"}],
               "tools": [{"type": "function", "function": {"name": "f", "description": 1, "strict": true}},
                         {"type": "custom", "custom": {"name": "p", "format": {"type": "grammar"}}},
                         {"type": "web_search", "web_search": {"name": "w"}}, {"function": null}],
               "tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "required"}},
               "parallel_tool_calls": false, "temperature": 0.25, "top_p": 1, "max_tokens": null,
               "max_completion_tokens": 4000, "prompt_cache_key": "k", "verbosity": "low",
               "reasoning": {"effort": "low"}, "reasoning_effort": "minimal",
               "response_format": {"type": "json_schema", "json_schema": {"schema": {}, "description": null}},
               "thinking_budget": null, "stream": "yes", "n": 1}),
        json!({"messages": [{"role": "user", "content": "q"}], "tools": null,
               "tool_choice": "required", "response_format": {"type": "json_object"}}),
        json!({"messages": "hi"}),
        json!({"messages": [{"role": "user", "content": "q"}], "tools": {}}),
        json!({"messages": [{"role": "user", "content": "q"}], "temperature": "hot"}),
        json!({"messages": [{"role": "user", "content": "q"}], "max_tokens": -1}),
        json!({"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f"}}]}]}),
        json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": 1}]}]}),
        json!({"messages": [{"role": "narrator", "content": "x"}]}),
        json!({"messages": [{"role": 1, "content": "x"}]}),
        json!({"messages": [{"role": "user", "content": true}]}),
        json!([1]),
    ];
    for req in cases {
        let _ = chat_to_responses(&req, "gpt-5.5");
    }
    // A duplicate key is read as the tree reads it: the last one wins.
    let dup = br#"{"messages": [{"role": "user", "content": "a"}], "messages": [{"role": "user", "content": "b"}]}"#;
    let bytes = request_from_bytes(dup).unwrap();
    assert!(
        String::from_utf8(bytes)
            .unwrap()
            .contains("\"content\":\"b\"")
    );
    assert!(request_from_bytes(b"{oops").is_err());
    // The upstream model is the one the body names (the routes have resolved it).
    let named = br#"{"model": "gpt-5.5", "messages": []}"#;
    let bytes = String::from_utf8(request_from_bytes(named).unwrap()).unwrap();
    assert!(bytes.contains("\"model\":\"gpt-5.5\""), "{bytes}");
}
