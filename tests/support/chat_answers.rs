//! Copilot's `/chat/completions` as the fake plays it: OpenAI chunks as Copilot sends them
//! (often without `object`), with tool calls, reasoning deltas and usage where Copilot puts
//! them, for every `Scenario`; and the non-streaming completions.

use super::scenarios::{
    ANSWER, Api, REASONING_PARTS, SIGNATURE, Scenario, TEXT_PARTS, common, split_in, tool_arguments,
};
use super::wire::{Reply, SENT_US, Step};
use serde_json::{Value, json};
use std::time::Duration;

fn data(v: &Value) -> Step {
    Step::Send(format!("data: {v}\n\n"))
}

const DONE: &str = "data: [DONE]\n\n";

/// Chunk framing for one chat answer.
struct Chat {
    model: String,
    bare: bool,
    /// Copilot's usual chunk: `id` and `created` but no `object`.
    copilot: bool,
}

impl Chat {
    fn chunk(&self, choices: Value) -> Value {
        let mut v = json!({"choices": choices, "model": self.model});
        if !self.bare {
            v["id"] = json!("chatcmpl-fake-1");
            v["created"] = json!(1_700_000_000);
            v["system_fingerprint"] = json!("fp_fake");
            if !self.copilot {
                v["object"] = json!("chat.completion.chunk");
            }
        }
        v
    }

    fn delta(&self, delta: Value, finish: Option<&str>) -> Value {
        self.chunk(json!([{"index": 0, "delta": delta, "finish_reason": finish}]))
    }

    fn content(&self, text: &str) -> Step {
        data(&self.delta(json!({"content": text}), None))
    }

    fn role(&self) -> Step {
        data(&self.delta(json!({"role": "assistant", "content": ""}), None))
    }

    fn usage_chunk(&self) -> Step {
        let mut v = self.chunk(json!([]));
        v["usage"] = usage();
        data(&v)
    }

    fn finish(&self, reason: &str) -> Step {
        data(&self.delta(json!({}), Some(reason)))
    }
}

pub fn usage() -> Value {
    json!({"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17,
           "prompt_tokens_details": {"cached_tokens": 0}})
}

fn tool_calls() -> Vec<(&'static str, &'static str, [&'static str; 2])> {
    vec![
        ("call_fake_0", "get_weather", ["{\"city\":", "\"Paris\"}"]),
        ("call_fake_1", "get_time", ["{\"tz\":", "\"CET\"}"]),
    ]
}

/// The id of the one call of `call:NAME`, `first-tool`, `custom-tool` and `tool-length`.
pub const SINGLE_CALL_ID: &str = "call_fake_single";
/// The arguments `tool-length` sends before its `length` finish.
pub const CUT_ARGUMENTS: [&str; 2] = ["{\"city\": ", "\"Par"];

/// The tool called by a single-call scenario, and its arguments (whole).
pub fn single_call(scenario: &Scenario, request: &Value) -> Option<(String, String)> {
    let first = || {
        let tool = request.get("tools")?.get(0)?;
        let name = tool
            .pointer("/function/name")
            .or_else(|| tool.get("name"))?;
        name.as_str().map(str::to_string)
    };
    let name = match scenario {
        Scenario::Call(name) | Scenario::ThinkCall(name) => name.clone(),
        Scenario::FirstTool => first().unwrap_or_else(|| "get_weather".into()),
        Scenario::CustomTool => "apply_patch".into(),
        Scenario::ToolLength => first().unwrap_or_else(|| "get_weather".into()),
        _ => return None,
    };
    let args = match scenario {
        Scenario::ToolLength => CUT_ARGUMENTS.concat(),
        _ => tool_arguments(&name),
    };
    Some((name, args))
}

/// `POST /chat/completions`.
pub fn chat(scenario: &Scenario, request: &Value) -> Reply {
    let stream = request.get("stream") == Some(&Value::Bool(true));
    if let Some(reply) = common(Api::Chat, scenario, stream) {
        return reply;
    }
    let c = Chat {
        model: request["model"].as_str().unwrap_or("").to_string(),
        bare: *scenario == Scenario::Bare,
        copilot: matches!(scenario, Scenario::Tools | Scenario::Reasoning),
    };
    if !stream {
        return Reply::json(200, &chat_completion(&c, scenario, request));
    }
    let mut steps = Vec::new();
    let text = |steps: &mut Vec<Step>| {
        steps.push(c.role());
        steps.extend(TEXT_PARTS.iter().map(|t| c.content(t)));
    };
    match scenario {
        Scenario::UsageInline => {
            text(&mut steps);
            let mut finish = c.delta(json!({}), Some("stop"));
            finish["usage"] = usage();
            steps.extend([data(&finish), Step::Send(DONE.into())]);
        }
        Scenario::PromptFilter => {
            // A comment first: the relay passes upstream comments on.
            steps.push(Step::Send(": upstream comment\n\n".into()));
            steps.push(data(&json!({
                "choices": [], "created": 0, "id": "", "model": "",
                "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {
                    "hate": {"filtered": false, "severity": "safe"},
                    "violence": {"filtered": false, "severity": "safe"}}}]
            })));
            text(&mut steps);
            steps.extend([c.finish("stop"), c.usage_chunk(), Step::Send(DONE.into())]);
        }
        Scenario::Tools => {
            for (i, (id, name, args)) in tool_calls().into_iter().enumerate() {
                let mut first = json!({"tool_calls": [{"index": i, "id": id, "type": "function",
                                        "function": {"name": name, "arguments": ""}}]});
                if i == 0 {
                    first["role"] = json!("assistant");
                    first["content"] = Value::Null;
                }
                steps.push(data(&c.delta(first, None)));
                for a in args {
                    let d = json!({"tool_calls": [{"index": i, "function": {"arguments": a}}]});
                    steps.push(data(&c.delta(d, None)));
                }
            }
            let mut finish = c.delta(json!({}), Some("tool_calls"));
            finish["usage"] = usage();
            steps.extend([data(&finish), Step::Send(DONE.into())]);
        }
        Scenario::Reasoning => {
            let first =
                json!({"role": "assistant", "content": null, "reasoning_text": REASONING_PARTS[0]});
            steps.push(data(&c.delta(first, None)));
            steps.push(data(
                &c.delta(json!({"reasoning_text": REASONING_PARTS[1]}), None),
            ));
            steps.push(data(&c.delta(json!({"reasoning_opaque": SIGNATURE}), None)));
            steps.push(c.content(ANSWER));
            steps.extend([c.finish("stop"), c.usage_chunk(), Step::Send(DONE.into())]);
        }
        Scenario::Call(_)
        | Scenario::ThinkCall(_)
        | Scenario::FirstTool
        | Scenario::CustomTool
        | Scenario::ToolLength => {
            let (name, args) = single_call(scenario, request).unwrap_or_default();
            if let Scenario::ThinkCall(_) = scenario {
                for part in REASONING_PARTS {
                    steps.push(data(&c.delta(json!({"reasoning_text": part}), None)));
                }
                steps.push(data(&c.delta(json!({"reasoning_opaque": SIGNATURE}), None)));
            }
            let first = json!({"role": "assistant", "content": null, "tool_calls": [{
                "index": 0, "id": SINGLE_CALL_ID, "type": "function",
                "function": {"name": name, "arguments": ""}}]});
            steps.push(data(&c.delta(first, None)));
            let pieces = match scenario {
                Scenario::ToolLength => CUT_ARGUMENTS.iter().map(|p| p.to_string()).collect(),
                _ => split_in(&args, 10),
            };
            for piece in pieces {
                let d = json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]});
                steps.push(data(&c.delta(d, None)));
            }
            let finish = if *scenario == Scenario::ToolLength {
                "length"
            } else {
                "tool_calls"
            };
            steps.extend([c.finish(finish), c.usage_chunk(), Step::Send(DONE.into())]);
        }
        Scenario::Empty => {
            steps.extend([c.role(), c.finish("stop"), c.usage_chunk()]);
            steps.push(Step::Send(DONE.into()));
        }
        Scenario::StallFirst => steps.push(Step::Stall),
        Scenario::StallMid => steps.extend([c.role(), c.content("Hello"), Step::Stall]),
        Scenario::Pause(ms) => {
            steps.extend([c.role(), c.content("Hello")]);
            steps.push(Step::Wait(Duration::from_millis(*ms)));
            steps.extend([c.content(" again"), c.finish("stop")]);
            steps.extend([c.usage_chunk(), Step::Send(DONE.into())]);
        }
        Scenario::Drop => steps.extend([c.role(), c.content("Hello"), Step::Drop]),
        Scenario::Malformed => {
            steps.extend([c.role(), c.content("Hello")]);
            steps.push(Step::Send(
                "data: {\"choices\":[{\"index\":0,\"delta\":\n\n".into(),
            ));
            steps.extend([
                c.content(" lost"),
                c.finish("stop"),
                Step::Send(DONE.into()),
            ]);
        }
        Scenario::ErrorEvent => {
            steps.extend([c.role(), c.content("Hello")]);
            steps.push(data(
                &json!({"error": {"message": "fake: the model failed mid-stream",
                                              "type": "server_error", "code": "fake_mid_stream"}}),
            ));
        }
        Scenario::NoDone => {
            text(&mut steps);
            steps.extend([c.finish("stop"), c.usage_chunk()]);
        }
        Scenario::Truncated => steps.extend([c.role(), c.content("Hello")]),
        Scenario::Slow { interval_ms, count } => {
            steps.push(c.role());
            for i in 0..*count {
                steps.push(Step::Wait(Duration::from_millis(*interval_ms)));
                let mut v = c.delta(json!({"content": format!("{i} ")}), None);
                v["fake_seq"] = json!(i);
                v["fake_sent_us"] = json!(SENT_US);
                steps.push(data(&v));
            }
            steps.extend([c.finish("stop"), c.usage_chunk(), Step::Send(DONE.into())]);
        }
        Scenario::Many(n) => {
            steps.push(c.role());
            steps.extend((0..*n).map(|i| c.content(&format!("{i},"))));
            steps.extend([c.finish("stop"), c.usage_chunk(), Step::Send(DONE.into())]);
        }
        _ => {
            text(&mut steps);
            steps.extend([c.finish("stop"), c.usage_chunk(), Step::Send(DONE.into())]);
        }
    }
    Reply::Stream(steps)
}

/// A non-streaming completion; `Bare` lacks `object`, `created` and `id`.
fn chat_completion(c: &Chat, scenario: &Scenario, request: &Value) -> Value {
    let (message, finish) = match scenario {
        Scenario::Call(_)
        | Scenario::ThinkCall(_)
        | Scenario::FirstTool
        | Scenario::CustomTool
        | Scenario::ToolLength => {
            let (name, args) = single_call(scenario, request).unwrap_or_default();
            let call = json!({"id": SINGLE_CALL_ID, "type": "function",
                              "function": {"name": name, "arguments": args}});
            let finish = if *scenario == Scenario::ToolLength {
                "length"
            } else {
                "tool_calls"
            };
            let mut message = json!({"role": "assistant", "content": null, "tool_calls": [call]});
            if let Scenario::ThinkCall(_) = scenario {
                message["reasoning_text"] = json!(REASONING_PARTS.concat());
                message["reasoning_opaque"] = json!(SIGNATURE);
            }
            (message, finish)
        }
        Scenario::Empty => (json!({"role": "assistant", "content": ""}), "stop"),
        Scenario::Tools => {
            let calls: Vec<Value> = tool_calls()
                .into_iter()
                .map(|(id, name, args)| {
                    json!({"id": id, "type": "function",
                           "function": {"name": name, "arguments": args.concat()}})
                })
                .collect();
            (
                json!({"role": "assistant", "content": null, "tool_calls": calls}),
                "tool_calls",
            )
        }
        Scenario::Reasoning => (
            json!({"role": "assistant", "content": ANSWER,
                   "reasoning_text": REASONING_PARTS.concat(), "reasoning_opaque": SIGNATURE}),
            "stop",
        ),
        _ => (
            json!({"role": "assistant", "content": TEXT_PARTS.concat()}),
            "stop",
        ),
    };
    let mut v = json!({
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "model": c.model,
        "usage": usage(),
    });
    if !c.bare {
        v["id"] = json!("chatcmpl-fake-1");
        v["object"] = json!("chat.completion");
        v["created"] = json!(1_700_000_000);
    }
    v
}
