//! Copilot's native Anthropic `/v1/messages` as the fake plays it: the event stream
//! (`message_start`, text, thinking with `signature_delta`, tool_use with
//! `input_json_delta`, `message_delta`, `message_stop`) for every `Scenario`, and the
//! non-streaming message.

use super::scenarios::{
    ANSWER, Api, REASONING_PARTS, SIGNATURE, Scenario, TEXT_PARTS, common, split_in, tool_arguments,
};
use super::wire::{Reply, Step};
use serde_json::{Value, json};
use std::time::Duration;

fn event(name: &str, data: Value) -> Step {
    Step::Send(format!("event: {name}\ndata: {data}\n\n"))
}

fn block_start(index: usize, block: Value) -> Step {
    event(
        "content_block_start",
        json!({"type": "content_block_start", "index": index, "content_block": block}),
    )
}

fn block_delta(index: usize, delta: Value) -> Step {
    event(
        "content_block_delta",
        json!({"type": "content_block_delta", "index": index, "delta": delta}),
    )
}

fn block_stop(index: usize) -> Step {
    event(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": index}),
    )
}

fn text_delta(text: &str) -> Value {
    json!({"type": "text_delta", "text": text})
}

/// The closing `message_delta` and `message_stop`.
fn message_end(steps: &mut Vec<Step>, stop_reason: &str) {
    steps.push(event(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null},
               "usage": {"output_tokens": 5}}),
    ));
    steps.push(event("message_stop", json!({"type": "message_stop"})));
}

/// The id of the one call of `call:NAME`, `think-call:NAME` and `first-tool`.
pub const TOOL_USE_ID: &str = "toolu_fake_single";

/// The tool a single-call scenario calls, its input, and whether thinking comes first.
fn single_call(scenario: &Scenario, request: &Value) -> Option<(String, Value, bool)> {
    let (name, thinking) = match scenario {
        Scenario::Call(name) => (name.clone(), false),
        Scenario::ThinkCall(name) => (name.clone(), true),
        Scenario::FirstTool => (
            request
                .pointer("/tools/0/name")
                .and_then(Value::as_str)
                .unwrap_or("get_weather")
                .to_string(),
            false,
        ),
        _ => return None,
    };
    let input = serde_json::from_str(&tool_arguments(&name)).unwrap_or(Value::Null);
    Some((name, input, thinking))
}

/// `POST /v1/messages` (Copilot's native Anthropic endpoint).
pub fn messages(scenario: &Scenario, request: &Value) -> Reply {
    let stream = request.get("stream") == Some(&Value::Bool(true));
    if let Some(reply) = common(Api::Messages, scenario, stream) {
        return reply;
    }
    let model = request["model"].as_str().unwrap_or("");
    if !stream {
        if let Some((name, input, thinking)) = single_call(scenario, request) {
            let mut content = Vec::new();
            if thinking {
                content.push(
                    json!({"type": "thinking", "thinking": REASONING_PARTS.concat(),
                                    "signature": SIGNATURE}),
                );
            }
            content
                .push(json!({"type": "tool_use", "id": TOOL_USE_ID, "name": name, "input": input}));
            return Reply::json(
                200,
                &json!({"id": "msg_fake_1", "type": "message", "role": "assistant", "model": model,
                        "content": content, "stop_reason": "tool_use", "stop_sequence": null,
                        "usage": {"input_tokens": 12, "output_tokens": 5}}),
            );
        }
        return Reply::json(200, &anthropic_message(model, scenario));
    }
    let start = event(
        "message_start",
        json!({"type": "message_start", "message": {
            "id": "msg_fake_1", "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 12, "output_tokens": 1}}}),
    );
    let ping = event("ping", json!({"type": "ping"}));
    let opening = || {
        vec![
            start.clone(),
            block_start(0, json!({"type": "text", "text": ""})),
            block_delta(0, text_delta("Hello")),
        ]
    };
    let mut steps = Vec::new();
    if let Some((name, input, thinking)) = single_call(scenario, request) {
        steps.push(start.clone());
        let mut index = 0;
        if thinking {
            steps.push(block_start(
                0,
                json!({"type": "thinking", "thinking": "", "signature": ""}),
            ));
            for part in REASONING_PARTS {
                steps.push(block_delta(
                    0,
                    json!({"type": "thinking_delta", "thinking": part}),
                ));
            }
            steps.push(block_delta(
                0,
                json!({"type": "signature_delta", "signature": SIGNATURE}),
            ));
            steps.push(block_stop(0));
            index = 1;
        }
        steps.push(block_start(
            index,
            json!({"type": "tool_use", "id": TOOL_USE_ID, "name": name, "input": {}}),
        ));
        for part in split_in(&input.to_string(), 10) {
            steps.push(block_delta(
                index,
                json!({"type": "input_json_delta", "partial_json": part}),
            ));
        }
        steps.push(block_stop(index));
        message_end(&mut steps, "tool_use");
        return Reply::Stream(steps);
    }
    match scenario {
        Scenario::Reasoning => {
            steps.push(start.clone());
            steps.push(block_start(
                0,
                json!({"type": "thinking", "thinking": "", "signature": ""}),
            ));
            for part in REASONING_PARTS {
                steps.push(block_delta(
                    0,
                    json!({"type": "thinking_delta", "thinking": part}),
                ));
            }
            steps.push(block_delta(
                0,
                json!({"type": "signature_delta", "signature": SIGNATURE}),
            ));
            steps.push(block_stop(0));
            steps.push(block_start(1, json!({"type": "text", "text": ""})));
            steps.push(block_delta(1, text_delta(ANSWER)));
            steps.push(block_stop(1));
            message_end(&mut steps, "end_turn");
        }
        Scenario::Tools => {
            steps.push(start.clone());
            steps.push(block_start(0, json!({"type": "text", "text": ""})));
            steps.push(block_delta(0, text_delta("Checking.")));
            steps.push(block_stop(0));
            steps.push(block_start(
                1,
                json!({"type": "tool_use", "id": "toolu_fake_1", "name": "get_weather", "input": {}}),
            ));
            for part in ["{\"city\":", "\"Paris\"}"] {
                steps.push(block_delta(
                    1,
                    json!({"type": "input_json_delta", "partial_json": part}),
                ));
            }
            steps.push(block_stop(1));
            message_end(&mut steps, "tool_use");
        }
        Scenario::StallFirst => steps.push(Step::Stall),
        Scenario::StallMid => {
            steps.extend(opening());
            steps.push(Step::Stall);
        }
        Scenario::Pause(ms) => {
            steps.extend(opening());
            steps.push(Step::Wait(Duration::from_millis(*ms)));
            steps.extend([block_delta(0, text_delta(" again")), block_stop(0)]);
            message_end(&mut steps, "end_turn");
        }
        Scenario::Drop => {
            steps.extend(opening());
            steps.push(Step::Drop);
        }
        Scenario::Malformed => {
            steps.extend(opening());
            steps.push(Step::Send(
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\n\n".into(),
            ));
            steps.extend([block_delta(0, text_delta(" lost")), block_stop(0)]);
            message_end(&mut steps, "end_turn");
        }
        Scenario::ErrorEvent => {
            steps.extend(opening());
            steps.push(event(
                "error",
                json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
            ));
        }
        Scenario::Truncated | Scenario::NoDone => steps.extend(opening()),
        Scenario::Many(n) => {
            steps.extend([
                start.clone(),
                block_start(0, json!({"type": "text", "text": ""})),
            ]);
            steps.extend((0..*n).map(|i| block_delta(0, text_delta(&format!("{i},")))));
            steps.push(block_stop(0));
            message_end(&mut steps, "end_turn");
        }
        _ => {
            steps.push(start.clone());
            steps.push(block_start(0, json!({"type": "text", "text": ""})));
            steps.push(ping);
            for part in TEXT_PARTS {
                steps.push(block_delta(0, text_delta(part)));
            }
            steps.push(block_stop(0));
            message_end(&mut steps, "end_turn");
        }
    }
    Reply::Stream(steps)
}

pub fn anthropic_message(model: &str, scenario: &Scenario) -> Value {
    let (content, stop) = match scenario {
        Scenario::Reasoning => (
            json!([{"type": "thinking", "thinking": REASONING_PARTS.concat(), "signature": SIGNATURE},
                   {"type": "text", "text": ANSWER}]),
            "end_turn",
        ),
        Scenario::Tools => (
            json!([{"type": "text", "text": "Checking."},
                   {"type": "tool_use", "id": "toolu_fake_1", "name": "get_weather",
                    "input": {"city": "Paris"}}]),
            "tool_use",
        ),
        _ => (
            json!([{"type": "text", "text": TEXT_PARTS.concat()}]),
            "end_turn",
        ),
    };
    json!({
        "id": "msg_fake_1", "type": "message", "role": "assistant", "model": model,
        "content": content, "stop_reason": stop, "stop_sequence": null,
        "usage": {"input_tokens": 12, "output_tokens": 5},
    })
}
