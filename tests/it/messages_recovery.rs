//! Recovery on the translated `/v1/messages` path (issue 4, reference/translation.md §6):
//! upstream faults end the stream with an Anthropic `error` event, empty answers are
//! retried, a 413 strips images, context-window errors make Claude Code compact, tiny PNGs
//! are refused up front; and `count_tokens`, answered locally.

use crate::messages_translated::{CHAT_ONLY, claude_code_request, claude_code_tools, first_turn};
use crate::support::scenarios::{CONTEXT_MESSAGE, SIGNATURE, TEXT_PARTS, base64_encode};
use crate::support::*;
use crate::{
    FAST, anthropic_blocks, assert_anthropic_error, assert_anthropic_stream, named_events,
    post_json, post_message, post_messages_at_once,
};
use serde_json::{Value, json};

/// A real 1x1 PNG.
const TINY_PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

/// An image block with the head of a `w` x `h` PNG (what the tiny-PNG guard reads).
fn png_block(w: u32, h: u32) -> Value {
    let mut bytes = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13];
    bytes.extend(b"IHDR");
    bytes.extend(w.to_be_bytes());
    bytes.extend(h.to_be_bytes());
    bytes.extend([8, 6, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]);
    bytes.extend([0u8; 32]);
    json!({"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                       "data": base64_encode(&bytes)}})
}

#[test]
fn every_fault_ends_with_an_error_event_after_closing_the_block() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &FAST, &[]);
    let markers = [
        "drop",
        "stall-mid",
        "malformed",
        "error-event",
        "truncated",
        "stall-first",
    ];
    let results = post_messages_at_once(&proxy, CHAT_ONLY, &markers);
    for (marker, resp) in &results {
        assert_eq!(resp.status, 200, "{marker}: {}", resp.text());
        let all = named_events(&resp.text());
        let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
        let (last, data) = all.last().unwrap();
        assert_eq!(last, "error", "{marker}: {names:?}");
        assert_eq!(data["type"], "error");
        assert!(data["error"]["type"].is_string(), "{marker}: {data}");
        let message = data["error"]["message"].as_str().unwrap_or("");
        assert!(!message.is_empty(), "{marker}: {data}");
        assert_eq!(names.iter().filter(|n| **n == "error").count(), 1);
        assert!(!names.contains(&"message_stop"), "{marker}: {names:?}");
        assert!(!names.contains(&"message_delta"), "{marker}: {names:?}");
        let pings = names.iter().filter(|n| **n == "ping").count();
        let real: Vec<&str> = names.iter().copied().filter(|n| *n != "ping").collect();
        // Pings may precede `message_start`, which waits for content (so that an empty
        // answer can be retried unseen); the SDKs skip pings.
        assert_eq!(real[0], "message_start", "{marker}: {names:?}");
        if *marker == "stall-first" {
            assert_eq!(real, ["message_start", "error"], "{marker}");
            assert!(pings >= 2, "{marker}: pings during silence: {names:?}");
            continue;
        }
        assert_eq!(
            real,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "error"
            ],
            "{marker}"
        );
        let stop = all.iter().rev().find(|(n, _)| n == "content_block_stop");
        assert_eq!(stop.unwrap().1["index"], 0);
        if *marker == "stall-mid" {
            assert!(pings >= 2, "{marker}: pings during silence: {names:?}");
        }
        if *marker == "error-event" {
            assert!(
                message.contains("fake: the model failed mid-stream"),
                "{message}"
            );
        }
        assert!(!resp.text().contains(" lost"), "{marker}");
    }
}

#[test]
fn empty_answers_are_retried_twice_then_explained() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    for stream in [true, false] {
        let before = fake.requests_to("/chat/completions").len();
        let resp = post_message(&proxy, CHAT_ONLY, "scenario:empty", stream);
        assert_eq!(resp.status, 200, "{}", resp.text());
        let ups = fake.requests_to("/chat/completions");
        assert_eq!(
            ups.len() - before,
            3,
            "stream={stream}: first try and two retries"
        );
        let initiators: Vec<_> = ups[before..]
            .iter()
            .map(|r| r.header("x-initiator").unwrap_or("").to_string())
            .collect();
        assert_eq!(initiators, ["user", "agent", "agent"], "stream={stream}");
        let content = if stream {
            anthropic_blocks(&assert_anthropic_stream(&named_events(&resp.text())))
        } else {
            resp.json()["content"].as_array().unwrap().clone()
        };
        assert_eq!(content.len(), 1, "{content:?}");
        assert_eq!(content[0]["type"], "text");
        let text = content[0]["text"].as_str().unwrap();
        assert!(text.contains("empty response"), "{text}");
    }
    // Empty once, then an answer: the client sees only the answer.
    for stream in [true, false] {
        fake.push_scenario(Scenario::Empty);
        let before = fake.requests_to("/chat/completions").len();
        let resp = post_message(&proxy, CHAT_ONLY, "no marker", stream);
        assert_eq!(fake.requests_to("/chat/completions").len() - before, 2);
        let content = if stream {
            let events = assert_anthropic_stream(&named_events(&resp.text()));
            let starts = events.iter().filter(|(n, _)| n == "message_start").count();
            assert_eq!(starts, 1, "the empty attempt stays invisible");
            anthropic_blocks(&events)
        } else {
            resp.json()["content"].as_array().unwrap().clone()
        };
        assert_eq!(
            content,
            vec![json!({"type": "text", "text": TEXT_PARTS.concat()})]
        );
    }
}

/// A user turn with two images, the marker after them.
fn two_image_request(marker: &str, stream: bool) -> Value {
    json!({"model": CHAT_ONLY, "max_tokens": 1024, "stream": stream, "messages": [
        {"role": "user", "content": [png_block(8, 8), png_block(16, 16),
                                      {"type": "text", "text": format!("Compare them. scenario:{marker}")}]}
    ]})
}

fn image_parts(rq: &Recorded) -> usize {
    rq.json()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .filter(|p| p["type"] == "image_url")
        .count()
}

#[test]
fn a_413_strips_older_images_then_all_of_them() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    for stream in [false, true] {
        let before = fake.requests_to("/chat/completions").len();
        let resp = post_json(
            &proxy,
            "/v1/messages",
            &[],
            &two_image_request("images-413", stream),
        );
        assert_eq!(resp.status, 200, "{}", resp.text());
        let ups = &fake.requests_to("/chat/completions")[before..];
        let images: Vec<usize> = ups.iter().map(image_parts).collect();
        assert_eq!(images, [2, 1, 0], "stream={stream}");
        assert_eq!(
            ups[0].header("copilot-vision-request"),
            Some("true"),
            "images present"
        );
        let text = ups[2].json()["messages"][0]["content"].to_string();
        assert!(text.contains("Compare them."), "{text}");
        if stream {
            assert_anthropic_stream(&named_events(&resp.text()));
        } else {
            assert_eq!(resp.json()["content"][0]["text"], TEXT_PARTS.concat());
        }
    }
    // Never small enough: Claude Code's compaction trigger.
    for stream in [false, true] {
        let before = fake.requests_to("/chat/completions").len();
        let resp = post_json(
            &proxy,
            "/v1/messages",
            &[],
            &two_image_request("status:413", stream),
        );
        assert_anthropic_error(&resp, 400, Some("invalid_request_error"));
        let message = resp.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(message.starts_with("prompt is too long"), "{message}");
        let images: Vec<usize> = fake.requests_to("/chat/completions")[before..]
            .iter()
            .map(image_parts)
            .collect();
        assert_eq!(images, [2, 1, 0], "stream={stream}");
    }
}

/// DESIGN.md §4: `copilot-vision-request: true` only when images are present.
#[test]
fn vision_header_follows_the_images_through_the_413_cascade() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let resp = post_json(
        &proxy,
        "/v1/messages",
        &[],
        &two_image_request("images-413", false),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let ups = fake.requests_to("/chat/completions");
    let vision: Vec<Option<&str>> = ups
        .iter()
        .map(|r| r.header("copilot-vision-request"))
        .collect();
    assert_eq!(vision, [Some("true"), Some("true"), None]);
}

#[test]
fn context_window_errors_say_prompt_is_too_long_with_the_numbers() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    for stream in [true, false] {
        let resp = post_message(&proxy, CHAT_ONLY, "scenario:context-window", stream);
        assert_anthropic_error(&resp, 400, Some("invalid_request_error"));
        assert_eq!(
            resp.json()["error"]["message"],
            "prompt is too long: 140000 tokens > 128000 maximum",
            "from {CONTEXT_MESSAGE:?}"
        );
    }
    // Deterministic: not retried.
    assert_eq!(fake.requests_to("/chat/completions").len(), 2);
}

#[test]
fn tiny_png_is_refused_before_any_upstream_call() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let tiny = json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": TINY_PNG}});
    for content in [
        json!([tiny, {"type": "text", "text": "what is this?"}]),
        json!([{"type": "tool_result", "tool_use_id": "t1", "content": [tiny]}]),
    ] {
        let body = json!({"model": CHAT_ONLY, "max_tokens": 100, "stream": true,
                          "messages": [{"role": "user", "content": content}]});
        let resp = post_json(&proxy, "/v1/messages", &[], &body);
        assert_anthropic_error(&resp, 400, Some("invalid_request_error"));
        let message = resp.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(message.contains("1x1"), "{message}");
    }
    assert!(fake.requests_to("/chat/completions").is_empty());
}

/// Every `text`, `thinking` and string tool-result `content`, and each tool input as JSON.
fn collect_texts(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| collect_texts(i, out)),
        Value::Object(o) => {
            for key in ["text", "thinking"] {
                if let Some(Value::String(s)) = o.get(key) {
                    out.push(s.clone());
                }
            }
            match o.get("content") {
                Some(Value::String(s)) => out.push(s.clone()),
                Some(c) => collect_texts(c, out),
                None => {}
            }
            if let Some(input) = o.get("input") {
                out.push(input.to_string());
            }
        }
        _ => {}
    }
}

#[test]
fn count_tokens_grows_with_content_and_counts_tools_and_images() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let count = |body: &Value| {
        let resp = post_json(&proxy, "/v1/messages/count_tokens?beta=true", &[], body);
        assert_eq!(resp.status, 200, "{}", resp.text());
        resp.json()["input_tokens"].as_u64().unwrap()
    };
    for model in [CHAT_ONLY, "claude-sonnet-4-5-20250929"] {
        let plain = json!({"model": model, "messages": [{"role": "user", "content": "List the files here."}]});
        let base = count(&plain);
        let mut longer = plain.clone();
        longer["messages"][0]["content"] = json!("List the files here. ".repeat(50));
        assert!(count(&longer) > base + 100, "{model}");
        let mut tools = plain.clone();
        tools["tools"] = claude_code_tools();
        assert!(count(&tools) > base + 100, "{model}: tools count");
        let mut image = plain.clone();
        image["messages"][0]["content"] =
            json!([png_block(800, 600), {"type": "text", "text": "List the files here."}]);
        let with_image = count(&image);
        assert!(with_image > base + 500, "{model}: an image is {with_image}");
        assert!(
            with_image < base + 10_000,
            "{model}: not the base64 tokenized"
        );

        // A Claude Code-sized request never counts below its plain token count.
        let mut messages = first_turn(&"Refactor the parser module please. ".repeat(300));
        messages.push(json!({"role": "assistant", "content": [
            {"type": "thinking", "thinking": "I will read it first.", "signature": SIGNATURE},
            {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"file_path": "/work/src/parser.rs"}}]}));
        messages.push(json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "fn parse() {}\n".repeat(400)}]}));
        let mut big = claude_code_request(model, json!(messages));
        big["system"][2]["text"] = json!("Be careful with edits. ".repeat(1000));
        let n = count(&big);
        let mut texts = Vec::new();
        collect_texts(&big["system"], &mut texts);
        collect_texts(&big["messages"], &mut texts);
        let tools: Vec<String> = big["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(Value::to_string)
            .collect();
        let o200k = tiktoken_rs::o200k_base().unwrap();
        let plain: usize = texts
            .iter()
            .chain(&tools)
            .map(|t| o200k.encode_ordinary(t).len())
            .sum();
        let plain = plain as u64;
        assert!(n >= plain, "{model}: {n} below the plain count {plain}");
        assert!(n <= plain * 3 / 2 + 500, "{model}: {n} vs {plain}");
    }
    assert!(fake.requests_to("/chat/completions").is_empty());
}
