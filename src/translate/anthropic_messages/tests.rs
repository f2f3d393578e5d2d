use super::*;
use serde::Deserialize;
use serde_json::json;

fn user(content: Value) -> Vec<Value> {
    let mut out = Vec::new();
    user_messages(&body(&content), &ToolNames::default(), &mut out);
    out.iter()
        .map(|m| serde_json::to_value(m).unwrap())
        .collect()
}

fn body(content: &Value) -> Body<'_, Block<'_>> {
    Body::deserialize(content).unwrap()
}

fn is_image_part(part: &Value) -> bool {
    part["type"] == "image_url"
}

const PNG: &str = "iVBORw0KGgo=";

fn b64_image() -> Value {
    json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}})
}

#[test]
fn user_blocks_by_case() {
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "string",
            json!("hi"),
            json!([{"role": "user", "content": "hi"}]),
        ),
        ("empty array", json!([]), json!([])),
        (
            "text blocks join",
            json!([{"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "b"}]),
            json!([{"role": "user", "content": "a\n\nb"}]),
        ),
        (
            "base64 and url images",
            json!([{"type": "text", "text": "look"}, b64_image(),
                   {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]),
            json!([{"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG}")}},
                {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]),
        ),
        (
            "text document is inlined",
            json!([{"type": "document", "title": "notes", "source": {"type": "text", "media_type": "text/plain", "data": "line 1"}}]),
            json!([{"role": "user", "content": "[Document: notes]\nline 1"}]),
        ),
        (
            "tool result string, then text joins the tool message",
            json!([{"type": "tool_result", "tool_use_id": "t1", "content": "out"},
                   {"type": "text", "text": "<system-reminder>x</system-reminder>"}]),
            json!([{"role": "tool", "tool_call_id": "t1", "content": "out\n\n<system-reminder>x</system-reminder>"}]),
        ),
        (
            "tool result without content, with is_error",
            json!([{"type": "tool_result", "tool_use_id": "t1"},
                   {"type": "tool_result", "tool_use_id": "t2", "content": "boom", "is_error": true}]),
            json!([{"role": "tool", "tool_call_id": "t1", "content": ""},
                   {"role": "tool", "tool_call_id": "t2", "content": "Error: boom"}]),
        ),
        (
            "tool_reference blocks",
            json!([{"type": "tool_result", "tool_use_id": "t1", "content": [
                {"type": "tool_reference", "tool_name": "WebFetch"}, {"type": "text", "text": "loaded"}]}]),
            json!([{"role": "tool", "tool_call_id": "t1", "content": "Tool `WebFetch` is available.\n\nloaded"}]),
        ),
        (
            "server tool result serialized",
            json!([{"type": "web_search_tool_result", "tool_use_id": "s", "content": [{"url": "u"}]}]),
            json!([{"role": "user", "content": "[web_search_tool_result: [{\"url\":\"u\"}]]"}]),
        ),
    ];
    for (name, input, want) in cases {
        assert_eq!(Value::Array(user(input)), want, "{name}");
    }
}

#[test]
fn images_next_to_tool_results_stay_images() {
    // A screenshot returned by a tool, and an image pasted beside the results.
    let out = user(json!([
        {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "shot"}, b64_image()]},
        {"type": "tool_result", "tool_use_id": "t2", "content": "ok"},
        {"type": "text", "text": "and this one"},
        {"type": "image", "source": {"type": "url", "url": "https://x/z.png"}}
    ]));
    assert_eq!(out.len(), 3, "{out:#?}");
    assert_eq!(
        out[0],
        json!({"role": "tool", "tool_call_id": "t1", "content": "shot"})
    );
    assert_eq!(
        out[1],
        json!({"role": "tool", "tool_call_id": "t2", "content": "ok"})
    );
    let parts = out[2]["content"].as_array().unwrap();
    assert_eq!(out[2]["role"], "user");
    assert_eq!(parts.len(), 4);
    assert_eq!(parts[0]["text"], "[Images returned by tool call t1]");
    assert_eq!(
        parts[1]["image_url"]["url"],
        format!("data:image/png;base64,{PNG}")
    );
    assert_eq!(parts[2]["text"], "and this one");
    assert_eq!(parts[3]["image_url"]["url"], "https://x/z.png");
    // Nothing stringified into the tool text (reference §10.6).
    assert!(!out[1]["content"].as_str().unwrap().contains("base64"));
}

#[test]
fn image_only_tool_result_says_where_the_image_is() {
    let out = user(json!([{"type": "tool_result", "tool_use_id": "t", "content": [b64_image()]}]));
    assert!(
        out[0]["content"]
            .as_str()
            .unwrap()
            .contains("follow in the next message")
    );
    assert!(is_image_part(&out[1]["content"][1]));
}

#[test]
fn assistant_blocks_become_text_tool_calls_and_reasoning() {
    let names = ToolNames::from_names(["mcp__a.b__c"]);
    let m = assistant_message(
        &body(&json!([
            {"type": "thinking", "thinking": "let me see", "signature": "sig-1"},
            {"type": "text", "text": "Reading."},
            {"type": "tool_use", "id": "toolu_1", "name": "mcp__a.b__c", "input": {"path": "x"}},
            {"type": "tool_use", "id": "toolu_2", "name": "Bash"}
        ])),
        &names,
    )
    .map(|m| serde_json::to_value(m).unwrap())
    .unwrap();
    assert_eq!(
        m,
        json!({
            "role": "assistant", "content": "Reading.",
            "tool_calls": [
                {"id": "toolu_1", "type": "function", "function": {"name": "mcp__a_b__c", "arguments": "{\"path\":\"x\"}"}},
                {"id": "toolu_2", "type": "function", "function": {"name": "Bash", "arguments": "{}"}}
            ],
            "reasoning_text": "let me see", "reasoning_opaque": "sig-1"
        })
    );
}

#[test]
fn assistant_reasoning_edge_cases() {
    let names = ToolNames::default();
    let a =
        |v: Value| assistant_message(&body(&v), &names).map(|m| serde_json::to_value(m).unwrap());
    // Redacted thinking travels as the opaque token; text never absorbs thinking.
    assert_eq!(
        a(json!([{"type": "redacted_thinking", "data": "enc"}, {"type": "text", "text": "hi"}])),
        Some(json!({"role": "assistant", "content": "hi", "reasoning_opaque": "enc"}))
    );
    // Thinking alone keeps its reasoning with empty content.
    assert_eq!(
        a(json!([{"type": "thinking", "thinking": "t", "signature": ""}])),
        Some(json!({"role": "assistant", "content": "", "reasoning_text": "t"}))
    );
    // Tool calls without text: content null.
    assert_eq!(
        a(json!([{"type": "tool_use", "id": "x", "name": "f", "input": {}}])).unwrap()["content"],
        Value::Null
    );
    assert_eq!(a(json!([])), None);
    assert_eq!(a(json!("")), None);
    assert_eq!(
        a(json!("plain")),
        Some(json!({"role": "assistant", "content": "plain"}))
    );
}

#[test]
fn system_text_joins_text_blocks_only() {
    let blocks = json!([
        {"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}},
        {"type": "image", "source": {}},
        {"type": "text", "text": ""},
        {"type": "text", "text": "b"}
    ]);
    assert_eq!(system_text(&body(&blocks)), "a\n\nb");
    assert_eq!(system_text(&body(&json!("s"))), "s");
    assert_eq!(system_text(&body(&json!([]))), "");
    assert_eq!(system_text(&Body::Absent), "");
}

#[test]
fn compression_keeps_head_middle_and_tail() {
    let exact = "a".repeat(COMPRESS_OVER);
    assert_eq!(compress_tool_text(&exact), exact);

    // The reference's verified case: 27,014 characters, middle sample from 12,007.
    let mut text = String::new();
    for i in 0..27_014 {
        text.push(char::from(b'a' + (i % 26) as u8));
    }
    let out = compress_tool_text(&text);
    assert!(out.starts_with("[Tool result condensed by proxy: kept the first 5,000, middle 3,000, and last 5,000 characters out of 27,014 total; omitted 14,014 characters across 1 lines"), "{}", &out[..300]);
    let section = |name: &str| {
        let begin = format!("=== BEGIN TOOL RESULT {name} ===\n");
        let start = out.find(&begin).unwrap() + begin.len();
        let end = out
            .find(&format!("\n=== END TOOL RESULT {name} ==="))
            .unwrap();
        out[start..end].to_string()
    };
    assert!(section("HEAD") == text[..5_000]);
    assert!(section("MIDDLE SAMPLE") == text[12_007..15_007]);
    assert!(section("TAIL") == text[22_014..]);
    assert!(out.chars().count() < 14_000);

    // Multi-byte text is cut on character boundaries.
    let wide = "é\n".repeat(15_000);
    let out = compress_tool_text(&wide);
    assert!(out.contains("out of 30,000 total"), "{}", &out[..200]);
    assert!(out.contains("across 15,001 lines"));
}

#[test]
fn huge_tool_results_are_condensed_even_beside_images() {
    let big = "x".repeat(25_000);
    let out = user(
        json!([{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": big}, b64_image()]}]),
    );
    assert!(
        out[0]["content"]
            .as_str()
            .unwrap()
            .starts_with("[Tool result condensed")
    );
    // User text is never condensed.
    let out = user(json!([{"type": "text", "text": big}]));
    assert_eq!(out[0]["content"].as_str().unwrap().len(), 25_000);
}

#[test]
fn thousands_separators() {
    for (n, s) in [
        (0, "0"),
        (999, "999"),
        (1_000, "1,000"),
        (27_014, "27,014"),
        (1_234_567, "1,234,567"),
    ] {
        assert_eq!(thousands(n), s);
    }
}
