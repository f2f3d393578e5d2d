//! Unit tests of `translate::anthropic_stream`: Chat chunks in, Anthropic events out.

use super::*;
use serde_json::json;

// ---- chunk builders ----

fn chunk(choices: Value) -> Value {
    json!({"id": "chatcmpl-1", "model": "upstream-model", "choices": choices})
}
fn delta(d: Value) -> Value {
    chunk(json!([{"index": 0, "delta": d}]))
}
fn role() -> Value {
    delta(json!({"role": "assistant", "content": ""}))
}
fn text(t: &str) -> Value {
    delta(json!({"content": t}))
}
fn reasoning(t: &str) -> Value {
    delta(json!({"reasoning_text": t}))
}
fn finish(reason: &str) -> Value {
    chunk(json!([{"index": 0, "delta": {}, "finish_reason": reason}]))
}
fn usage_chunk(prompt: u64, completion: u64, cached: u64) -> Value {
    json!({"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": prompt,
           "completion_tokens": completion, "prompt_tokens_details": {"cached_tokens": cached}}})
}
fn call_start(index: u64, id: &str, name: &str, args: &str) -> Value {
    delta(
        json!({"tool_calls": [{"index": index, "id": id, "type": "function",
                                  "function": {"name": name, "arguments": args}}]}),
    )
}
fn call_args(index: u64, args: &str) -> Value {
    delta(json!({"tool_calls": [{"index": index, "function": {"arguments": args}}]}))
}

/// Runs chunks then `finish()`, checks the protocol invariants, and renders each event
/// as one short line.
fn run(state: &mut StreamState, chunks: &[Value]) -> Vec<String> {
    let mut events = Vec::new();
    for c in chunks {
        events.extend(state.on_chunk(c));
    }
    events.extend(state.finish());
    render(&events)
}

fn new_state() -> StreamState {
    StreamState::new("claude-sonnet-4-5", ToolNames::default(), 1234)
}

fn render(events: &[Event]) -> Vec<String> {
    check(events);
    events
        .iter()
        .map(|e| {
            let v: Value = serde_json::from_str(&e.data).unwrap();
            let i = &v["index"];
            match v["type"].as_str().unwrap() {
                "message_start" => format!("message_start {}", v["message"]["usage"]),
                "content_block_start" => {
                    let b = &v["content_block"];
                    match b["type"].as_str().unwrap() {
                        "tool_use" => format!(
                            "start {i} tool_use {} {}",
                            b["id"].as_str().unwrap(),
                            b["name"].as_str().unwrap()
                        ),
                        "redacted_thinking" => format!(
                            "start {i} redacted_thinking {}",
                            b["data"].as_str().unwrap()
                        ),
                        t => format!("start {i} {t}"),
                    }
                }
                "content_block_delta" => {
                    let d = &v["delta"];
                    let (kind, value) = match d["type"].as_str().unwrap() {
                        "text_delta" => ("text", &d["text"]),
                        "thinking_delta" => ("thinking", &d["thinking"]),
                        "signature_delta" => ("signature", &d["signature"]),
                        "input_json_delta" => ("json", &d["partial_json"]),
                        other => panic!("unknown delta {other}"),
                    };
                    format!("delta {i} {kind} {}", value.as_str().unwrap())
                }
                "content_block_stop" => format!("stop {i}"),
                "message_delta" => format!(
                    "message_delta {} {}",
                    v["delta"]["stop_reason"].as_str().unwrap(),
                    v["usage"]
                ),
                "message_stop" => "message_stop".into(),
                "error" => format!(
                    "error {} {}",
                    v["error"]["type"].as_str().unwrap(),
                    v["error"]["message"].as_str().unwrap()
                ),
                other => panic!("unknown event {other}"),
            }
        })
        .collect()
}

/// The Anthropic stream grammar: event name = type, `message_start` first and once,
/// blocks with contiguous indices from 0, one open at a time, deltas of the open
/// block's kind, `message_stop` (or `error`) last and once.
fn check(events: &[Event]) {
    let vals: Vec<Value> = events
        .iter()
        .map(|e| {
            let v: Value = serde_json::from_str(&e.data).unwrap();
            assert_eq!(e.event.as_deref(), v["type"].as_str(), "event name = type");
            assert!(!e.data.contains('\n'), "compact JSON");
            v
        })
        .collect();
    let mut open: Option<(u64, String)> = None;
    let mut next = 0;
    let mut ended = false;
    let mut delta_seen = false;
    for (n, v) in vals.iter().enumerate() {
        assert!(!ended, "event after the end: {v}");
        let t = v["type"].as_str().unwrap();
        assert_eq!(
            n == 0,
            t == "message_start",
            "message_start first and only first: {v}"
        );
        match t {
            "content_block_start" => {
                assert!(open.is_none() && !delta_seen, "{v}");
                assert_eq!(v["index"], next, "contiguous indices");
                open = Some((next, v["content_block"]["type"].as_str().unwrap().into()));
                next += 1;
            }
            "content_block_delta" => {
                let (i, kind) = open.clone().expect("delta inside a block");
                assert_eq!(v["index"], i, "{v}");
                let ok = match v["delta"]["type"].as_str().unwrap() {
                    "text_delta" => kind == "text",
                    "thinking_delta" | "signature_delta" => kind == "thinking",
                    "input_json_delta" => kind == "tool_use",
                    _ => false,
                };
                assert!(ok, "{v} in a {kind} block");
            }
            "content_block_stop" => {
                let (i, _) = open.take().expect("stop of an open block");
                assert_eq!(v["index"], i);
            }
            "message_delta" => {
                assert!(open.is_none());
                assert!(
                    v["delta"]["stop_reason"].is_string(),
                    "stop_reason never null"
                );
                delta_seen = true;
            }
            "message_stop" => {
                assert!(delta_seen);
                ended = true;
            }
            "error" => {
                assert!(open.is_none());
                ended = true;
            }
            _ => {}
        }
    }
}

// ---- tests ----

#[test]
fn reference_sequence_with_thinking_text_and_tool() {
    // Reference §4.4, fixed: thinking in its own block, usage from the later chunk,
    // message_start with the estimate.
    let mut s = new_state();
    let out = run(
        &mut s,
        &[
            role(),
            delta(json!({"reasoning_content": "hmm"})),
            text("Hi"),
            call_start(0, "c1", "Read", ""),
            call_args(0, "{\"file_path\":\"a\"}"),
            finish("tool_calls"),
            usage_chunk(100, 20, 30),
        ],
    );
    assert_eq!(
        out,
        [
            r#"message_start {"input_tokens":1234,"output_tokens":0}"#,
            "start 0 thinking",
            "delta 0 thinking hmm",
            "stop 0",
            "start 1 text",
            "delta 1 text Hi",
            "stop 1",
            "start 2 tool_use c1 Read",
            r#"delta 2 json {"file_path":"a"}"#,
            "stop 2",
            r#"message_delta tool_use {"cache_read_input_tokens":30,"input_tokens":70,"output_tokens":20}"#,
            "message_stop",
        ]
    );
}

#[test]
fn usage_chunk_ends_the_message_and_finish_adds_nothing() {
    let mut s = new_state();
    let mut events = Vec::new();
    for c in [role(), text("x"), finish("stop")] {
        events.extend(s.on_chunk(&c));
    }
    assert!(
        !render(&events)
            .iter()
            .any(|e| e.starts_with("message_delta")),
        "deferred until usage"
    );
    let end = render_tail(s.on_chunk(&usage_chunk(10, 2, 0)));
    assert_eq!(
        end,
        [
            "stop 0",
            r#"message_delta end_turn {"cache_read_input_tokens":0,"input_tokens":10,"output_tokens":2}"#,
            "message_stop"
        ]
    );
    assert!(s.finish().is_empty());
    assert!(s.on_chunk(&text("late")).is_empty());
    assert!(s.fail("x", "api_error").is_empty());
}

/// Renders events that continue an already checked stream.
fn render_tail(events: Vec<Event>) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let v: Value = serde_json::from_str(&e.data).unwrap();
            match v["type"].as_str().unwrap() {
                "content_block_stop" => format!("stop {}", v["index"]),
                "message_delta" => format!(
                    "message_delta {} {}",
                    v["delta"]["stop_reason"].as_str().unwrap(),
                    v["usage"]
                ),
                t => t.to_string(),
            }
        })
        .collect()
}

#[test]
fn usage_inline_with_the_finish_chunk() {
    let mut s = new_state();
    let mut last = finish("stop");
    last["usage"] = json!({"prompt_tokens": 50, "completion_tokens": 7});
    let out = run(&mut s, &[role(), text("hello"), last]);
    assert_eq!(
        out[out.len() - 2],
        r#"message_delta end_turn {"input_tokens":50,"output_tokens":7}"#
    );
}

#[test]
fn no_usage_reports_the_estimate() {
    let mut s = new_state();
    let out = run(&mut s, &[text("a"), finish("stop")]);
    assert_eq!(
        out[out.len() - 2],
        r#"message_delta end_turn {"input_tokens":1234,"output_tokens":0}"#
    );
}

#[test]
fn thinking_is_signed_before_it_closes() {
    let mut s = new_state();
    let out = run(
        &mut s,
        &[
            role(),
            reasoning("Let me "),
            reasoning("think."),
            delta(json!({"content": "", "reasoning_opaque": "EqQBsig=="})),
            text("Answer."),
            finish("stop"),
            usage_chunk(5, 5, 0),
        ],
    );
    assert_eq!(
        &out[1..8],
        [
            "start 0 thinking",
            "delta 0 thinking Let me ",
            "delta 0 thinking think.",
            "delta 0 signature EqQBsig==",
            "stop 0",
            "start 1 text",
            "delta 1 text Answer.",
        ]
    );
    // Reasoning and its signature in the same delta as the text that follows.
    let mut s = new_state();
    let out = run(
        &mut s,
        &[delta(
            json!({"reasoning_text": "r", "reasoning_opaque": "sig", "content": "t"}),
        )],
    );
    assert_eq!(
        &out[1..7],
        [
            "start 0 thinking",
            "delta 0 thinking r",
            "delta 0 signature sig",
            "stop 0",
            "start 1 text",
            "delta 1 text t"
        ]
    );
}

#[test]
fn late_or_lone_opaque_token_becomes_redacted_thinking() {
    // Copilot can send the opaque token with the tool call, after the text.
    let mut s = new_state();
    let out = run(
        &mut s,
        &[
            reasoning("plan"),
            text("Running it."),
            delta(
                json!({"reasoning_opaque": "enc", "tool_calls": [{"index": 0, "id": "t1", "type": "function",
                "function": {"name": "Bash", "arguments": "{\"command\":\"ls\"}"}}]}),
            ),
            finish("tool_calls"),
        ],
    );
    assert_eq!(
        &out[1..13],
        [
            "start 0 thinking",
            "delta 0 thinking plan",
            "stop 0",
            "start 1 text",
            "delta 1 text Running it.",
            "stop 1",
            "start 2 redacted_thinking enc",
            "stop 2",
            "start 3 tool_use t1 Bash",
            r#"delta 3 json {"command":"ls"}"#,
            "stop 3",
            r#"message_delta tool_use {"input_tokens":1234,"output_tokens":0}"#,
        ]
    );
}

#[test]
fn reasoning_after_text_opens_a_new_thinking_block() {
    // Never a thinking_delta inside a text block (reference §10.4).
    let mut s = new_state();
    let out = run(&mut s, &[text("a"), reasoning("b"), text("c")]);
    assert_eq!(
        &out[1..10],
        [
            "start 0 text",
            "delta 0 text a",
            "stop 0",
            "start 1 thinking",
            "delta 1 thinking b",
            "stop 1",
            "start 2 text",
            "delta 2 text c",
            "stop 2"
        ]
    );
}

#[test]
fn gemini_single_chunk_call_with_stop_is_tool_use() {
    let mut s = new_state();
    let out = run(
        &mut s,
        &[
            call_start(0, "g1", "Bash", "{\"command\":\"ls -la\"}"),
            finish("stop"),
        ],
    );
    assert_eq!(
        &out[1..],
        [
            "start 0 tool_use g1 Bash",
            r#"delta 0 json {"command":"ls -la"}"#,
            "stop 0",
            r#"message_delta tool_use {"input_tokens":1234,"output_tokens":0}"#,
            "message_stop",
        ]
    );
}

#[test]
fn truncated_tool_call_stops_with_max_tokens() {
    let mut s = new_state();
    let out = run(
        &mut s,
        &[
            text("x"),
            call_start(0, "w1", "Write", ""),
            call_args(0, "{\"file_path\":\"a\",\"content\":\"abc"),
            finish("length"),
            usage_chunk(10, 32000, 0),
        ],
    );
    assert_eq!(
        &out[1..],
        [
            "start 0 text",
            "delta 0 text x",
            "stop 0",
            "start 1 tool_use w1 Write",
            r#"delta 1 json {"file_path":"a","content":"abc"#,
            "stop 1",
            r#"message_delta max_tokens {"cache_read_input_tokens":0,"input_tokens":10,"output_tokens":32000}"#,
            "message_stop",
        ]
    );
    // Unparseable arguments are truncation even when the finish reason says otherwise.
    let mut s = new_state();
    let out = run(
        &mut s,
        &[call_start(0, "w", "Write", "{\"a\":"), finish("tool_calls")],
    );
    assert!(
        out[out.len() - 2].starts_with("message_delta max_tokens"),
        "{out:?}"
    );
}

#[test]
fn parallel_calls_streamed_one_after_the_other() {
    let mut s = new_state();
    let out = run(
        &mut s,
        &[
            call_start(0, "a", "Read", ""),
            call_args(0, "{\"file_path\":"),
            call_args(0, "\"x\"}"),
            call_start(1, "b", "Read", ""),
            call_args(1, "{\"file_path\":\"y\"}"),
            finish("tool_calls"),
        ],
    );
    assert_eq!(
        &out[1..9],
        [
            "start 0 tool_use a Read",
            r#"delta 0 json {"file_path":"#,
            r#"delta 0 json "x"}"#,
            "stop 0",
            "start 1 tool_use b Read",
            r#"delta 1 json {"file_path":"y"}"#,
            "stop 1",
            r#"message_delta tool_use {"input_tokens":1234,"output_tokens":0}"#,
        ]
    );
}

#[test]
fn interleaved_argument_deltas_land_in_their_own_blocks() {
    // Call b starts while a's arguments are incomplete, then both keep streaming.
    let mut s = new_state();
    let out = run(
        &mut s,
        &[
            call_start(0, "a", "Read", "{\"file_path\":"),
            call_start(1, "b", "Grep", "{\"pattern\":"),
            call_args(1, "\"fo"),
            call_args(0, "\"x\"}"),
            call_args(1, "o\"}"),
            text("done"),
            finish("tool_calls"),
        ],
    );
    assert_eq!(
        &out[1..],
        [
            "start 0 tool_use a Read",
            r#"delta 0 json {"file_path":"#,
            r#"delta 0 json "x"}"#,
            "stop 0",
            "start 1 tool_use b Grep",
            r#"delta 1 json {"pattern":"fo"#,
            r#"delta 1 json o"}"#,
            "stop 1",
            "start 2 text",
            "delta 2 text done",
            "stop 2",
            r#"message_delta tool_use {"input_tokens":1234,"output_tokens":0}"#,
            "message_stop",
        ]
    );
}

#[test]
fn identity_after_arguments_and_a_call_never_completed() {
    // Arguments first, id and name later; a second call whose JSON never closes is
    // flushed at the end.
    let mut s = new_state();
    let out = run(
        &mut s,
        &[
            call_args(0, "{\"q\":"),
            delta(
                json!({"tool_calls": [{"index": 0, "id": "late", "function": {"name": "Search"}}]}),
            ),
            call_args(0, "1}"),
            delta(
                json!({"tool_calls": [{"index": 1, "function": {"name": "NoId", "arguments": "{}"}}]}),
            ),
            finish("tool_calls"),
        ],
    );
    assert_eq!(
        &out[1..4],
        [
            "start 0 tool_use late Search",
            r#"delta 0 json {"q":"#,
            r#"delta 0 json 1}"#
        ]
    );
    assert_eq!(out[4], "stop 0");
    assert!(
        out[5].starts_with("start 1 tool_use toolu_") && out[5].ends_with(" NoId"),
        "{}",
        out[5]
    );
    assert_eq!(out[6], "delta 1 json {}");
}

#[test]
fn calls_reusing_index_zero_with_new_ids_are_separate() {
    let mut s = new_state();
    let out = run(
        &mut s,
        &[
            call_start(0, "a", "Read", "{}"),
            call_start(0, "b", "Read", "{}"),
            finish("tool_calls"),
        ],
    );
    assert_eq!(
        &out[1..7],
        [
            "start 0 tool_use a Read",
            "delta 0 json {}",
            "stop 0",
            "start 1 tool_use b Read",
            "delta 1 json {}",
            "stop 1"
        ]
    );
}

#[test]
fn choices_are_merged() {
    // Copilot's split Claude stream: text in choice 0, the tool call in choice 1.
    let mut s = new_state();
    let out = run(
        &mut s,
        &[
            chunk(json!([{"index": 0, "delta": {"content": "Checking."}}])),
            chunk(json!([
                {"index": 0, "delta": {}, "finish_reason": "stop"},
                {"index": 1, "delta": {"tool_calls": [{"index": 0, "id": "t", "type": "function",
                    "function": {"name": "Read", "arguments": "{\"file_path\":\"f\"}"}}]}}
            ])),
            chunk(json!([{"index": 1, "delta": {}, "finish_reason": "tool_calls"}])),
            usage_chunk(1, 1, 0),
        ],
    );
    assert_eq!(
        &out[1..8],
        [
            "start 0 text",
            "delta 0 text Checking.",
            "stop 0",
            "start 1 tool_use t Read",
            r#"delta 1 json {"file_path":"f"}"#,
            "stop 1",
            r#"message_delta tool_use {"cache_read_input_tokens":0,"input_tokens":1,"output_tokens":1}"#,
        ]
    );
}

#[test]
fn empty_choice_chunks_and_empty_answers() {
    let mut s = new_state();
    let filter = json!({"id": "", "choices": [], "prompt_filter_results": [{"prompt_index": 0}]});
    assert!(s.on_chunk(&filter).is_empty());
    assert!(
        s.on_chunk(&role()).is_empty(),
        "nothing before the first block"
    );
    assert!(s.on_chunk(&finish("stop")).is_empty());
    assert!(s.on_chunk(&usage_chunk(3, 0, 0)).is_empty(), "still open");
    assert!(!s.has_content());
    // The route retries here; without a retry, finish still closes the message.
    let out = render(&s.finish());
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(
        out[1],
        r#"message_delta end_turn {"cache_read_input_tokens":0,"input_tokens":3,"output_tokens":0}"#
    );

    // Or the caller adds an explanation to the empty answer, then finishes.
    let mut s = new_state();
    let mut events = Vec::new();
    for c in [
        role(),
        finish("stop"),
        usage_chunk(3, 0, 0),
        text("Sorry, empty."),
        finish("stop"),
    ] {
        events.extend(s.on_chunk(&c));
    }
    events.extend(s.finish());
    let out = render(&events);
    assert_eq!(
        &out[1..4],
        ["start 0 text", "delta 0 text Sorry, empty.", "stop 0"]
    );
}

#[test]
fn content_filter_is_refusal() {
    let mut s = new_state();
    let out = run(&mut s, &[text("I"), finish("content_filter")]);
    assert!(out[out.len() - 2].starts_with("message_delta refusal"));
}

#[test]
fn fail_closes_the_open_block_then_errors() {
    let mut s = new_state();
    let mut events = s.on_chunk(&text("partial"));
    events.extend(s.fail("upstream dropped", "api_error"));
    assert_eq!(
        render(&events),
        [
            r#"message_start {"input_tokens":1234,"output_tokens":0}"#,
            "start 0 text",
            "delta 0 text partial",
            "stop 0",
            "error api_error upstream dropped",
        ]
    );
    assert!(s.finish().is_empty() && s.fail("again", "api_error").is_empty());
    assert!(s.on_chunk(&text("more")).is_empty());

    // Before anything: message_start first, then the error.
    let mut s = new_state();
    assert_eq!(
        render(&s.fail("stalled", "overloaded_error")),
        [
            r#"message_start {"input_tokens":1234,"output_tokens":0}"#,
            "error overloaded_error stalled"
        ]
    );
}

#[test]
fn message_start_carries_the_msg_id_and_requested_model() {
    let mut s = StreamState::new("claude-opus-4-6", ToolNames::default(), 9);
    let events = s.on_chunk(&text("x"));
    let start: Value = serde_json::from_str(&events[0].data).unwrap();
    assert_eq!(start["message"]["id"], "msg_chatcmpl-1");
    assert_eq!(start["message"]["model"], "claude-opus-4-6");
    assert_eq!(start["message"]["stop_reason"], Value::Null);
    assert_eq!(
        events[0].to_wire().lines().next(),
        Some("event: message_start")
    );
    let thinking = s.on_chunk(&reasoning("r"));
    let block: Value = serde_json::from_str(&thinking[1].data).unwrap();
    assert_eq!(
        block["content_block"],
        json!({"type": "thinking", "thinking": "", "signature": ""})
    );
}

#[test]
fn long_mcp_tool_name_round_trip() {
    let long = "mcp__plugin_chrome-devtools-mcp_chrome-devtools__get_console_message";
    let req = json!({"stream": true, "tools": [{"name": long, "input_schema": {"type": "object"}}],
                     "messages": [{"role": "user", "content": "logs?"}]});
    let chat = crate::translate::anthropic_request::tests::to_chat(&req, "gpt-4.1").unwrap();
    let alias = chat.body["tools"][0]["function"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(alias.len() <= 64 && alias != long);
    let mut s = StreamState::new("m", chat.tools, 0);
    let out = run(
        &mut s,
        &[call_start(0, "t", &alias, "{}"), finish("tool_calls")],
    );
    assert_eq!(out[1], format!("start 0 tool_use t {long}"));
}
