//! Unit tests of `translate::responses_response`: Chat answers in, Responses objects out.

use super::*;
use serde_json::json;

/// The response as the client reads it; its bytes are those of the tree.
fn from_chat(chat: &Value, req: &Value, custom: &[String], id: &str) -> Value {
    let bytes = serde_json::to_vec(chat).unwrap();
    let mut tree = None;
    let chat = crate::protocol::chat_chunk::read(&bytes, &mut tree);
    let typed = serde_json::to_string(&super::from_chat(&chat, req, custom, id)).unwrap();
    let tree: Value = serde_json::from_str(&typed).unwrap();
    assert_eq!(typed, tree.to_string());
    tree
}

fn req() -> Value {
    json!({"model": "claude-sonnet-4.5", "instructions": "Be brief.", "tool_choice": "auto",
           "tools": [{"type": "function", "name": "exec_command"}, {"type": "custom", "name": "apply_patch"}],
           "max_output_tokens": 2000, "metadata": {"k": "v"}, "store": false})
}

fn custom() -> Vec<String> {
    vec!["apply_patch".to_string()]
}

fn answer(message: Value, finish: &str) -> Value {
    json!({"id": "chatcmpl-1", "created": 1700000000, "model": "claude-sonnet-4.5",
           "choices": [{"index": 0, "message": message, "finish_reason": finish}],
           "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120,
                     "prompt_tokens_details": {"cached_tokens": 40},
                     "completion_tokens_details": {"reasoning_tokens": 5}}})
}

#[test]
fn text_answer_with_reasoning_and_usage() {
    let chat = answer(
        json!({"role": "assistant", "content": "Hello!", "reasoning_text": "Greet.", "reasoning_opaque": "sig"}),
        "stop",
    );
    let r = from_chat(&chat, &req(), &custom(), "resp_1");
    assert_eq!(r["id"], "resp_1");
    assert_eq!(r["object"], "response");
    assert_eq!(r["status"], "completed");
    assert_eq!(r["incomplete_details"], Value::Null);
    assert_eq!(r["model"], "claude-sonnet-4.5");
    assert_eq!(r["created_at"], 1700000000);
    assert_eq!(r["output_text"], "Hello!");
    let out = r["output"].as_array().unwrap();
    assert_eq!(out[0]["type"], "reasoning");
    assert_eq!(out[0]["encrypted_content"], "sig");
    assert_eq!(
        out[0]["summary"],
        json!([{"type": "summary_text", "text": "Greet."}])
    );
    assert!(out[0]["id"].as_str().unwrap().starts_with("rs_"));
    assert_eq!(out[1]["type"], "message");
    assert_eq!(out[1]["role"], "assistant");
    assert_eq!(
        out[1]["content"],
        json!([{"type": "output_text", "text": "Hello!", "annotations": []}])
    );
    assert_eq!(
        r["usage"],
        json!({"input_tokens": 100, "input_tokens_details": {"cached_tokens": 40},
               "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 5},
               "total_tokens": 120})
    );
    for (key, want) in [
        ("instructions", json!("Be brief.")),
        ("tool_choice", json!("auto")),
        ("max_output_tokens", json!(2000)),
        ("metadata", json!({"k": "v"})),
        ("parallel_tool_calls", json!(true)),
        ("temperature", Value::Null),
        ("store", json!(false)),
    ] {
        assert_eq!(r[key], want, "{key}");
    }
    assert_eq!(r["tools"].as_array().unwrap().len(), 2);
}

#[test]
fn calls_split_across_choices_are_merged() {
    let chat = json!({"choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Running."}, "finish_reason": "tool_calls"},
        {"index": 1, "message": {"role": "assistant", "content": null, "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"}},
            {"id": "toolu_2", "type": "function", "function": {"name": "apply_patch",
             "arguments": "{\"input\":\"*** Begin Patch\\n*** End Patch\"}"}},
        ]}, "finish_reason": "tool_calls"},
    ]});
    let r = from_chat(&chat, &req(), &custom(), "resp_2");
    let out = r["output"].as_array().unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(out[0]["type"], "message");
    let fc = &out[1];
    assert_eq!(fc["type"], "function_call");
    assert!(fc["id"].as_str().unwrap().starts_with("fc_"));
    assert_eq!(
        (&fc["call_id"], &fc["name"], &fc["arguments"], &fc["status"]),
        (
            &json!("toolu_1"),
            &json!("exec_command"),
            &json!("{\"cmd\":\"ls\"}"),
            &json!("completed")
        )
    );
    let ctc = &out[2];
    assert_eq!(ctc["type"], "custom_tool_call");
    assert!(ctc["id"].as_str().unwrap().starts_with("ctc_"));
    assert_eq!(ctc["call_id"], "toolu_2");
    assert_eq!(ctc["input"], "*** Begin Patch\n*** End Patch");
    assert!(ctc.get("arguments").is_none());
    assert_eq!(r["status"], "completed");
    assert_eq!(r["usage"], Value::Null);
}

#[test]
fn truncated_arguments_are_repaired_and_reported() {
    let chat = answer(
        json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "exec_command", "arguments": "{\"cmd\":[\"ls\""}},
        ]}),
        "length",
    );
    let r = from_chat(&chat, &req(), &custom(), "resp_3");
    assert_eq!(r["status"], "incomplete");
    assert_eq!(
        r["incomplete_details"],
        json!({"reason": "max_output_tokens"})
    );
    let call = &r["output"][0];
    assert_eq!(call["arguments"], "{\"cmd\":[\"ls\"]}");
    assert_eq!(call["status"], "incomplete");

    // Broken JSON without a length finish is still reported, never passed on.
    let chat = answer(
        json!({"role": "assistant", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "exec_command", "arguments": "nonsense"}},
        ]}),
        "tool_calls",
    );
    let r = from_chat(&chat, &req(), &custom(), "resp_4");
    assert_eq!(r["status"], "incomplete");
    assert_eq!(r["output"][0]["arguments"], "{}");
}

#[test]
fn outcomes() {
    let cases: [(&[&str], bool, &str, Option<&str>); 6] = [
        (&["stop"], false, "completed", None),
        (&["tool_calls"], false, "completed", None),
        (&[], false, "completed", None),
        (
            &["stop", "length"],
            false,
            "incomplete",
            Some("max_output_tokens"),
        ),
        (
            &["content_filter"],
            false,
            "incomplete",
            Some("content_filter"),
        ),
        (
            &["tool_calls"],
            true,
            "incomplete",
            Some("max_output_tokens"),
        ),
    ];
    for (finishes, truncated, status, reason) in cases {
        let o = Outcome::from_finishes(finishes.iter().copied(), truncated);
        assert_eq!((o.status, o.reason), (status, reason), "{finishes:?}");
    }
}

#[test]
fn settling_arguments() {
    let cases = [
        ("", "{}", true),
        ("  ", "{}", true),
        ("{\"a\":1}", "{\"a\":1}", true),
        ("{\"a\":\"x", "{\"a\":\"x\"}", false),
        ("[1,", "{}", false),
    ];
    for (raw, want, complete) in cases {
        assert_eq!(settle_arguments(raw), (want.to_string(), complete), "{raw}");
    }
}

#[test]
fn freeform_inputs() {
    assert_eq!(freeform_input(r#"{"input":"p"}"#).as_deref(), Some("p"));
    assert_eq!(freeform_input(r#"{"patch":"p"}"#).as_deref(), Some("p"));
    assert_eq!(freeform_input(r#""p""#).as_deref(), Some("p"));
    assert_eq!(freeform_input(r#"{"a":"1","b":"2"}"#), None);
    assert_eq!(freeform_input("{"), None);
}
