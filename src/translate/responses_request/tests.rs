//! The Responses -> Chat request translation, JSON in, JSON out.

use super::conversation::MISSING_OUTPUT;
use super::*;
use serde_json::json;

fn chat(req: Value) -> ChatFromResponses {
    to_chat(&req, "claude-sonnet-4.5", &[]).expect("translates")
}

/// The Chat body as Copilot receives it.
fn body(r: &ChatFromResponses) -> Value {
    Value::Object(r.body_object().unwrap())
}

fn messages(r: &ChatFromResponses) -> Vec<Value> {
    body(r)["messages"].as_array().unwrap().clone()
}

/// The request Codex 0.169 sends (reference clients.md §4), abridged.
fn codex_request() -> Value {
    json!({
        "model": "gpt-5.5",
        "stream": true,
        "store": false,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "019a-session",
        "client_metadata": {"installation_id": "x"},
        "text": {"verbosity": "low"},
        "tool_choice": "auto",
        "parallel_tool_calls": true,
        "reasoning": {"effort": "medium"},
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "You are Codex."}]},
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Skills: none"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context>cwd</environment_context>"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Create out.txt containing hello"}]},
        ],
        "tools": [
            {"type": "function", "name": "exec_command", "description": "Run a command",
             "strict": false,
             "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}},
            {"type": "custom", "name": "apply_patch", "description": "Edit files.",
             "format": {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch"}},
            {"type": "tool_search", "execution": "client", "description": "Find tools",
             "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}},
            {"type": "web_search", "external_web_access": true, "search_content_types": ["text", "image"]},
            {"type": "namespace", "name": "multi_agent_v1", "description": "agents", "tools": [
                {"type": "function", "name": "spawn_agent", "parameters": {"type": "object", "properties": {}}},
                {"type": "function", "name": "exec_command", "parameters": {}},
            ]},
        ],
    })
}

#[test]
fn codex_request_becomes_a_chat_request() {
    let r = chat(codex_request());
    let b = &body(&r);
    assert_eq!(b["model"], "claude-sonnet-4.5");
    assert_eq!(b["stream"], true);
    assert_eq!(b["stream_options"], json!({"include_usage": true}));
    assert_eq!(b["reasoning_effort"], "medium");
    assert_eq!(b["tool_choice"], "auto");
    assert_eq!(b["parallel_tool_calls"], true);
    for absent in [
        "store",
        "include",
        "prompt_cache_key",
        "client_metadata",
        "text",
        "reasoning",
        "input",
        "metadata",
    ] {
        assert!(b.get(absent).is_none(), "{absent} forwarded");
    }
    let m = messages(&r);
    assert_eq!(m.len(), 3);
    assert_eq!(
        m[0],
        json!({"role": "system", "content": "You are Codex.\n\nSkills: none"})
    );
    assert_eq!(
        m[1]["content"],
        "<environment_context>cwd</environment_context>"
    );
    assert_eq!(m[2]["content"], "Create out.txt containing hello");

    let names: Vec<&str> = b["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["exec_command", "apply_patch", "spawn_agent"]);
    let exec = &b["tools"][0];
    assert_eq!(exec["type"], "function");
    assert_eq!(exec["function"]["strict"], false);
    assert_eq!(exec["function"]["parameters"]["required"], json!(["cmd"]));
    let patch = &b["tools"][1]["function"];
    assert_eq!(patch["parameters"]["required"], json!(["input"]));
    assert_eq!(patch["parameters"]["properties"]["input"]["type"], "string");
    let desc = patch["description"].as_str().unwrap();
    assert!(
        desc.starts_with("Edit files.") && desc.contains("lark grammar:\nstart: begin_patch"),
        "{desc}"
    );
    assert_eq!(r.custom_tools, ["apply_patch"]);
    assert!(r.user_turn);
    assert!(!r.has_images);
}

#[test]
fn two_turn_exec_command_loop() {
    let mut req = codex_request();
    let input = req["input"].as_array_mut().unwrap();
    input.extend([
        json!({"type": "reasoning", "id": "rs_chat_1", "summary": [{"type": "summary_text", "text": "I will run echo."}],
               "content": null, "encrypted_content": "EqQBsig"}),
        json!({"type": "function_call", "id": "fc_1", "call_id": "toolu_1", "name": "exec_command",
               "arguments": "{\"cmd\":\"echo hello > out.txt\"}", "status": "completed"}),
        json!({"type": "function_call_output", "id": "fco_1", "call_id": "toolu_1", "output": "exit 0"}),
    ]);
    let r = chat(req.clone());
    let m = messages(&r);
    assert_eq!(m.len(), 5);
    assert_eq!(
        m[3],
        json!({"role": "assistant", "content": null,
               "reasoning_text": "I will run echo.", "reasoning_opaque": "EqQBsig",
               "tool_calls": [{"id": "toolu_1", "type": "function",
                               "function": {"name": "exec_command", "arguments": "{\"cmd\":\"echo hello > out.txt\"}"}}]})
    );
    assert_eq!(
        m[4],
        json!({"role": "tool", "tool_call_id": "toolu_1", "content": "exit 0"})
    );
    assert!(!r.user_turn, "a turn of tool results is the agent's");

    // Second loop: the model answered, the user asks again.
    let input = req["input"].as_array_mut().unwrap();
    input.extend([
        json!({"type": "message", "role": "assistant", "id": "msg_1",
               "content": [{"type": "output_text", "text": "Done.", "annotations": []}]}),
        json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Thanks"}]}),
    ]);
    let r = chat(req);
    let m = messages(&r);
    assert_eq!(m[5], json!({"role": "assistant", "content": "Done."}));
    assert_eq!(m[6], json!({"role": "user", "content": "Thanks"}));
    assert!(r.user_turn);
}

#[test]
fn parallel_calls_keep_every_call_and_output() {
    // Reference §10.17: the first call's output was replaced by an empty placeholder.
    let cases = [
        // Calls first, then outputs (Codex).
        vec!["fc_a", "fc_b", "out_a", "out_b"],
        // Outputs in the other order.
        vec!["fc_a", "fc_b", "out_b", "out_a"],
    ];
    for order in cases {
        let input: Vec<Value> = order
            .iter()
            .map(|k| match *k {
                "fc_a" => json!({"type": "function_call", "call_id": "A", "name": "f", "arguments": "{\"x\":1}"}),
                "fc_b" => json!({"type": "function_call", "call_id": "B", "name": "g", "arguments": "{}"}),
                "out_a" => json!({"type": "function_call_output", "call_id": "A", "output": "resA"}),
                _ => json!({"type": "function_call_output", "call_id": "B", "output": "resB"}),
            })
            .collect();
        let mut all = vec![json!({"role": "user", "content": "go"})];
        all.extend(input);
        let r = chat(json!({"input": all}));
        let m = messages(&r);
        assert_eq!(m.len(), 4, "{order:?}: {m:?}");
        let ids: Vec<&str> = m[1]["tool_calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["A", "B"]);
        assert_eq!(
            m[2],
            json!({"role": "tool", "tool_call_id": "A", "content": "resA"})
        );
        assert_eq!(
            m[3],
            json!({"role": "tool", "tool_call_id": "B", "content": "resB"})
        );
    }
}

#[test]
fn apply_patch_custom_call_goes_up_as_a_function_call() {
    let patch = "*** Begin Patch\n*** Add File: out.txt\n+hello\n*** End Patch";
    let r = chat(json!({
        "input": [
            {"role": "user", "content": "make out.txt"},
            {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_p", "name": "apply_patch",
             "input": patch, "status": "completed"},
            {"type": "custom_tool_call_output", "call_id": "call_p", "output": "Success. Updated: A out.txt"},
        ],
        "tools": [{"type": "custom", "name": "apply_patch"}],
    }));
    let m = messages(&r);
    let call = &m[1]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "apply_patch");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"input": patch}));
    assert_eq!(m[2]["content"], "Success. Updated: A out.txt");
    assert_eq!(m[2]["tool_call_id"], "call_p");
}

#[test]
fn history_is_prepended_and_instructions_lead() {
    let history = vec![
        json!({"role": "user", "content": "hi"}),
        json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "hello"}]}),
    ];
    let req = json!({"instructions": "Be brief.", "input": "again"});
    let r = to_chat(&req, "m", &history).unwrap();
    assert_eq!(
        body(&r)["messages"],
        json!([
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "again"},
        ])
    );
    assert!(r.user_turn);
}

#[test]
fn images_and_missing_or_orphan_outputs() {
    let r = chat(json!({"input": [
        {"role": "user", "content": [
            {"type": "input_text", "text": "what is this"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAA", "detail": "high"},
        ]},
        {"type": "function_call", "call_id": "A", "name": "view_image", "arguments": "{}"},
        {"type": "function_call", "call_id": "B", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "A", "output": [
            {"type": "input_text", "text": "the image"},
            {"type": "input_image", "image_url": "data:image/png;base64,BBB"},
        ]},
        {"type": "function_call_output", "call_id": "Z", "output": "stray"},
    ]}));
    assert!(r.has_images);
    let m = messages(&r);
    assert_eq!(
        m[0]["content"][1],
        json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA", "detail": "high"}})
    );
    assert_eq!(
        m[2],
        json!({"role": "tool", "tool_call_id": "A", "content": "the image"})
    );
    assert_eq!(
        m[3],
        json!({"role": "tool", "tool_call_id": "B", "content": MISSING_OUTPUT})
    );
    assert_eq!(m[4]["role"], "user");
    assert_eq!(
        m[4]["content"][1]["image_url"]["url"],
        "data:image/png;base64,BBB"
    );
    assert_eq!(m[5]["content"][0]["text"], "[Result of tool call Z]\nstray");
    assert!(!r.user_turn);
}

#[test]
fn scalars_and_formats() {
    let r = chat(json!({
        "input": "hi",
        "max_output_tokens": 100,
        "temperature": 0.2,
        "top_p": 0.9,
        "text": {"format": {"type": "json_schema", "name": "out", "strict": true,
                            "schema": {"type": "object"}}},
        "reasoning": {"effort": "xhigh", "summary": "auto"},
        "metadata": {"a": "b"},
    }));
    let b = &body(&r);
    assert_eq!(b["max_tokens"], 100);
    assert_eq!(b["temperature"], 0.2);
    assert_eq!(b["top_p"], 0.9);
    assert_eq!(b["reasoning_effort"], "high");
    assert_eq!(
        b["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "out", "strict": true, "schema": {"type": "object"}}})
    );
    assert!(b.get("stream").is_none() && b.get("tools").is_none());
    let r = chat(
        json!({"input": "hi", "text": {"format": {"type": "json_object"}}, "reasoning": {"effort": "none"}}),
    );
    assert_eq!(body(&r)["response_format"], json!({"type": "json_object"}));
    assert!(body(&r).get("reasoning_effort").is_none());
}

#[test]
fn tool_choice_shapes() {
    let tools = json!([{"type": "function", "name": "f"}, {"type": "custom", "name": "p"},
                       {"type": "web_search"}]);
    let cases = [
        (json!("auto"), Some(json!("auto"))),
        (json!("required"), Some(json!("required"))),
        (json!("none"), Some(json!("none"))),
        (
            json!({"type": "function", "name": "f"}),
            Some(json!({"type": "function", "function": {"name": "f"}})),
        ),
        (
            json!({"type": "custom", "name": "p"}),
            Some(json!({"type": "function", "function": {"name": "p"}})),
        ),
        (json!({"type": "function", "name": "gone"}), None),
        (json!({"type": "web_search"}), None),
        (
            json!({"type": "allowed_tools", "mode": "required", "tools": []}),
            Some(json!("required")),
        ),
    ];
    for (choice, want) in cases {
        let r = chat(json!({"input": "hi", "tools": tools, "tool_choice": choice}));
        assert_eq!(body(&r).get("tool_choice"), want.as_ref(), "{choice}");
    }
    // Without any tool left, neither tools nor tool_choice nor parallel_tool_calls.
    let r = chat(
        json!({"input": "hi", "tools": [{"type": "web_search"}], "tool_choice": "auto",
                        "parallel_tool_calls": true}),
    );
    for key in ["tools", "tool_choice", "parallel_tool_calls"] {
        assert!(body(&r).get(key).is_none(), "{key}");
    }
}

#[test]
fn reasoning_placement() {
    // Reasoning after the text of the same answer (its opaque token came late) still
    // joins that answer; a second opaque starts the next turn.
    let r = chat(json!({"input": [
        {"role": "user", "content": "q"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a1"}]},
        {"type": "reasoning", "id": "rs_chat_9", "summary": [], "encrypted_content": "o1"},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "t2"}], "encrypted_content": "o2"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a2"}]},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "lonely"}]},
        {"role": "user", "content": "q2"},
    ]}));
    let m = messages(&r);
    assert_eq!(
        m[1],
        json!({"role": "assistant", "content": "a1", "reasoning_opaque": "o1"})
    );
    assert_eq!(
        m[2],
        json!({"role": "assistant", "content": "a2", "reasoning_text": "t2\n\nlonely", "reasoning_opaque": "o2"})
    );
    assert_eq!(m[3]["content"], "q2");

    // Reasoning an OpenAI model made before the client switched models: its
    // encrypted content means nothing to a chat-path model and is not sent.
    let r = chat(json!({"input": [
        {"role": "user", "content": "q"},
        {"type": "reasoning", "id": "rs_68af0c", "summary": [{"type": "summary_text", "text": "gpt"}],
         "encrypted_content": "gAAAAB"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a"}]},
        {"role": "user", "content": "q2"},
    ]}));
    assert_eq!(
        messages(&r)[1],
        json!({"role": "assistant", "content": "a"})
    );
}

#[test]
fn client_errors() {
    let cases = [
        (json!([]), "JSON object"),
        (json!({"input": 5}), "`input`"),
        (json!({"input": []}), "no message"),
        (json!({"input": ["hi"]}), "input.0 must be an object"),
        (
            json!({"input": [{"role": "robot", "content": "x"}]}),
            "input.0.role",
        ),
        (
            json!({"input": [{"type": "function_call", "call_id": "a"}]}),
            "input.0.name",
        ),
        (
            json!({"input": [{"type": "function_call_output", "output": "x"}]}),
            "input.0.call_id",
        ),
        (
            json!({"input": [{"role": "user", "content": 3}]}),
            "input.0.content",
        ),
        (json!({"input": "x", "tools": {}}), "`tools`"),
        (
            json!({"input": "x", "tools": [{"type": "function"}]}),
            "tools.0.name",
        ),
        (
            json!({"input": "x", "tools": [{"name": "f"}]}),
            "tools.0.type",
        ),
        (
            json!({"input": "x", "max_output_tokens": "9"}),
            "max_output_tokens",
        ),
        (json!({"input": "x", "temperature": "hot"}), "temperature"),
    ];
    for (req, want) in cases {
        let err = to_chat(&req, "m", &[])
            .err()
            .unwrap_or_else(|| panic!("accepted {req}"));
        assert!(err.contains(want), "{req}: {err}");
    }
}

#[test]
fn unknown_items_and_keys_are_tolerated() {
    let r = chat(json!({
        "input": [
            {"type": "item_reference", "id": "msg_0"},
            {"type": "message", "role": "user", "id": "m1", "x-extra": true,
             "content": [{"type": "input_text", "text": "hi", "cache": 1}, {"type": "input_audio"}]},
            {"type": "web_search_call", "id": "ws_1", "status": "completed"},
        ],
        "unknown_top_level": {"a": 1},
        "service_tier": "auto",
    }));
    assert_eq!(
        body(&r)["messages"],
        json!([{"role": "user", "content": "hi"}])
    );
}

#[test]
fn calls_without_output_are_answered_by_the_shared_repair() {
    // A call the conversation ends with is answered too (the client's history holds it),
    // and one between answered calls gets its placeholder after theirs.
    let r = chat(json!({"input": [
        {"role": "user", "content": "go"},
        {"type": "function_call", "call_id": "A", "name": "f", "arguments": "{}"},
        {"type": "function_call", "call_id": "B", "name": "f", "arguments": "{}"},
        {"type": "function_call", "call_id": "C", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "C", "output": ""},
        {"type": "function_call_output", "call_id": "A", "output": "a"},
        {"type": "function_call", "call_id": "D", "name": "f", "arguments": "{}"},
    ]}));
    let m = messages(&r);
    let tool =
        |id: &str, content: &str| json!({"role": "tool", "tool_call_id": id, "content": content});
    assert_eq!(m.len(), 7, "{m:#?}");
    assert_eq!(m[2], tool("A", "a"));
    assert_eq!(m[3], tool("C", "(no output)"));
    assert_eq!(m[4], tool("B", MISSING_OUTPUT));
    assert_eq!(m[5]["tool_calls"][0]["id"], "D");
    assert_eq!(m[6], tool("D", MISSING_OUTPUT));
    assert!(!r.user_turn);
}
