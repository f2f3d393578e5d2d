//! Chat Completions -> OpenAI Responses and back, for the models Copilot serves only on
//! `/responses` (GPT-5, Codex) when a client speaks Chat Completions (reference §5.2-5.4,
//! with §10.14-10.16 fixed): the request, the non-streaming answer and the stream.
//!
//! Every system message survives (the leading ones as `instructions`, later ones as
//! developer messages); assistant history is `output_text`; `tool_choice` takes the
//! Responses shape. Reasoning round-trips: a `reasoning` item's `encrypted_content` (and
//! its id, needed to replay it with `store: false`) travels as Copilot's
//! `reasoning_opaque`, `encrypted@id`, which base64 never confuses. Back from upstream,
//! only real calls become tool calls, `incomplete` maps to `length`, cached and reasoning
//! tokens are kept, and `response.failed` / `error` are reported instead of ignored.

mod chat_out;
mod request;
mod response;
mod stream;

pub use chat_out::ChatChunk;
pub use request::{request_from_bytes, request_from_value};
pub use response::{completion_from_responses, responses_to_chat};
pub use stream::ChatFromResponsesStream;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::{responses_request, responses_response, responses_stream};
    use serde_json::{Value, json};

    /// The Responses request for a Chat request, as upstream reads it.
    fn chat_to_responses(req: &Value, model: &str) -> Result<Value, String> {
        let mut req = req.clone();
        req["model"] = model.into();
        let bytes = request_from_bytes(&serde_json::to_vec(&req).unwrap())?;
        Ok(serde_json::from_slice(&bytes).unwrap())
    }

    /// A Chat client's tool loop against a responses-only model: the request, the answer
    /// and the next turn all go through Responses and back without losing a call, an
    /// output or the reasoning.
    #[test]
    fn chat_responses_chat_round_trip_of_a_tool_loop() {
        let turn1 = json!({"messages": [{"role": "user", "content": "list files"}],
                           "tools": [{"type": "function", "function": {"name": "exec", "parameters": {"type": "object"}}}]});
        let up1 = chat_to_responses(&turn1, "gpt-5.5").unwrap();
        assert_eq!(up1["input"][0]["content"], "list files");
        // Upstream answers with reasoning and two parallel calls.
        let answer = json!({"id": "resp_u", "status": "completed", "output": [
            {"type": "reasoning", "id": "rs_9", "summary": [], "encrypted_content": "ENC"},
            {"type": "function_call", "call_id": "c1", "name": "exec", "arguments": "{\"cmd\":\"ls\"}"},
            {"type": "function_call", "call_id": "c2", "name": "exec", "arguments": "{\"cmd\":\"pwd\"}"},
        ], "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}});
        let chat = responses_to_chat(&answer, "gpt-5.5");
        let assistant = chat["choices"][0]["message"].clone();
        let mut messages = turn1["messages"].as_array().unwrap().clone();
        messages.push(assistant);
        messages.push(json!({"role": "tool", "tool_call_id": "c1", "content": "a.txt"}));
        messages.push(json!({"role": "tool", "tool_call_id": "c2", "content": "/tmp"}));
        let turn2 = json!({"messages": messages, "tools": turn1["tools"]});
        let up2 = chat_to_responses(&turn2, "gpt-5.5").unwrap();
        let kinds: Vec<&str> = up2["input"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "message",
                "reasoning",
                "function_call",
                "function_call",
                "function_call_output",
                "function_call_output"
            ]
        );
        assert_eq!(
            up2["input"][1],
            json!({"type": "reasoning", "id": "rs_9", "summary": [], "encrypted_content": "ENC"})
        );
        assert_eq!(up2["input"][2]["arguments"], "{\"cmd\":\"ls\"}");
        assert_eq!(
            up2["input"][5],
            json!({"type": "function_call_output", "call_id": "c2", "output": "/tmp"})
        );
    }

    /// Codex against a chat-only model: Responses -> Chat -> Responses, with parallel
    /// calls and an apply_patch freeform call, both directions.
    #[test]
    fn responses_chat_responses_round_trip_keeps_parallel_calls() {
        let patch = "*** Begin Patch\n*** Add File: out.txt\n+hello\n*** End Patch";
        let req = json!({"model": "claude-sonnet-4.5", "stream": true, "input": [
                {"role": "user", "content": "do both"}],
            "tools": [{"type": "function", "name": "exec_command", "parameters": {"type": "object"}},
                      {"type": "custom", "name": "apply_patch"}]});
        let up = responses_request::to_chat(&req, "claude-sonnet-4.5", &[]).unwrap();
        // The chat model streams two parallel calls, one of them freeform.
        let mut s = responses_stream::ResponsesStream::new("resp_1", &req, up.custom_tools.clone());
        let chunk = |delta: Value, finish: Value| json!({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        let mut events = Vec::new();
        for c in [
            chunk(
                json!({"reasoning_text": "both", "reasoning_opaque": "SIG"}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "t1", "function": {"name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 1, "id": "t2", "function": {"name": "apply_patch",
                   "arguments": json!({"input": patch}).to_string()}}]}),
                json!("tool_calls"),
            ),
            json!({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}}),
        ] {
            events.extend(s.on_chunk(&c));
        }
        events.extend(s.finish());
        let completed: Value = serde_json::from_str(&events.last().unwrap().data).unwrap();
        assert_eq!(completed["type"], "response.completed");
        assert_eq!(completed["response"]["usage"]["total_tokens"], 12);
        let output: Vec<Value> = s.output().iter().map(|i| json!(i)).collect();
        assert_eq!(
            completed["response"]["output"],
            Value::Array(output.clone())
        );
        let kinds: Vec<&str> = output.iter().map(|i| i["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["reasoning", "function_call", "custom_tool_call"]);
        assert_eq!(output[2]["input"], patch);

        // Codex replays the output with both results; the next Chat request has one
        // assistant turn with both calls, its reasoning, and both results.
        let mut input = req["input"].as_array().unwrap().clone();
        input.extend(output);
        input.push(json!({"type": "function_call_output", "call_id": "t1", "output": "a.txt"}));
        input.push(
            json!({"type": "custom_tool_call_output", "call_id": "t2", "output": "Success."}),
        );
        let next = json!({"input": input, "tools": req["tools"]});
        let up2 = responses_request::to_chat(&next, "claude-sonnet-4.5", &[]).unwrap();
        let body = Value::Object(up2.body_object().unwrap());
        let m = body["messages"].as_array().unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(m[1]["reasoning_opaque"], "SIG");
        assert_eq!(
            m[1]["tool_calls"][1]["function"]["arguments"],
            json!({"input": patch}).to_string()
        );
        assert_eq!(
            m[2],
            json!({"role": "tool", "tool_call_id": "t1", "content": "a.txt"})
        );
        assert_eq!(
            m[3],
            json!({"role": "tool", "tool_call_id": "t2", "content": "Success."})
        );

        // Non-streaming, the same answer as one Chat completion.
        let chat = json!({"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": null, "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "exec_command", "arguments": "{}"}},
                {"id": "t2", "type": "function", "function": {"name": "apply_patch", "arguments": json!({"input": patch}).to_string()}}]}}]});
        let r = json!(responses_response::from_chat(
            &crate::protocol::chat_chunk::Chunk::from_value(&chat),
            &req,
            &up.custom_tools,
            "resp_2"
        ));
        assert_eq!(r["output"][1]["type"], "custom_tool_call");
        assert_eq!(r["output"][1]["input"], patch);
    }
}
