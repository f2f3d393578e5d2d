use super::*;
use serde_json::{Value, json};

const MISSING_RESULT: &str = crate::translate::anthropic_request::MISSING_RESULT;

/// The repair over messages written as JSON, as Copilot would receive them.
fn normalize(messages: Vec<Value>) -> Vec<Value> {
    let typed = messages
        .into_iter()
        .map(|m| serde_json::from_value(m).unwrap())
        .collect();
    super::normalize(typed, MISSING_RESULT)
        .iter()
        .map(|m| serde_json::to_value(m).unwrap())
        .collect()
}

fn call(id: &str) -> Value {
    json!({"id": id, "type": "function", "function": {"name": "f", "arguments": "{}"}})
}

fn asst(ids: &[&str]) -> Value {
    let calls: Vec<Value> = ids.iter().map(|id| call(id)).collect();
    json!({"role": "assistant", "content": null, "tool_calls": calls})
}

fn tool(id: &str, content: &str) -> Value {
    json!({"role": "tool", "tool_call_id": id, "content": content})
}

fn user(content: &str) -> Value {
    json!({"role": "user", "content": content})
}

fn roles(ms: &[Value]) -> Vec<String> {
    ms.iter()
        .map(|m| match m["role"].as_str().unwrap() {
            "tool" => format!("tool:{}", m["tool_call_id"].as_str().unwrap()),
            r => r.to_string(),
        })
        .collect()
}

#[test]
fn invariants_by_case() {
    let cases: Vec<(&str, Vec<Value>, Vec<&str>)> = vec![
        (
            "well formed",
            vec![
                user("q"),
                asst(&["a", "b"]),
                tool("b", "2"),
                tool("a", "1"),
                user("more"),
            ],
            vec!["user", "assistant", "tool:b", "tool:a", "user"],
        ),
        (
            "orphan result after plain text turn becomes user text and merges",
            vec![
                user("q"),
                json!({"role": "assistant", "content": "ok"}),
                tool("x", "build output"),
                user("Continue please."),
            ],
            vec!["user", "assistant", "user"],
        ),
        (
            "empty orphan is dropped",
            vec![user("q"), tool("x", "  "), user("r")],
            vec!["user"],
        ),
        (
            "missing result mid-conversation gets a placeholder",
            vec![user("q"), asst(&["a", "b"]), tool("a", "1"), user("next")],
            vec!["user", "assistant", "tool:a", "tool:b", "user"],
        ),
        (
            "result for another turn's call and a duplicate become user text",
            vec![
                user("q"),
                asst(&["a"]),
                tool("a", "1"),
                tool("a", "again"),
                tool("z", "zz"),
            ],
            vec!["user", "assistant", "tool:a", "user"],
        ),
        (
            "trailing pending call is dropped, not answered",
            vec![user("q"), asst(&["a"])],
            vec!["user"],
        ),
        (
            "assistant turn split in two is merged before pairing",
            vec![
                user("q"),
                json!({"role": "assistant", "content": "let me look"}),
                asst(&["a"]),
                tool("a", "1"),
            ],
            vec!["user", "assistant", "tool:a"],
        ),
        (
            "prefill gets a user turn after it",
            vec![user("q"), json!({"role": "assistant", "content": "{"})],
            vec!["user", "assistant", "user"],
        ),
    ];
    for (name, input, want) in cases {
        let out = normalize(input);
        assert_eq!(roles(&out), want, "{name}: {out:#?}");
    }
}

#[test]
fn repaired_contents() {
    let out = normalize(vec![
        user("q"),
        json!({"role": "assistant", "content": "ok"}),
        tool("x", "build output"),
        user("Continue please."),
    ]);
    assert_eq!(out[2]["content"], "build output\n\nContinue please.");

    let out = normalize(vec![
        user("q"),
        asst(&["a", "b"]),
        tool("a", "1"),
        user("n"),
    ]);
    assert_eq!(out[3]["content"], MISSING_RESULT);

    // A trailing turn keeps its text when its pending call is dropped.
    let mut turn = asst(&["a"]);
    turn["content"] = json!("I will run it");
    let out = normalize(vec![user("q"), turn]);
    assert_eq!(
        out[1],
        json!({"role": "assistant", "content": "I will run it"})
    );
    assert_eq!(out[2], user(CONTINUE));
}

#[test]
fn merging_keeps_images_and_reasoning() {
    let image = json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}});
    let out = normalize(vec![
        user("first"),
        json!({"role": "user", "content": [{"type": "text", "text": "second"}, image.clone()]}),
        json!({"role": "assistant", "content": "a", "reasoning_text": "r1", "reasoning_opaque": "o1"}),
        json!({"role": "assistant", "content": null, "reasoning_text": "r2", "reasoning_opaque": "o2",
               "tool_calls": [call("c")]}),
        tool("c", "done"),
    ]);
    assert_eq!(
        out[0]["content"],
        json!([{"type": "text", "text": "first"}, {"type": "text", "text": "second"}, image])
    );
    assert_eq!(out[1]["content"], "a");
    assert_eq!(out[1]["reasoning_text"], "r1\n\nr2");
    assert_eq!(out[1]["reasoning_opaque"], "o1");
    assert_eq!(out[1]["tool_calls"].as_array().unwrap().len(), 1);
    assert_eq!(out.len(), 3);
}

#[test]
fn pairing_alone_keeps_roles_and_answers_a_trailing_call() {
    let typed = |ms: Vec<Value>| -> Vec<Message> {
        ms.into_iter()
            .map(|m| serde_json::from_value(m).unwrap())
            .collect()
    };
    let out: Vec<Value> = super::pair_results(
        typed(vec![
            user("context"),
            user("q"),
            asst(&["a"]),
            tool("z", "stray"),
            json!({"role": "assistant", "content": "one"}),
            json!({"role": "assistant", "content": "two"}),
            asst(&["b"]),
        ]),
        "none came",
    )
    .iter()
    .map(|m| serde_json::to_value(m).unwrap())
    .collect();
    assert_eq!(
        roles(&out),
        [
            "user",
            "user",
            "assistant",
            "tool:a",
            "user",
            "assistant",
            "assistant",
            "assistant",
            "tool:b"
        ]
    );
    assert_eq!(out[3]["content"], "none came");
    assert_eq!(out[4], user("stray"));
    assert_eq!(out[8]["content"], "none came");
}
