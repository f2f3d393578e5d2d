//! `POST /v1/responses` (issue 5): Codex CLI's request through pass-through to a
//! responses-only model and through translation to a chat-only one, each as a two-turn
//! `exec_command` loop and a freeform `apply_patch` call; reasoning, parallel calls and
//! cut-off arguments. `previous_response_id` is in `responses_chain.rs`, failures in
//! `responses_faults.rs`, the other inbound APIs reaching a responses-only model in
//! `responses_only_model.rs`.

use crate::support::responses_answers::{self, SINGLE_CALL_ID};
use crate::support::scenarios::{
    self, ANSWER, ENCRYPTED, PATCH, REASONING_PARTS, SIGNATURE, SUMMARY_PARTS, TEXT_PARTS,
    tool_arguments,
};
use crate::support::*;
use crate::{named_events, post_json};
use serde_json::{Value, json};

pub(crate) const CODEX: &str = "gpt-5.2-codex";
pub(crate) const CHAT_ONLY: &str = "gpt-4.1";
const BASE_PROMPT: &str =
    "You are Codex, a coding agent based on GPT-5. You and the user share the same workspace.";
const SKILLS: &str = "<skills_instructions>No skills.</skills_instructions>";
const ENVIRONMENT: &str =
    "<environment_context><cwd>/work</cwd><shell>bash</shell></environment_context>";

fn developer(text: &str) -> Value {
    json!({"type": "message", "role": "developer", "content": [{"type": "input_text", "text": text}]})
}

pub(crate) fn user(text: &str) -> Value {
    json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
}

/// Codex's tools (reference/clients.md §4): function tools, freeform `apply_patch`, and the
/// hosted `tool_search`, `web_search` and `namespace` ones.
pub(crate) fn codex_tools() -> Value {
    json!([
        {"type": "function", "name": "exec_command", "description": "Runs a command in a PTY.",
         "strict": false, "parameters": {"type": "object", "properties": {
             "cmd": {"type": "string"}, "workdir": {"type": "string"},
             "yield_time_ms": {"type": "number"}}, "required": ["cmd"], "additionalProperties": false}},
        {"type": "function", "name": "write_stdin", "description": "Writes to a session.",
         "strict": false, "parameters": {"type": "object", "properties": {
             "session_id": {"type": "number"}, "chars": {"type": "string"}},
             "required": ["session_id"], "additionalProperties": false}},
        {"type": "custom", "name": "apply_patch",
         "description": "Use the `apply_patch` tool to edit files. This is a FREEFORM tool.",
         "format": {"type": "grammar", "syntax": "lark",
                    "definition": "start: begin_patch hunk+ end_patch\nbegin_patch: \"*** Begin Patch\" LF\nend_patch: \"*** End Patch\" LF?\n"}},
        {"type": "tool_search", "execution": "client", "description": "Searches deferred tools.",
         "parameters": {"type": "object", "properties": {"query": {"type": "string"},
                                                         "limit": {"type": "number"}}}},
        {"type": "web_search", "external_web_access": true, "search_content_types": ["text", "image"]},
        {"type": "namespace", "name": "multi_agent_v1", "description": "Sub-agents.",
         "tools": [{"type": "function", "name": "spawn_agent", "description": "Starts a sub-agent.",
                    "strict": false, "parameters": {"type": "object", "properties": {"task": {"type": "string"}}}}]}
    ])
}

/// The body Codex sends: no `instructions`, developer messages first, `store: false`.
pub(crate) fn codex_request(model: &str, input: &[Value]) -> Value {
    json!({
        "model": model,
        "input": input,
        "tools": codex_tools(),
        "tool_choice": "auto",
        "parallel_tool_calls": true,
        "reasoning": {"effort": "medium"},
        "store": false,
        "stream": true,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "019a3b2c-4d5e-7f60-8a9b-0c1d2e3f4a5b",
        "text": {"verbosity": "low"},
        "client_metadata": {"x-codex-installation-id": "inst-1"}
    })
}

pub(crate) fn first_input(prompt: &str) -> Vec<Value> {
    vec![
        developer(BASE_PROMPT),
        developer(SKILLS),
        user(ENVIRONMENT),
        user(prompt),
    ]
}

pub(crate) const CODEX_HEADERS: [(&str, &str); 4] = [
    ("accept", "text/event-stream"),
    ("originator", "codex_exec"),
    ("session-id", "019a3b2c-4d5e-7f60-8a9b-0c1d2e3f4a5b"),
    ("x-codex-beta-features", "remote_compaction_v2"),
];

/// Asserts a finished Responses stream: `response.created` first, every event's name
/// equal to its type, rising sequence numbers, each item added before it is done, and one
/// terminal event, last. Returns the terminal event's `response`.
pub(crate) fn assert_responses_stream(events: &[(String, Value)], terminal: &str) -> Value {
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"response.created"), "{names:?}");
    assert_eq!(names.last(), Some(&terminal), "{names:?}");
    let terminals = [
        "response.completed",
        "response.failed",
        "response.incomplete",
    ];
    assert_eq!(
        names.iter().filter(|n| terminals.contains(n)).count(),
        1,
        "{names:?}"
    );
    let mut last_seq = None;
    let mut added = Vec::new();
    for (name, data) in events {
        assert_eq!(data["type"], name.as_str(), "event name equals its type");
        let seq = data["sequence_number"].as_u64();
        assert!(seq.is_some(), "sequence_number: {data}");
        if let Some(prev) = last_seq {
            assert!(seq.unwrap() > prev, "rising sequence numbers: {names:?}");
        }
        last_seq = seq;
        match name.as_str() {
            "response.output_item.added" => added.push(data["output_index"].clone()),
            "response.output_item.done" => {
                assert!(added.contains(&data["output_index"]), "done before added")
            }
            _ => {}
        }
    }
    let id = &events[0].1["response"]["id"];
    let end = &events.last().unwrap().1["response"];
    assert_eq!(&end["id"], id, "the terminal event carries the created id");
    end.clone()
}

/// The `item` of every `response.output_item.done`, in order.
pub(crate) fn done_items(events: &[(String, Value)]) -> Vec<Value> {
    events
        .iter()
        .filter(|(n, _)| n == "response.output_item.done")
        .map(|(_, d)| d["item"].clone())
        .collect()
}

pub(crate) fn deltas(events: &[(String, Value)], name: &str) -> String {
    events
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, d)| d["delta"].as_str().unwrap_or("").to_string())
        .collect()
}

/// `body` as it should reach Copilot's `/responses`: without `store`.
fn without_store(body: &Value) -> Value {
    let mut b = body.clone();
    b.as_object_mut().unwrap().remove("store");
    b
}

/// What the client must receive on pass-through: the fake's events, relayed unchanged.
fn assert_relayed(resp: &Resp, upstream: &Recorded, scenario: &Scenario) {
    let sent = named_events(&scenarios::script_text(&responses_answers::responses(
        scenario,
        &upstream.json(),
    )));
    assert_eq!(named_events(&resp.text()), sent);
}

/// Codex against `gpt-5.2-codex`: the body passes through without `store`, items and
/// hosted tools untouched, events relayed; the exec_command loop and apply_patch.
#[test]
fn codex_passthrough_tool_loop_and_apply_patch() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let mut input = first_input("List the files.");

    // Turn 1: exec_command.
    let scenario = Scenario::Call("exec_command".into());
    fake.push_scenario(scenario.clone());
    let body = codex_request(CODEX, &input);
    let resp = post_json(&proxy, "/v1/responses", &CODEX_HEADERS, &body);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.header("content-type"),
        Some("text/event-stream; charset=utf-8")
    );
    let ups = fake.requests_to("/responses");
    assert_eq!(ups.len(), 1);
    assert!(fake.requests_to("/chat/completions").is_empty());
    assert_eq!(ups[0].json(), without_store(&body));
    assert_eq!(ups[0].header("x-initiator"), Some("user"));
    assert_eq!(ups[0].header("copilot-vision-request"), None);
    assert_relayed(&resp, &ups[0], &scenario);
    let events = named_events(&resp.text());
    let done = assert_responses_stream(&events, "response.completed");
    assert_eq!(done["usage"], responses_answers::usage(0));
    let call = done_items(&events)[0].clone();
    assert_eq!(call["type"], "function_call");
    assert_eq!(call["name"], "exec_command");
    assert_eq!(call["call_id"], SINGLE_CALL_ID);
    assert_eq!(call["arguments"], tool_arguments("exec_command"));

    // Turn 2: Codex replays the call with ids of its own and adds the output.
    input.push(call.clone());
    input.push(
        json!({"type": "function_call_output", "id": "fco_1", "call_id": SINGLE_CALL_ID,
                      "output": "Chunk ID: 1\nOutput:\nCargo.toml\nsrc\n"}),
    );
    let body = codex_request(CODEX, &input);
    let resp = post_json(&proxy, "/v1/responses", &CODEX_HEADERS, &body);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let ups = fake.requests_to("/responses");
    assert_eq!(ups[1].json(), without_store(&body), "items untouched");
    assert_eq!(ups[1].header("x-initiator"), Some("agent"));
    assert_relayed(&resp, &ups[1], &Scenario::Text);
    let events = named_events(&resp.text());
    assert_responses_stream(&events, "response.completed");
    assert_eq!(
        deltas(&events, "response.output_text.delta"),
        TEXT_PARTS.concat()
    );

    // Turn 3: apply_patch, a custom tool call.
    input.push(done_items(&events)[0].clone());
    input.push(user("Create out.txt containing hello."));
    fake.push_scenario(Scenario::CustomTool);
    let body = codex_request(CODEX, &input);
    let resp = post_json(&proxy, "/v1/responses", &CODEX_HEADERS, &body);
    let events = named_events(&resp.text());
    let done = assert_responses_stream(&events, "response.completed");
    assert!(done["usage"]["total_tokens"].is_u64());
    let patch = done_items(&events)[0].clone();
    assert_eq!(patch["type"], "custom_tool_call");
    assert_eq!(patch["name"], "apply_patch");
    assert_eq!(patch["input"], PATCH);
    assert_eq!(
        deltas(&events, "response.custom_tool_call_input.delta"),
        PATCH
    );

    // Turn 4: the patch's output goes back, untouched.
    input.push(patch);
    input.push(
        json!({"type": "custom_tool_call_output", "call_id": SINGLE_CALL_ID,
                      "output": "Success. Updated the following files:\nA out.txt\n"}),
    );
    let body = codex_request(CODEX, &input);
    let resp = post_json(&proxy, "/v1/responses", &CODEX_HEADERS, &body);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let up = fake.requests_to("/responses").pop().unwrap();
    assert_eq!(up.json(), without_store(&body));
    assert_eq!(up.header("x-initiator"), Some("agent"));
    assert_responses_stream(&named_events(&resp.text()), "response.completed");
}

/// Reasoning with `encrypted_content` passes through, and so does its replay.
#[test]
fn passthrough_keeps_encrypted_reasoning_both_ways_and_json_answers() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let mut input = first_input("Think first. scenario:reasoning");
    let body = codex_request(CODEX, &input);
    let resp = post_json(&proxy, "/v1/responses", &[], &body);
    let events = named_events(&resp.text());
    let done = assert_responses_stream(&events, "response.completed");
    assert_eq!(
        done["usage"]["output_tokens_details"]["reasoning_tokens"],
        3
    );
    let items = done_items(&events);
    assert_eq!(items[0]["type"], "reasoning");
    assert_eq!(items[0]["encrypted_content"], ENCRYPTED);
    assert_eq!(
        deltas(&events, "response.reasoning_summary_text.delta"),
        SUMMARY_PARTS.concat()
    );
    input.extend(items);
    input.push(user("Thanks."));
    let body = codex_request(CODEX, &input);
    post_json(&proxy, "/v1/responses", &[], &body);
    let up = fake.requests_to("/responses").pop().unwrap().json();
    assert_eq!(up["input"][4]["encrypted_content"], ENCRYPTED, "{up}");
    assert_eq!(up, without_store(&body));

    // An image inside a tool output turns the vision header on.
    let mut input = first_input("Look.");
    input.push(
        json!({"type": "function_call", "call_id": "c1", "name": "view_image", "arguments": "{}"}),
    );
    input.push(
        json!({"type": "function_call_output", "call_id": "c1", "output": [
        {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="}]}),
    );
    post_json(&proxy, "/v1/responses", &[], &codex_request(CODEX, &input));
    let up = fake.requests_to("/responses").pop().unwrap();
    assert_eq!(up.header("copilot-vision-request"), Some("true"));
    assert_eq!(up.header("x-initiator"), Some("agent"));

    // Not streaming: the response object as Copilot sent it.
    let mut body = codex_request(CODEX, &first_input("scenario:reasoning"));
    body["stream"] = json!(false);
    let resp = post_json(&proxy, "/v1/responses", &[], &body);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let up = fake.requests_to("/responses").pop().unwrap();
    assert_eq!(
        resp.json(),
        responses_answers::response_json(CODEX, &Scenario::Reasoning, &up.json())
    );
}

/// Codex against the chat-only `gpt-4.1`: the request becomes a Chat request (hosted tools
/// dropped, `namespace` flattened, apply_patch a one-argument function) and the answer a
/// Responses stream; the exec_command loop and apply_patch.
#[test]
fn codex_translated_tool_loop_and_apply_patch() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let mut input = first_input("List the files.");

    // Turn 1: exec_command.
    fake.push_scenario(Scenario::Call("exec_command".into()));
    let body = codex_request(CHAT_ONLY, &input);
    let resp = post_json(&proxy, "/v1/responses", &CODEX_HEADERS, &body);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(fake.requests_to("/responses").is_empty());
    let ups = fake.requests_to("/chat/completions");
    assert_eq!(ups.len(), 1);
    assert_eq!(ups[0].header("x-initiator"), Some("user"));
    let up = ups[0].json();
    assert_eq!(up["model"], CHAT_ONLY);
    assert_eq!(up["stream"], true);
    let messages = up["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    let system = messages[0]["content"].as_str().unwrap();
    assert!(
        system.contains(BASE_PROMPT) && system.contains(SKILLS),
        "{system}"
    );
    assert_eq!(
        messages[1..]
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["user", "user"]
    );
    let names: Vec<&str> = up["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        // The hosted web_search is served by the proxy as a function (web_search.rs).
        [
            "exec_command",
            "write_stdin",
            "apply_patch",
            "spawn_agent",
            "web_search"
        ],
        "other hosted tools dropped, the namespace flattened"
    );
    let patch_tool = &up["tools"][2]["function"];
    assert_eq!(patch_tool["parameters"]["required"], json!(["input"]));
    assert!(
        patch_tool["description"]
            .as_str()
            .unwrap()
            .contains("begin_patch"),
        "the grammar travels in the description: {patch_tool}"
    );
    for key in [
        "store",
        "include",
        "prompt_cache_key",
        "input",
        "client_metadata",
    ] {
        assert!(up.get(key).is_none(), "`{key}` went upstream: {up}");
    }
    let events = named_events(&resp.text());
    let done = assert_responses_stream(&events, "response.completed");
    assert_eq!(done["usage"]["input_tokens"], 12, "{done}");
    assert_eq!(done["usage"]["output_tokens"], 5, "{done}");
    assert_eq!(done["usage"]["total_tokens"], 17, "{done}");
    let items = done_items(&events);
    assert_eq!(items.len(), 1, "{items:?}");
    let call = items[0].clone();
    assert_eq!(call["type"], "function_call");
    assert_eq!(call["name"], "exec_command");
    assert_eq!(call["call_id"], SINGLE_CALL_ID);
    assert_eq!(call["arguments"], tool_arguments("exec_command"));
    assert_eq!(
        deltas(&events, "response.function_call_arguments.delta"),
        tool_arguments("exec_command")
    );
    assert_eq!(
        done["output"],
        json!(items),
        "the full output on completion"
    );

    // Turn 2: the call and its output go back as Chat tool messages.
    let output = "Chunk ID: 1\nOutput:\nCargo.toml\nsrc\n";
    input.push(call);
    input.push(json!({"type": "function_call_output", "id": "fco_1", "call_id": SINGLE_CALL_ID, "output": output}));
    let resp = post_json(
        &proxy,
        "/v1/responses",
        &CODEX_HEADERS,
        &codex_request(CHAT_ONLY, &input),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let up = fake.requests_to("/chat/completions").pop().unwrap();
    assert_eq!(up.header("x-initiator"), Some("agent"));
    let up = up.json();
    let messages = up["messages"].as_array().unwrap();
    let n = messages.len();
    assert_eq!(messages[n - 2]["role"], "assistant", "{up}");
    assert_eq!(
        messages[n - 2]["tool_calls"],
        json!([{"id": SINGLE_CALL_ID, "type": "function",
                "function": {"name": "exec_command", "arguments": tool_arguments("exec_command")}}])
    );
    assert_eq!(
        messages[n - 1],
        json!({"role": "tool", "tool_call_id": SINGLE_CALL_ID, "content": output})
    );
    let events = named_events(&resp.text());
    let done = assert_responses_stream(&events, "response.completed");
    let items = done_items(&events);
    assert_eq!(items[0]["type"], "message");
    assert_eq!(items[0]["content"][0]["text"], TEXT_PARTS.concat());
    assert_eq!(
        deltas(&events, "response.output_text.delta"),
        TEXT_PARTS.concat()
    );
    assert_eq!(done["usage"]["total_tokens"], 17);

    // Turn 3: apply_patch comes back as a custom tool call.
    input.push(items[0].clone());
    input.push(user("Create out.txt containing hello."));
    fake.push_scenario(Scenario::CustomTool);
    let resp = post_json(
        &proxy,
        "/v1/responses",
        &CODEX_HEADERS,
        &codex_request(CHAT_ONLY, &input),
    );
    let events = named_events(&resp.text());
    let done = assert_responses_stream(&events, "response.completed");
    assert!(done["usage"]["total_tokens"].is_u64());
    let patch = done_items(&events)[0].clone();
    assert_eq!(patch["type"], "custom_tool_call", "{patch}");
    assert_eq!(patch["name"], "apply_patch");
    assert_eq!(patch["call_id"], SINGLE_CALL_ID);
    assert_eq!(patch["input"], PATCH);
    assert_eq!(
        deltas(&events, "response.custom_tool_call_input.delta"),
        PATCH
    );
    assert!(
        !events
            .iter()
            .any(|(n, _)| n.starts_with("response.function_call_arguments")),
        "a freeform call has no JSON arguments"
    );

    // Turn 4: the patch output goes back as the call's tool message.
    input.push(patch);
    input.push(
        json!({"type": "custom_tool_call_output", "call_id": SINGLE_CALL_ID,
                      "output": "Success. Updated the following files:\nA out.txt\n"}),
    );
    let resp = post_json(
        &proxy,
        "/v1/responses",
        &CODEX_HEADERS,
        &codex_request(CHAT_ONLY, &input),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let up = fake.requests_to("/chat/completions").pop().unwrap();
    assert_eq!(up.header("x-initiator"), Some("agent"));
    let up = up.json();
    let messages = up["messages"].as_array().unwrap();
    let n = messages.len();
    let call = &messages[n - 2]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "apply_patch");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"input": PATCH}));
    assert_eq!(messages[n - 1]["role"], "tool");
    assert_eq!(messages[n - 1]["tool_call_id"], SINGLE_CALL_ID);
    assert_responses_stream(&named_events(&resp.text()), "response.completed");
}

/// Copilot's `reasoning_text`/`reasoning_opaque` become a reasoning item with
/// `encrypted_content`, which Codex replays and which goes back upstream as the opaque
/// token (DESIGN.md §4: reasoning is never lost).
#[test]
fn translated_reasoning_round_trips_through_encrypted_content() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let model = "claude-sonnet-4.5";
    let mut input = first_input("What is 2+2? scenario:reasoning");
    let resp = post_json(&proxy, "/v1/responses", &[], &codex_request(model, &input));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(fake.requests_to("/v1/messages").is_empty());
    let events = named_events(&resp.text());
    assert_responses_stream(&events, "response.completed");
    let items = done_items(&events);
    assert_eq!(items[0]["type"], "reasoning", "{items:?}");
    assert_eq!(items[0]["encrypted_content"], SIGNATURE);
    assert_eq!(items[0]["summary"][0]["text"], REASONING_PARTS.concat());
    assert_eq!(
        deltas(&events, "response.reasoning_summary_text.delta"),
        REASONING_PARTS.concat()
    );
    assert_eq!(items[1]["type"], "message");
    assert_eq!(items[1]["content"][0]["text"], ANSWER);

    input.extend(items);
    input.push(user("And 3+3?"));
    let resp = post_json(&proxy, "/v1/responses", &[], &codex_request(model, &input));
    assert_eq!(resp.status, 200, "{}", resp.text());
    let up = fake.requests_to("/chat/completions").pop().unwrap().json();
    let assistant = up["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "assistant")
        .unwrap_or_else(|| panic!("{up}"))
        .clone();
    assert_eq!(
        assistant,
        json!({"role": "assistant", "content": ANSWER,
               "reasoning_text": REASONING_PARTS.concat(), "reasoning_opaque": SIGNATURE})
    );
}

/// Parallel calls and both their outputs survive Responses -> Chat -> Responses.
#[test]
fn parallel_calls_and_outputs_survive_the_round_trip() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let mut input = vec![user("Weather and time? scenario:tools")];
    let body = json!({"model": CHAT_ONLY, "input": input, "stream": true, "tools": [
        {"type": "function", "name": "get_weather", "parameters": {"type": "object"}},
        {"type": "function", "name": "get_time", "parameters": {"type": "object"}}]});
    let resp = post_json(&proxy, "/v1/responses", &[], &body);
    let events = named_events(&resp.text());
    assert_responses_stream(&events, "response.completed");
    let calls = done_items(&events);
    let got: Vec<(&str, &str, Value)> = calls
        .iter()
        .map(|c| {
            (
                c["call_id"].as_str().unwrap(),
                c["name"].as_str().unwrap(),
                serde_json::from_str(c["arguments"].as_str().unwrap()).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("call_fake_0", "get_weather", json!({"city": "Paris"})),
            ("call_fake_1", "get_time", json!({"tz": "CET"}))
        ]
    );
    // Outputs in the reverse order of the calls.
    input.extend(calls.iter().cloned());
    input
        .push(json!({"type": "function_call_output", "call_id": "call_fake_1", "output": "10:00"}));
    input
        .push(json!({"type": "function_call_output", "call_id": "call_fake_0", "output": "sunny"}));
    let mut body = body.clone();
    body["input"] = json!(input);
    let resp = post_json(&proxy, "/v1/responses", &[], &body);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let up = fake.requests_to("/chat/completions").pop().unwrap().json();
    let messages = &up["messages"];
    assert_eq!(
        messages[1]["tool_calls"].as_array().unwrap().len(),
        2,
        "{up}"
    );
    assert_eq!(
        messages[2],
        json!({"role": "tool", "tool_call_id": "call_fake_0", "content": "sunny"})
    );
    assert_eq!(
        messages[3],
        json!({"role": "tool", "tool_call_id": "call_fake_1", "content": "10:00"})
    );
}

/// Arguments cut off by a `length` finish are never handed out as broken JSON: the call
/// and the response are marked incomplete.
#[test]
fn arguments_cut_by_length_end_incomplete_with_valid_json() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let body = codex_request(CHAT_ONLY, &first_input("scenario:tool-length"));
    let resp = post_json(&proxy, "/v1/responses", &[], &body);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let events = named_events(&resp.text());
    let end = assert_responses_stream(&events, "response.incomplete");
    assert_eq!(end["status"], "incomplete");
    assert_eq!(end["incomplete_details"]["reason"], "max_output_tokens");
    let call = done_items(&events)[0].clone();
    assert_eq!(call["type"], "function_call");
    assert_eq!(call["status"], "incomplete");
    let args = call["arguments"].as_str().unwrap();
    assert!(
        serde_json::from_str::<Value>(args).is_ok(),
        "valid JSON: {args}"
    );

    let mut body = body;
    body["stream"] = json!(false);
    let resp = post_json(&proxy, "/v1/responses", &[], &body);
    let v = resp.json();
    assert_eq!(v["status"], "incomplete", "{v}");
    let args = v["output"][0]["arguments"].as_str().unwrap();
    assert!(serde_json::from_str::<Value>(args).is_ok(), "{args}");
}
