//! Unit tests of `translate::responses_stream`: Chat chunks in, Responses events out.

use super::*;
use serde_json::json;

fn req() -> Value {
    json!({"model": "claude-sonnet-4.5", "stream": true, "tool_choice": "auto",
           "tools": [{"type": "function", "name": "exec_command"}, {"type": "custom", "name": "apply_patch"}]})
}

fn stream() -> ResponsesStream {
    ResponsesStream::new("resp_abc", &req(), vec!["apply_patch".into()])
}

fn chunk(delta: Value, finish: Option<&str>) -> Value {
    json!({"id": "chatcmpl-1", "model": "claude-sonnet-4.5",
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
}

fn usage_chunk() -> Value {
    json!({"id": "chatcmpl-1", "choices": [],
           "usage": {"prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57,
                     "prompt_tokens_details": {"cached_tokens": 10}}})
}

/// Runs chunks through a stream and returns (type, data) of every event, checking the
/// invariants every event must keep.
fn run(s: &mut ResponsesStream, chunks: &[Value]) -> Vec<(String, Value)> {
    let mut events = Vec::new();
    for c in chunks {
        events.extend(s.on_chunk(c));
    }
    events.extend(s.finish());
    decode(events)
}

fn decode(events: Vec<Event>) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (n, e) in events.into_iter().enumerate() {
        let data: Value = serde_json::from_str(&e.data).unwrap();
        let name = e.event.clone().unwrap().into_owned();
        assert_eq!(data["type"], name.as_str(), "event name equals type");
        assert_eq!(data["sequence_number"], n as u64, "{name}");
        assert!(e.to_wire().starts_with(&format!("event: {name}\ndata: {{")));
        out.push((name, data));
    }
    out
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(n, _)| n.as_str()).collect()
}

fn find<'a>(events: &'a [(String, Value)], name: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, d)| d)
        .collect()
}

#[test]
fn text_stream_with_reasoning_and_separate_usage() {
    let mut s = stream();
    let events = run(
        &mut s,
        &[
            chunk(json!({"role": "assistant"}), None),
            chunk(json!({"reasoning_text": "Think"}), None),
            chunk(json!({"reasoning_text": "ing."}), None),
            chunk(json!({"content": "Hel", "reasoning_opaque": "sig=="}), None),
            chunk(json!({"content": "lo"}), None),
            chunk(json!({}), Some("stop")),
            usage_chunk(),
        ],
    );
    assert_eq!(
        names(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.reasoning_summary_part.added",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.delta",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.reasoning_summary_text.done",
            "response.reasoning_summary_part.done",
            "response.output_item.done",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let created = &events[0].1["response"];
    assert_eq!(created["id"], "resp_abc");
    assert_eq!(created["status"], "in_progress");
    let done = find(&events, "response.output_item.done");
    assert_eq!(done[0]["output_index"], 0);
    assert_eq!(done[0]["item"]["encrypted_content"], "sig==");
    assert_eq!(done[0]["item"]["summary"][0]["text"], "Thinking.");
    assert_eq!(done[1]["output_index"], 1);
    assert_eq!(done[1]["item"]["content"][0]["text"], "Hello");
    let text_delta = find(&events, "response.output_text.delta")[0];
    assert_eq!(text_delta["item_id"], done[1]["item"]["id"]);
    assert_eq!(text_delta["output_index"], 1);

    let completed = &events.last().unwrap().1["response"];
    assert_eq!(
        completed["id"], "resp_abc",
        "same id as response.created (§10.18)"
    );
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["model"], "claude-sonnet-4.5");
    assert_eq!(completed["output_text"], "Hello");
    assert_eq!(completed["output"].as_array().unwrap().len(), 2);
    assert_eq!(
        completed["usage"]["input_tokens"], 50,
        "usage after the finish chunk"
    );
    assert_eq!(completed["usage"]["output_tokens"], 7);
    assert_eq!(completed["usage"]["total_tokens"], 57);
    assert_eq!(
        completed["usage"]["input_tokens_details"]["cached_tokens"],
        10
    );
    let output: Vec<Value> = s
        .output()
        .iter()
        .map(|i| serde_json::to_value(i).unwrap())
        .collect();
    assert_eq!(output, completed["output"].as_array().unwrap().clone());
}

#[test]
fn usage_inline_on_the_finish_chunk() {
    let mut finish = chunk(json!({"content": "ok"}), Some("stop"));
    finish["usage"] = usage_chunk()["usage"].clone();
    let events = run(&mut stream(), &[finish]);
    let completed = &events.last().unwrap().1;
    assert_eq!(completed["type"], "response.completed");
    assert_eq!(completed["response"]["usage"]["total_tokens"], 57);
}

#[test]
fn parallel_calls_with_interleaved_arguments() {
    let events = run(
        &mut stream(),
        &[
            chunk(json!({"content": "Running both."}), None),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                         "function": {"name": "exec_command", "arguments": ""}}]}),
                None,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"cmd\":"}}]}),
                None,
            ),
            chunk(
                json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                                         "function": {"name": "exec_command", "arguments": "{\"cmd\":\"pwd\"}"}}]}),
                None,
            ),
            // A late fragment of the first call, after the second started.
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"ls\"}"}}]}),
                None,
            ),
            chunk(json!({}), Some("tool_calls")),
            usage_chunk(),
        ],
    );
    let added = find(&events, "response.output_item.added");
    assert_eq!(added.len(), 3);
    assert_eq!(added[1]["item"]["call_id"], "call_a");
    assert_eq!(added[1]["output_index"], 1);
    assert_eq!(added[2]["item"]["call_id"], "call_b");
    assert_eq!(added[2]["output_index"], 2);
    let deltas = find(&events, "response.function_call_arguments.delta");
    let for_a: String = deltas
        .iter()
        .filter(|d| d["output_index"] == 1)
        .map(|d| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(for_a, "{\"cmd\":\"ls\"}");
    assert!(
        deltas
            .iter()
            .all(|d| d["item_id"]
                == added[d["output_index"].as_u64().unwrap() as usize]["item"]["id"])
    );
    let done = find(&events, "response.function_call_arguments.done");
    assert_eq!(done[0]["arguments"], "{\"cmd\":\"ls\"}");
    assert_eq!(done[1]["arguments"], "{\"cmd\":\"pwd\"}");
    let items = find(&events, "response.output_item.done");
    assert_eq!(items[1]["item"]["type"], "function_call");
    assert_eq!(items[1]["item"]["status"], "completed");
    assert_eq!(items[2]["item"]["call_id"], "call_b");
    let completed = &events.last().unwrap().1["response"];
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["output"].as_array().unwrap().len(), 3);
}

#[test]
fn calls_reusing_index_zero_stay_apart() {
    let events = run(
        &mut stream(),
        &[
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "exec_command", "arguments": "{}"}}]}),
                None,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "c2", "function": {"name": "exec_command", "arguments": "{\"a\":1}"}}]}),
                Some("tool_calls"),
            ),
        ],
    );
    let items = find(&events, "response.output_item.done");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["item"]["arguments"], "{}");
    assert_eq!(items[1]["item"]["arguments"], "{\"a\":1}");
}

#[test]
fn apply_patch_streams_as_a_custom_tool_call() {
    let patch = "*** Begin Patch\n*** Add File: out.txt\n+hello \"x\" \u{e9}\n*** End Patch";
    let args = json!({"input": patch}).to_string();
    // Cut the arguments at awkward places: inside the key, inside escapes.
    let cuts = [3, 10, 12, 30, 31, 45, args.len() - 1];
    let mut pieces = Vec::new();
    let mut from = 0;
    for &to in &cuts {
        let to = (to..=args.len())
            .find(|&t| args.is_char_boundary(t))
            .unwrap();
        pieces.push(args[from..to].to_string());
        from = to;
    }
    pieces.push(args[from..].to_string());
    let mut chunks = vec![chunk(
        json!({"tool_calls": [{"index": 0, "id": "call_p", "type": "function",
                               "function": {"name": "apply_patch", "arguments": ""}}]}),
        None,
    )];
    for p in &pieces {
        chunks.push(chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}),
            None,
        ));
    }
    chunks.push(chunk(json!({}), Some("tool_calls")));
    let events = run(&mut stream(), &chunks);
    let added = find(&events, "response.output_item.added")[0];
    assert_eq!(added["item"]["type"], "custom_tool_call");
    assert!(added["item"]["id"].as_str().unwrap().starts_with("ctc_"));
    let streamed: String = find(&events, "response.custom_tool_call_input.delta")
        .iter()
        .map(|d| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(streamed, patch);
    assert_eq!(
        find(&events, "response.custom_tool_call_input.done")[0]["input"],
        patch
    );
    assert!(find(&events, "response.function_call_arguments.delta").is_empty());
    let item = &find(&events, "response.output_item.done")[0]["item"];
    assert_eq!(
        (
            &item["type"],
            &item["call_id"],
            &item["name"],
            &item["input"]
        ),
        (
            &json!("custom_tool_call"),
            &json!("call_p"),
            &json!("apply_patch"),
            &json!(patch)
        )
    );
}

#[test]
fn truncated_arguments_end_incomplete_with_valid_json() {
    let events = run(
        &mut stream(),
        &[
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "exec_command",
                                         "arguments": "{\"cmd\":[\"ls\""}}]}),
                Some("length"),
            ),
            usage_chunk(),
        ],
    );
    let done = find(&events, "response.function_call_arguments.done")[0];
    assert_eq!(done["arguments"], "{\"cmd\":[\"ls\"]}");
    let item = &find(&events, "response.output_item.done")[0]["item"];
    assert_eq!(item["status"], "incomplete");
    let (name, last) = events.last().unwrap();
    assert_eq!(name, "response.incomplete");
    assert_eq!(last["response"]["status"], "incomplete");
    assert_eq!(
        last["response"]["incomplete_details"]["reason"],
        "max_output_tokens"
    );
    assert_eq!(last["response"]["usage"]["total_tokens"], 57);
}

#[test]
fn failures() {
    // Before anything was sent: created, in_progress, then failed.
    let mut s = stream();
    let events = decode(s.fail("prompt is too long", "context_length_exceeded"));
    assert_eq!(
        names(&events),
        [
            "response.created",
            "response.in_progress",
            "response.failed"
        ]
    );
    let failed = &events[2].1["response"];
    assert_eq!(failed["status"], "failed");
    assert_eq!(
        failed["error"],
        json!({"code": "context_length_exceeded", "message": "prompt is too long"})
    );
    assert!(
        s.finish().is_empty() && s.on_chunk(&usage_chunk()).is_empty(),
        "ended"
    );

    // An error chunk mid-stream.
    let mut s = stream();
    let mut events = s.on_chunk(&chunk(json!({"content": "par"}), None));
    events.extend(s.on_chunk(&json!({"error": {"message": "boom", "code": "overloaded"}})));
    events.extend(s.finish());
    let events = decode(events);
    let (name, last) = events.last().unwrap();
    assert_eq!(name, "response.failed");
    assert_eq!(last["response"]["error"]["code"], "overloaded");
    assert_eq!(last["response"]["output"][0]["content"][0]["text"], "par");
}

#[test]
fn empty_upstream_still_completes() {
    let mut s = stream();
    let mut events = s.start();
    events.extend(s.start());
    events.extend(s.finish());
    let events = decode(events);
    assert_eq!(
        names(&events),
        [
            "response.created",
            "response.in_progress",
            "response.completed"
        ]
    );
    assert_eq!(events[2].1["response"]["usage"], Value::Null);
}
