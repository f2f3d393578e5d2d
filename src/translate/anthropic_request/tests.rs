use super::*;
use crate::features::billing::anthropic_user_turn as user_turn;

/// The translation with the Chat request as the JSON Copilot receives.
pub(crate) struct ChatRequest {
    pub(crate) body: Value,
    pub(crate) tools: ToolNames,
}

pub(crate) fn to_chat(req: &Value, upstream_model: &str) -> Result<ChatRequest, String> {
    let req = req
        .as_object()
        .ok_or("the request body must be a JSON object")?;
    let Translation { chat, tools } = object_to_chat(req, upstream_model)?;
    Ok(ChatRequest {
        body: serde_json::to_value(chat).unwrap(),
        tools,
    })
}

fn chat(req: Value) -> ChatRequest {
    to_chat(&req, "gpt-4.1").unwrap_or_else(|e| panic!("{e}: {req}"))
}

fn base(extra: Value) -> Value {
    let mut req = json!({"model": "claude-sonnet-4-5", "max_tokens": 100,
                         "messages": [{"role": "user", "content": "hi"}]});
    for (k, v) in extra.as_object().unwrap() {
        req[k] = v.clone();
    }
    req
}

#[test]
fn top_level_fields() {
    let r = chat(base(json!({
        "stream": true, "temperature": 0.2, "top_p": 0.9, "top_k": 5,
        "stop_sequences": ["END"], "metadata": {"user_id": "{\"session_id\":\"s\"}"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "service_tier": "auto"
    })));
    assert_eq!(
        r.body,
        json!({
            "model": "gpt-4.1", "max_tokens": 100, "temperature": 0.2, "top_p": 0.9,
            "stop": ["END"], "stream": true, "stream_options": {"include_usage": true},
            "user": "{\"session_id\":\"s\"}",
            "messages": [{"role": "user", "content": "hi"}]
        })
    );
    let r = chat(base(json!({"stream": false})));
    assert!(r.body.get("stream").is_none() && r.body.get("stream_options").is_none());
}

#[test]
fn client_errors_name_the_field() {
    let cases: Vec<(Value, &str)> = vec![
        (json!([]), "JSON object"),
        (json!({"model": "m"}), "messages: field required"),
        (json!({"messages": {}}), "messages: must be an array"),
        (json!({"messages": []}), "at least one message"),
        (json!({"messages": ["hi"]}), "messages.0.role"),
        (
            json!({"messages": [{"role": "bot", "content": "x"}]}),
            "messages.0.role",
        ),
        (
            json!({"messages": [{"role": "user", "content": 5}]}),
            "messages.0.content",
        ),
        (
            json!({"messages": [{"role": "user", "content": ["x"]}]}),
            "messages.0.content.0",
        ),
        (base(json!({"max_tokens": "10"})), "max_tokens"),
        (base(json!({"temperature": "hot"})), "temperature"),
        (base(json!({"stop_sequences": "END"})), "stop_sequences"),
        (base(json!({"system": 3})), "system"),
        (
            base(json!({"tools": [{"input_schema": {}}]})),
            "tools.0.name",
        ),
        (base(json!({"tool_choice": "auto"})), "tool_choice"),
    ];
    for (req, want) in cases {
        let err = to_chat(&req, "m")
            .err()
            .unwrap_or_else(|| panic!("accepted {req}"));
        assert!(err.contains(want), "{req}: {err}");
    }
}

#[test]
fn system_prompt_and_system_messages() {
    let r = chat(json!({
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=1"},
            {"type": "text", "text": "You are Claude.", "cache_control": {"type": "ephemeral"}}
        ],
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "env: linux", "cache_control": {"type": "ephemeral"}}],
             "output_config": {"effort": "medium"}},
            {"role": "system", "content": []},
            {"role": "user", "content": "hi"}
        ]
    }));
    assert_eq!(
        r.body["messages"],
        json!([
            {"role": "system", "content": "x-anthropic-billing-header: cc_version=1\n\nYou are Claude.\n\nenv: linux"},
            {"role": "user", "content": "hi"}
        ])
    );
    let r = chat(
        json!({"system": "", "messages": [{"role": "system"}, {"role": "user", "content": "hi"}]}),
    );
    assert_eq!(
        r.body["messages"],
        json!([{"role": "user", "content": "hi"}])
    );
}

#[test]
fn tools_and_tool_choice() {
    let long = "mcp__plugin_chrome-devtools-mcp_chrome-devtools__get_console_message";
    let tools = json!([
        {"name": "Read", "description": "Read a file", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}},
        {"name": long, "input_schema": {"type": "object"}, "defer_loading": true, "strict": true},
        {"type": "bash_20250124", "name": "bash"},
        {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 8}
    ]);
    let r = chat(base(
        json!({"tools": tools, "tool_choice": {"type": "tool", "name": long}}),
    ));
    let sent = r.body["tools"].as_array().unwrap();
    let alias = r.tools.to_upstream(long);
    assert_ne!(alias, long);
    assert_eq!(
        sent[0],
        json!({"type": "function", "function": {"name": "Read", "description": "Read a file", "parameters": {"type": "object"}}})
    );
    assert_eq!(
        sent[1],
        json!({"type": "function", "function": {"name": alias, "parameters": {"type": "object"}, "strict": true}})
    );
    assert_eq!(sent[2]["function"]["name"], "bash");
    assert!(sent[2]["function"]["parameters"]["properties"]["command"].is_object());
    let editor = &sent[3]["function"]["parameters"];
    assert_eq!(editor["required"], json!(["command", "path"]));
    assert!(
        !editor["properties"]["command"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("undo_edit"))
    );
    assert_eq!(sent.len(), 4, "the server tool is left out");
    assert_eq!(
        r.body["tool_choice"],
        json!({"type": "function", "function": {"name": alias}})
    );
    assert_eq!(r.tools.to_client(&alias), long);

    let choice = |c: Value, tools: Value| {
        chat(base(json!({"tools": tools, "tool_choice": c})))
            .body
            .get("tool_choice")
            .cloned()
    };
    let read = json!([{"name": "Read", "input_schema": {}}]);
    let cases: Vec<(Value, Value, Option<Value>)> = vec![
        (json!({"type": "auto"}), read.clone(), Some(json!("auto"))),
        (
            json!({"type": "any", "disable_parallel_tool_use": true}),
            read.clone(),
            Some(json!("required")),
        ),
        (json!({"type": "none"}), read.clone(), Some(json!("none"))),
        (json!({"type": "tool"}), read.clone(), None),
        (
            json!({"type": "tool", "name": "Missing"}),
            read.clone(),
            None,
        ),
        (json!({"type": "weird"}), read.clone(), None),
        // Only a dropped server tool: no tools, and no tool_choice either (§10.12).
        (
            json!({"type": "auto"}),
            json!([{"type": "web_search_20250305", "name": "web_search"}]),
            None,
        ),
        (json!({"type": "auto"}), json!([]), None),
    ];
    for (c, tools, want) in cases {
        assert_eq!(choice(c.clone(), tools), want, "{c}");
    }
}

#[test]
fn thinking_effort_and_structured_output() {
    let r = chat(base(
        json!({"thinking": {"type": "enabled", "budget_tokens": 31999}}),
    ));
    assert_eq!(r.body["thinking_budget"], 99, "kept below max_tokens (100)");
    let r = chat(base(
        json!({"max_tokens": 32000, "thinking": {"type": "enabled", "budget_tokens": 31999}}),
    ));
    assert_eq!(r.body["thinking_budget"], 31999);
    let r = chat(base(
        json!({"thinking": {"type": "adaptive", "display": "omitted"}, "output_config": {"effort": "medium"}}),
    ));
    assert!(r.body.get("thinking_budget").is_none());
    assert_eq!(r.body["reasoning_effort"], "medium");
    assert!(
        r.body.get("reasoning").is_none(),
        "no Responses-only field (§10.13)"
    );
    let r = chat(base(
        json!({"thinking": {"type": "disabled"}, "output_config": {"effort": "max"}}),
    ));
    assert!(r.body.get("thinking_budget").is_none());
    assert_eq!(r.body["reasoning_effort"], "high");

    let schema = json!({"type": "object", "properties": {"title": {"type": "string"}}});
    let req = base(
        json!({"system": "Write a title.", "output_config": {"format": {"type": "json_schema", "schema": schema}}}),
    );
    let r = to_chat(&req, "gpt-4.1").unwrap();
    assert_eq!(
        r.body["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "output", "schema": schema}})
    );
    assert_eq!(r.body["messages"][0]["content"], "Write a title.");
    let r = to_chat(&req, "claude-haiku-4.5").unwrap();
    assert!(r.body.get("response_format").is_none());
    let system = r.body["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.starts_with("Write a title.\n\nIMPORTANT: You MUST respond with valid JSON only")
    );
    assert!(system.contains("\"title\""));
}

#[test]
fn conversation_with_tools_thinking_and_images() {
    let long = "mcp__srv.v2__take_screenshot_of_the_current_browser_page_in_full_resolution";
    let r = chat(json!({
        "stream": true,
        "tools": [{"name": long, "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": "screenshot please"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "I should call the tool.", "signature": "EqQBsig"},
                {"type": "tool_use", "id": "toolu_1", "name": long, "input": {}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"}}]},
                {"type": "text", "text": "what do you see?", "cache_control": {"type": "ephemeral"}}
            ]}
        ]
    }));
    let alias = r.tools.to_upstream(long);
    assert_eq!(
        r.body["messages"],
        json!([
            {"role": "user", "content": "screenshot please"},
            {"role": "assistant", "content": null,
             "tool_calls": [{"id": "toolu_1", "type": "function", "function": {"name": alias, "arguments": "{}"}}],
             "reasoning_text": "I should call the tool.", "reasoning_opaque": "EqQBsig"},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "[The tool returned images; they follow in the next message.]"},
            {"role": "user", "content": [
                {"type": "text", "text": "[Images returned by tool call toolu_1]"},
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/"}},
                {"type": "text", "text": "what do you see?"}
            ]}
        ])
    );
    let turns = [
        json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}, {"type": "text", "text": "what do you see?"}]}),
    ];
    assert!(
        !user_turn(&turns),
        "a turn carrying tool results is the agent's"
    );
    assert!(user_turn(&[json!({"role": "user", "content": "hi"})]));
}

#[test]
fn orphans_and_pending_calls_are_repaired() {
    let r = chat(json!({"messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "text", "text": "done"}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "gone", "content": "late output"},
            {"type": "text", "text": "Continue please."}
        ]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t9", "name": "Bash", "input": {"command": "ls"}}]}
    ]}));
    assert_eq!(
        r.body["messages"],
        json!([
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": "done"},
            {"role": "user", "content": "late output\n\nContinue please."}
        ])
    );
}

#[test]
fn user_turn_follows_the_last_user_message() {
    let turn = |messages: Value| user_turn(messages.as_array().unwrap());
    assert!(turn(
        json!([{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
    ));
    assert!(!turn(json!([
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": "r"}]}
    ])));
    // A prefill still answers the user's prompt before it.
    assert!(turn(
        json!([{"role": "user", "content": "q"}, {"role": "assistant", "content": "{"}])
    ));
    assert!(!turn(json!([{"role": "user", "content": ""}])));
}
