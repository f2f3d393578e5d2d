//! Web-search fakes: Tavily (`POST /search`) and Brave (`GET /res/v1/web/search`) on the
//! fake's port (the binary reaches them through `TAVILY_BASE_URL` / `BRAVE_BASE_URL`),
//! Copilot's own search (a non-streaming `/responses` call with the hosted `web_search`
//! tool, answered with `url_citation` annotations), and the `search-agent:N` scenario: a
//! model that calls `web_search` until the request holds N of its calls, then answers.

use super::scenarios::Scenario;
use super::wire::Reply;
use serde_json::{Value, json};
use std::time::Duration;

/// The keys the fakes accept.
pub const TAVILY_KEY: &str = "tvly-fake-key";
pub const BRAVE_KEY: &str = "brave-fake-key";
/// What Copilot's fake search says, and the sentence each of its two citations cites.
pub const COPILOT_SEARCH_TEXT: &str = "Rust 1.95 was released this week. ([rust-lang.org](https://blog.rust-lang.org/2026/rust-1.95)) It adds new features. ([example.com](https://example.com/rust))";

/// How the Tavily and Brave fakes answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchFake {
    /// Results: as many as asked for, at most seven.
    #[default]
    Results,
    /// No results at all.
    Nothing,
    /// This HTTP status with a JSON error.
    Status(u16),
    /// Silence for this many milliseconds, then results.
    Slow(u64),
}

/// The n-th result of a fake search for `query`.
pub fn fake_result(query: &str, n: usize) -> (String, String, String) {
    (
        format!("Result {n} for {query}"),
        format!("https://example.com/{n}?q={}", query.replace(' ', "+")),
        format!("Snippet {n} about {query}."),
    )
}

fn behave(how: SearchFake) -> Option<Reply> {
    match how {
        SearchFake::Status(status) => Some(Reply::json(
            status,
            &json!({"detail": {"error": "fake search failure"}}),
        )),
        SearchFake::Slow(ms) => {
            std::thread::sleep(Duration::from_millis(ms));
            None
        }
        _ => None,
    }
}

fn count(how: SearchFake, asked: usize) -> usize {
    if how == SearchFake::Nothing {
        0
    } else {
        asked.min(7)
    }
}

/// `POST /search`: Tavily's API.
pub fn tavily(how: SearchFake, authorization: Option<&str>, body: &Value) -> Reply {
    if authorization != Some(format!("Bearer {TAVILY_KEY}").as_str()) {
        return Reply::json(
            401,
            &json!({"detail": {"error": "Unauthorized: missing or invalid API key."}}),
        );
    }
    if let Some(reply) = behave(how) {
        return reply;
    }
    let query = body["query"].as_str().unwrap_or("");
    let asked = body["max_results"].as_u64().unwrap_or(5) as usize;
    let results: Vec<Value> = (1..=count(how, asked))
        .map(|n| {
            let (title, url, content) = fake_result(query, n);
            json!({"title": title, "url": url, "content": content, "score": 0.9,
                   "published_date": "2026-12-01"})
        })
        .collect();
    Reply::json(
        200,
        &json!({"query": query, "results": results, "response_time": 0.1}),
    )
}

/// `GET /res/v1/web/search?q=…&count=N`: Brave's API.
pub fn brave(how: SearchFake, token: Option<&str>, query_string: &str) -> Reply {
    if token != Some(BRAVE_KEY) {
        return Reply::json(
            401,
            &json!({"type": "ErrorResponse", "error": {"code": "SUBSCRIPTION_TOKEN_INVALID"}}),
        );
    }
    if let Some(reply) = behave(how) {
        return reply;
    }
    let param = |name: &str| {
        query_string
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .map(percent_decode)
            .unwrap_or_default()
    };
    let query = param("q");
    let asked = param("count").parse().unwrap_or(20);
    let results: Vec<Value> = (1..=count(how, asked))
        .map(|n| {
            let (title, url, description) = fake_result(&query, n);
            json!({"title": title, "url": url, "description": description, "page_age": "2026-12-01T00:00:00"})
        })
        .collect();
    Reply::json(
        200,
        &json!({"type": "search", "web": {"type": "search", "results": results}}),
    )
}

pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Copilot's own search: a non-streaming `/responses` call whose only tool is the hosted
/// `web_search` and whose input is the query gets a `web_search_call` item and a message
/// with two citations.
pub fn copilot_search(body: &Value) -> Option<Reply> {
    let hosted = body["tools"].as_array().is_some_and(|t| {
        t.len() == 1 && (t[0]["type"] == "web_search" || t[0]["type"] == "web_search_preview")
    });
    if !hosted || body["stream"] == true || !body["input"].is_string() {
        return None;
    }
    let text = COPILOT_SEARCH_TEXT;
    let at = |needle: &str| text[..text.find(needle).unwrap_or(0)].chars().count();
    let (s1, e1) = (at("([rust-lang"), at(" It adds"));
    let (s2, e2) = (at("([example"), text.chars().count());
    let query = match &body["input"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Some(Reply::json(
        200,
        &json!({
            "id": "resp_fake_search", "object": "response", "status": "completed",
            "model": body["model"],
            "output": [
                {"type": "web_search_call", "id": "ws_fake_1", "status": "completed",
                 "action": {"type": "search", "query": query}},
                {"type": "message", "id": "msg_fake_search", "role": "assistant", "status": "completed",
                 "content": [{"type": "output_text", "text": text, "annotations": [
                    {"type": "url_citation", "url": "https://blog.rust-lang.org/2026/rust-1.95",
                     "title": "Announcing Rust 1.95", "start_index": s1, "end_index": e1},
                    {"type": "url_citation", "url": "https://example.com/rust",
                     "title": "Rust news", "start_index": s2, "end_index": e2}
                 ]}]}
            ],
            "usage": {"input_tokens": 10, "output_tokens": 20, "total_tokens": 30}
        }),
    ))
}

/// The reference's preflight classifier (`--web-search-custom-tools`): "yes" when the
/// user's message asks for the latest or current news, else "no".
pub fn classifier(body: &Value) -> Option<Reply> {
    let system = body
        .pointer("/messages/0/content")
        .and_then(Value::as_str)?;
    if !system.starts_with("You are a classifier.") {
        return None;
    }
    let question = body
        .pointer("/messages/1/content")
        .and_then(Value::as_str)
        .unwrap_or("");
    let message = question.split("<message>").nth(1).unwrap_or("");
    let yes = message.contains("latest") || message.contains("current");
    Some(Reply::json(
        200,
        &json!({"id": "chatcmpl-classifier", "object": "chat.completion", "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": if yes { "Yes" } else { "no" }},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 30, "completion_tokens": 1, "total_tokens": 31}}),
    ))
}

/// `scenario:search-agent:N` anywhere in the request: `web_search` is called while the
/// request holds fewer than N calls of it (any API's shape), then `Text`. Claude Code's
/// own WebSearch request ("Perform a web search for the query: ...") counts as N = 1.
pub fn search_agent(raw: &[u8]) -> Option<Scenario> {
    // Most requests carry neither phrase: look at the raw bytes before parsing anything.
    let text = std::str::from_utf8(raw).ok()?;
    let wanted: usize = match text.find("scenario:search-agent:") {
        Some(at) => text[at + "scenario:search-agent:".len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok()?,
        None if text.contains("Perform a web search for the query") => 1,
        None => return None,
    };
    let body: Value = serde_json::from_slice(raw).ok()?;
    if search_calls(&body) < wanted {
        Some(Scenario::Call("web_search".into()))
    } else {
        Some(Scenario::Text)
    }
}

/// Calls of `web_search` already in the request: Anthropic `tool_use` blocks, Chat
/// `tool_calls`, Responses `function_call` items.
pub fn search_calls(body: &Value) -> usize {
    let mut n = 0;
    for m in body["messages"].as_array().into_iter().flatten() {
        for b in m["content"].as_array().into_iter().flatten() {
            n += usize::from(b["type"] == "tool_use" && b["name"] == "web_search");
        }
        for c in m["tool_calls"].as_array().into_iter().flatten() {
            n += usize::from(c["function"]["name"] == "web_search");
        }
    }
    for item in body["input"].as_array().into_iter().flatten() {
        n += usize::from(item["type"] == "function_call" && item["name"] == "web_search");
    }
    n
}
