//! Copilot's `/responses` as the fake plays it: the event stream (`response.created`,
//! `response.in_progress`, output items opened and closed with their deltas, and
//! `response.completed` with `usage`) for every `Scenario`, and the non-streaming
//! `response` object. Text, parallel `exec_command` calls, Codex's freeform `apply_patch`
//! as a `custom_tool_call`, reasoning with a summary and `encrypted_content`,
//! `response.failed`, an `error` event and the connection faults.

use super::scenarios::{
    ANSWER, Api, ENCRYPTED, PATCH, SUMMARY_PARTS, Scenario, TEXT_PARTS, common, split_in,
    tool_arguments,
};
use super::wire::{Reply, SENT_US, Step};
use serde_json::{Value, json};
use std::time::Duration;

pub const RESPONSE_ID: &str = "resp_fake_1";
pub const MESSAGE_ID: &str = "msg_fake_1";
pub const REASONING_ID: &str = "rs_fake_1";
/// The `call_id`s of the two parallel `exec_command` calls of `tools`.
pub const EXEC_CALLS: [(&str, &str); 2] = [
    ("call_exec_0", "{\"cmd\":\"ls -la\"}"),
    ("call_exec_1", "{\"cmd\":\"pwd\"}"),
];
/// The `call_id` of a single call (`call:NAME`, `first-tool`, `custom-tool`).
pub const SINGLE_CALL_ID: &str = "call_fake_single";
pub const FAILED_MESSAGE: &str = "fake: the response failed";
pub const ERROR_MESSAGE: &str = "fake: the model failed mid-stream";

/// `copilot_usage.total_nano_aiu` of every answer: 0.25 AI credits.
pub const COPILOT_NANO_AIU: u64 = 250_000_000;

/// The `usage` of every completed answer.
pub fn usage(reasoning_tokens: u64) -> Value {
    json!({"input_tokens": 12, "input_tokens_details": {"cached_tokens": 0},
           "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
           "total_tokens": 17})
}

/// One finished output item, as `response.output_item.done` and the final `output` hold it.
#[derive(Clone)]
enum Out {
    Message(String),
    Reasoning,
    Function {
        id: String,
        call_id: String,
        name: String,
        arguments: String,
    },
    Custom {
        id: String,
        call_id: String,
        name: String,
        input: String,
    },
}

impl Out {
    fn done(&self) -> Value {
        match self {
            Out::Message(text) => json!({
                "id": MESSAGE_ID, "type": "message", "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}]}),
            Out::Reasoning => json!({
                "id": REASONING_ID, "type": "reasoning",
                "summary": [{"type": "summary_text", "text": SUMMARY_PARTS.concat()}],
                "encrypted_content": ENCRYPTED}),
            Out::Function {
                id,
                call_id,
                name,
                arguments,
            } => {
                let mut call = json!({"id": id, "type": "function_call", "status": "completed",
                                      "call_id": call_id, "name": name, "arguments": arguments});
                // A tool of a `namespace` (Codex's `web.run`) is called by its own name
                // with the namespace beside it.
                if let Some((namespace, tool)) = name.split_once('.') {
                    call["namespace"] = json!(namespace);
                    call["name"] = json!(tool);
                }
                call
            }
            Out::Custom {
                id,
                call_id,
                name,
                input,
            } => json!({"id": id, "type": "custom_tool_call", "status": "completed",
                        "call_id": call_id, "name": name, "input": input}),
        }
    }

    /// The item as `response.output_item.added` announces it: nothing in it yet.
    fn added(&self) -> Value {
        let mut v = self.done();
        match self {
            Out::Message(_) => {
                v["status"] = json!("in_progress");
                v["content"] = json!([]);
            }
            Out::Reasoning => {
                v["summary"] = json!([]);
                v.as_object_mut().unwrap().remove("encrypted_content");
            }
            Out::Function { .. } => {
                v["status"] = json!("in_progress");
                v["arguments"] = json!("");
            }
            Out::Custom { .. } => {
                v["status"] = json!("in_progress");
                v["input"] = json!("");
            }
        }
        v
    }
}

/// Event framing for one answer: every event has `type` and a rising `sequence_number`,
/// and its SSE event name equals its type.
struct Events {
    model: String,
    seq: u64,
    steps: Vec<Step>,
}

impl Events {
    fn send(&mut self, kind: &str, fields: Value) {
        let mut v = json!({"type": kind, "sequence_number": self.seq});
        if let (Some(v), Some(f)) = (v.as_object_mut(), fields.as_object()) {
            v.extend(f.clone());
        }
        self.seq += 1;
        self.steps
            .push(Step::Send(format!("event: {kind}\ndata: {v}\n\n")));
    }

    fn open(&mut self) {
        let r = response(&self.model, "in_progress", &[], Value::Null);
        self.send("response.created", json!({"response": r}));
        self.send("response.in_progress", json!({"response": r}));
    }

    fn added(&mut self, index: usize, out: &Out) {
        self.send(
            "response.output_item.added",
            json!({"output_index": index, "item": out.added()}),
        );
    }

    fn item_done(&mut self, index: usize, out: &Out) {
        self.send(
            "response.output_item.done",
            json!({"output_index": index, "item": out.done()}),
        );
    }

    /// A message item's opening: added, its part added, and the first deltas.
    fn message_open(&mut self, index: usize, deltas: &[&str]) {
        self.added(index, &Out::Message(String::new()));
        self.send(
            "response.content_part.added",
            json!({"item_id": MESSAGE_ID, "output_index": index, "content_index": 0,
                   "part": {"type": "output_text", "text": "", "annotations": []}}),
        );
        for d in deltas {
            self.text_delta(index, d);
        }
    }

    fn text_delta(&mut self, index: usize, delta: &str) {
        self.send(
            "response.output_text.delta",
            json!({"item_id": MESSAGE_ID, "output_index": index, "content_index": 0,
                   "delta": delta, "logprobs": []}),
        );
    }

    fn message_close(&mut self, index: usize, text: &str) {
        self.send(
            "response.output_text.done",
            json!({"item_id": MESSAGE_ID, "output_index": index, "content_index": 0,
                   "text": text, "logprobs": []}),
        );
        self.send(
            "response.content_part.done",
            json!({"item_id": MESSAGE_ID, "output_index": index, "content_index": 0,
                   "part": {"type": "output_text", "text": text, "annotations": []}}),
        );
        self.item_done(index, &Out::Message(text.to_string()));
    }

    fn message(&mut self, index: usize, parts: &[&str]) {
        self.message_open(index, parts);
        self.message_close(index, &parts.concat());
    }

    fn reasoning(&mut self, index: usize) {
        self.added(index, &Out::Reasoning);
        let at = json!({"item_id": REASONING_ID, "output_index": index, "summary_index": 0});
        let with = |extra: Value| {
            let mut v = at.clone();
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            v
        };
        self.send(
            "response.reasoning_summary_part.added",
            with(json!({"part": {"type": "summary_text", "text": ""}})),
        );
        for d in SUMMARY_PARTS {
            self.send(
                "response.reasoning_summary_text.delta",
                with(json!({"delta": d})),
            );
        }
        let text = SUMMARY_PARTS.concat();
        self.send(
            "response.reasoning_summary_text.done",
            with(json!({"text": text})),
        );
        self.send(
            "response.reasoning_summary_part.done",
            with(json!({"part": {"type": "summary_text", "text": text}})),
        );
        self.item_done(index, &Out::Reasoning);
    }

    /// A call item with its arguments (or freeform input) in `pieces`.
    fn call(&mut self, index: usize, out: &Out, pieces: &[String]) {
        self.added(index, out);
        let (id, kind, key, whole) = match out {
            Out::Function { id, arguments, .. } => (
                id,
                "response.function_call_arguments",
                "arguments",
                arguments,
            ),
            Out::Custom { id, input, .. } => {
                (id, "response.custom_tool_call_input", "input", input)
            }
            _ => unreachable!("not a call"),
        };
        let (id, whole) = (id.clone(), whole.clone());
        for p in pieces {
            self.send(
                &format!("{kind}.delta"),
                json!({"item_id": id, "output_index": index, "delta": p}),
            );
        }
        self.send(
            &format!("{kind}.done"),
            json!({"item_id": id, "output_index": index, key: whole}),
        );
        self.item_done(index, out);
    }

    fn completed(&mut self, outputs: &[Out], reasoning_tokens: u64) {
        let output: Vec<Value> = outputs.iter().map(Out::done).collect();
        let r = response(&self.model, "completed", &output, usage(reasoning_tokens));
        self.send("response.completed", json!({"response": r}));
    }
}

/// The `encrypted_content` of the fake's own compaction items (Copilot's server-side
/// compaction, for models on `/responses`).
pub const FAKE_COMPACTION: &str = "gAAAAB-fake-upstream-compaction==";

/// The input ends in Codex's `{"type":"compaction_trigger"}`.
pub fn ends_with_compaction_trigger(request: &Value) -> bool {
    request["input"]
        .as_array()
        .and_then(|items| items.last())
        .is_some_and(|i| i["type"] == "compaction_trigger")
}

/// Copilot compacting itself: one `compaction` output item, then `response.completed`.
fn compaction_stream(request: &Value) -> Reply {
    let mut e = Events {
        model: request["model"].as_str().unwrap_or("").to_string(),
        seq: 0,
        steps: Vec::new(),
    };
    e.open();
    let item =
        json!({"type": "compaction", "id": "cmp_fake_1", "encrypted_content": FAKE_COMPACTION});
    e.send(
        "response.output_item.added",
        json!({"output_index": 0, "item": item}),
    );
    e.send(
        "response.output_item.done",
        json!({"output_index": 0, "item": item}),
    );
    let r = response(&e.model, "completed", &[item], usage(0));
    e.send("response.completed", json!({"response": r}));
    Reply::Stream(e.steps)
}

/// `POST /responses/compact` as Copilot would answer it: the user messages, then one
/// compaction item.
pub fn compact(request: &Value) -> Reply {
    let mut output: Vec<Value> = request["input"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["role"] == "user")
        .cloned()
        .collect();
    output.push(json!({"type": "compaction", "encrypted_content": FAKE_COMPACTION}));
    Reply::json(
        200,
        &json!({"id": "cmp_fake", "object": "response.compaction", "output": output,
                "usage": usage(0)}),
    )
}

/// A `response` object.
fn response(model: &str, status: &str, output: &[Value], usage: Value) -> Value {
    json!({
        "id": RESPONSE_ID, "object": "response", "created_at": 1_700_000_000,
        "status": status, "model": model, "output": output, "usage": usage,
        "error": null, "incomplete_details": null, "parallel_tool_calls": true,
        "tool_choice": "auto", "tools": [], "metadata": {},
        // Copilot's own billing of the answer (reference/peers-2026-12.md U2).
        "copilot_usage": {"total_nano_aiu": COPILOT_NANO_AIU, "token_details": [
            {"token_type": "input", "token_count": 12, "batch_size": 1000000, "cost_per_batch": 1},
            {"token_type": "output", "token_count": 5, "batch_size": 1000000, "cost_per_batch": 4}]},
    })
}

/// The outputs a scenario answers with when it runs to its end.
fn outputs(scenario: &Scenario, request: &Value) -> Vec<Out> {
    let single = |name: &str, custom: bool| {
        if custom {
            Out::Custom {
                id: "ctc_fake_1".into(),
                call_id: SINGLE_CALL_ID.into(),
                name: name.into(),
                input: PATCH.into(),
            }
        } else {
            Out::Function {
                id: "fc_fake_1".into(),
                call_id: SINGLE_CALL_ID.into(),
                name: name.into(),
                arguments: tool_arguments(name),
            }
        }
    };
    match scenario {
        Scenario::Tools => EXEC_CALLS
            .iter()
            .enumerate()
            .map(|(i, (call_id, args))| Out::Function {
                id: format!("fc_fake_{i}"),
                call_id: call_id.to_string(),
                name: "exec_command".into(),
                arguments: args.to_string(),
            })
            .collect(),
        Scenario::Reasoning => vec![Out::Reasoning, Out::Message(ANSWER.into())],
        Scenario::CustomTool => vec![single("apply_patch", true)],
        Scenario::Call(name) => vec![single(name, declared_custom(request, name))],
        Scenario::ThinkCall(name) => {
            vec![Out::Reasoning, single(name, declared_custom(request, name))]
        }
        Scenario::FirstTool => {
            let tool = request.pointer("/tools/0");
            let name = tool
                .and_then(|t| t.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("get_weather");
            let custom = tool.and_then(|t| t.get("type")) == Some(&json!("custom"));
            vec![single(name, custom)]
        }
        Scenario::Empty => Vec::new(),
        _ => vec![Out::Message(TEXT_PARTS.concat())],
    }
}

/// Whether the request declares `name` as a freeform `custom` tool.
fn declared_custom(request: &Value, name: &str) -> bool {
    request
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|t| t["type"] == "custom" && t["name"] == name)
}

/// `POST /responses`.
pub fn responses(scenario: &Scenario, request: &Value) -> Reply {
    let stream = request.get("stream") == Some(&Value::Bool(true));
    if stream && ends_with_compaction_trigger(request) {
        return compaction_stream(request);
    }
    if let Some(reply) = common(Api::Chat, scenario, stream) {
        return reply;
    }
    let model = request["model"].as_str().unwrap_or("").to_string();
    if !stream {
        return Reply::json(200, &response_json(&model, scenario, request));
    }
    let mut e = Events {
        model,
        seq: 0,
        steps: Vec::new(),
    };
    match scenario {
        Scenario::StallFirst => return Reply::Stream(vec![Step::Stall]),
        Scenario::StallMid | Scenario::Drop | Scenario::Truncated | Scenario::NoDone => {
            e.open();
            e.message_open(0, &["Hello"]);
            match scenario {
                Scenario::StallMid => e.steps.push(Step::Stall),
                Scenario::Drop => e.steps.push(Step::Drop),
                _ => {}
            }
        }
        Scenario::Pause(ms) => {
            e.open();
            e.message_open(0, &["Hello"]);
            e.steps.push(Step::Wait(Duration::from_millis(*ms)));
            e.text_delta(0, " again");
            e.message_close(0, "Hello again");
            e.completed(&[Out::Message("Hello again".into())], 0);
        }
        Scenario::Malformed => {
            e.open();
            e.message_open(0, &["Hello"]);
            e.steps.push(Step::Send(
                "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\n\n"
                    .into(),
            ));
            e.text_delta(0, " lost");
            e.message_close(0, "Hello lost");
            e.completed(&[Out::Message("Hello lost".into())], 0);
        }
        Scenario::ErrorEvent => {
            e.open();
            e.message_open(0, &["Hello"]);
            e.send(
                "error",
                json!({"code": "server_error", "message": ERROR_MESSAGE, "param": null}),
            );
        }
        Scenario::Failed => {
            e.open();
            let mut r = response(&e.model, "failed", &[], Value::Null);
            r["error"] = json!({"code": "server_error", "message": FAILED_MESSAGE});
            e.send("response.failed", json!({"response": r}));
        }
        Scenario::Slow { interval_ms, count } => {
            e.open();
            e.message_open(0, &[]);
            let mut text = String::new();
            for i in 0..*count {
                e.steps
                    .push(Step::Wait(Duration::from_millis(*interval_ms)));
                let piece = format!("{i} ");
                e.send(
                    "response.output_text.delta",
                    json!({"item_id": MESSAGE_ID, "output_index": 0, "content_index": 0,
                           "delta": piece, "fake_seq": i, "fake_sent_us": SENT_US}),
                );
                text.push_str(&piece);
            }
            e.message_close(0, &text);
            e.completed(&[Out::Message(text)], 0);
        }
        Scenario::Many(n) => {
            e.open();
            e.message_open(0, &[]);
            let mut text = String::new();
            for i in 0..*n {
                let piece = format!("{i},");
                e.text_delta(0, &piece);
                text.push_str(&piece);
            }
            e.message_close(0, &text);
            e.completed(&[Out::Message(text)], 0);
        }
        _ => {
            e.open();
            let outs = outputs(scenario, request);
            for (i, out) in outs.iter().enumerate() {
                match out {
                    Out::Message(_) if *scenario == Scenario::Reasoning => {
                        e.message(i, &[ANSWER]);
                    }
                    Out::Message(_) => e.message(i, &TEXT_PARTS),
                    Out::Reasoning => e.reasoning(i),
                    Out::Function { arguments, .. } => {
                        let pieces = if *scenario == Scenario::Tools {
                            split_in(arguments, 2)
                        } else {
                            split_in(arguments, 10)
                        };
                        e.call(i, out, &pieces);
                    }
                    Out::Custom { input, .. } => e.call(i, out, &split_in(input, 4)),
                }
            }
            e.completed(&outs, reasoning_tokens(scenario));
        }
    }
    Reply::Stream(e.steps)
}

/// The non-streaming `response` object: `completed` with usage, or `failed` for `failed`.
pub fn response_json(model: &str, scenario: &Scenario, request: &Value) -> Value {
    if *scenario == Scenario::Failed {
        let mut r = response(model, "failed", &[], Value::Null);
        r["error"] = json!({"code": "server_error", "message": FAILED_MESSAGE});
        return r;
    }
    let output: Vec<Value> = outputs(scenario, request).iter().map(Out::done).collect();
    response(
        model,
        "completed",
        &output,
        usage(reasoning_tokens(scenario)),
    )
}

fn reasoning_tokens(scenario: &Scenario) -> u64 {
    match scenario {
        Scenario::Reasoning | Scenario::ThinkCall(_) => 3,
        _ => 0,
    }
}
