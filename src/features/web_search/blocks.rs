//! Anthropic's web-search blocks and what the model is told: the `server_tool_use` /
//! `web_search_tool_result` pair a search becomes, the `encrypted_content` that carries a
//! result's snippet to the next turn, the result text the model reads, and the way back:
//! a history holding these blocks becomes a function call and its result again.

use super::SearchResult;
use serde_json::{Map, Value, json};

/// The name of the function tool the model is given instead of the server tool.
pub const TOOL_NAME: &str = "web_search";
/// The reference's description of that function (reference/translation.md §6.12).
const TOOL_DESCRIPTION: &str = "Search the web for current information. Use this when you need up-to-date facts, recent events, or information beyond your training data.";
/// Marks an `encrypted_content` this proxy wrote (the rest is base64 of JSON).
const SEALED_PREFIX: &str = "cpapi1.";
/// The reference's words after a failed search.
const FAILED_SUFFIX: &str = "Please answer based on your training data and let the user know that web search is currently unavailable.";

/// The function tool in Anthropic's custom-tool shape (translated to a Chat function on the
/// translated routes).
pub fn function_tool() -> Value {
    json!({
        "name": TOOL_NAME,
        "description": TOOL_DESCRIPTION,
        "input_schema": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "The search query"}},
            "required": ["query"]
        }
    })
}

/// `srvtoolu_` and 24 random alphanumerics, like Anthropic's server tool ids.
pub fn server_tool_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut id = String::from("srvtoolu_01");
    let mut bits = 0u64;
    for i in 0..22 {
        if i % 10 == 0 {
            bits = crate::ids::random_u64();
        }
        id.push(ALPHABET[(bits % 62) as usize] as char);
        bits /= 62;
    }
    id
}

pub fn server_tool_use(id: &str, query: &str) -> Value {
    json!({"type": "server_tool_use", "id": id, "name": TOOL_NAME, "input": {"query": query}})
}

/// The result block of a search that returned results.
pub fn result_block(id: &str, results: &[SearchResult]) -> Value {
    let content: Vec<Value> = results
        .iter()
        .map(|r| {
            json!({
                "type": "web_search_result",
                "url": r.url,
                "title": r.title,
                "encrypted_content": seal(r),
                "page_age": r.page_age,
            })
        })
        .collect();
    json!({"type": "web_search_tool_result", "tool_use_id": id, "content": content})
}

/// The result block of a search that failed (`unavailable`, `max_uses_exceeded`, ...).
pub fn error_block(id: &str, code: &str) -> Value {
    json!({"type": "web_search_tool_result", "tool_use_id": id,
           "content": {"type": "web_search_tool_result_error", "error_code": code}})
}

/// What the model reads as the search's result (reference/translation.md §6.12).
pub fn results_text(query: &str, results: &[SearchResult]) -> String {
    if results.is_empty() {
        return format!("No results found for: \"{query}\"");
    }
    let mut text = format!("Web search results for: \"{query}\"\n\n");
    for (i, r) in results.iter().enumerate() {
        text.push_str(&format!(
            "{}. Title: {}\n   URL: {}\n   Snippet: {}\n",
            i + 1,
            r.title,
            r.url,
            r.snippet
        ));
        if let Some(age) = &r.page_age {
            text.push_str(&format!("   Page age: {age}\n"));
        }
        text.push('\n');
    }
    text.trim_end().to_string()
}

/// What the model reads when the search could not run.
pub fn failure_text(reason: &str) -> String {
    format!("Web search failed: {reason}\n{FAILED_SUFFIX}")
}

/// The model's text for an error code found in a client's history.
fn error_code_text(code: &str) -> String {
    match code {
        "max_uses_exceeded" => {
            "Web search failed: the maximum number of searches for this request was reached.\nAnswer with the results you already have.".into()
        }
        other => failure_text(other),
    }
}

/// A result as an opaque string the proxy can read back: its snippet survives the round
/// trip through the client.
fn seal(r: &SearchResult) -> String {
    let inner = json!({"s": r.snippet}).to_string();
    format!("{SEALED_PREFIX}{}", crate::base64::encode(inner.as_bytes()))
}

/// The snippet inside an `encrypted_content` this proxy wrote; None for anyone else's.
pub fn unseal(encrypted: &str) -> Option<String> {
    let bytes = crate::base64::decode(encrypted.strip_prefix(SEALED_PREFIX)?)?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("s").and_then(Value::as_str).map(str::to_string)
}

/// The model's text for a `web_search_tool_result` block's content: results with their
/// recovered snippets, or the error.
fn result_content_text(query: &str, content: &Value) -> String {
    match content {
        Value::Array(items) => {
            let results: Vec<SearchResult> = items
                .iter()
                .map(|item| SearchResult {
                    url: str_of(item, "url"),
                    title: str_of(item, "title"),
                    snippet: item
                        .get("encrypted_content")
                        .and_then(Value::as_str)
                        .and_then(unseal)
                        .unwrap_or_default(),
                    page_age: item
                        .get("page_age")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                })
                .collect();
            results_text(query, &results)
        }
        other => error_code_text(
            other
                .get("error_code")
                .and_then(Value::as_str)
                .unwrap_or("unavailable"),
        ),
    }
}

fn str_of(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

fn is_search_block(block: &Value) -> bool {
    match block.get("type").and_then(Value::as_str) {
        Some("web_search_tool_result") => true,
        Some("server_tool_use") => block.get("name").and_then(Value::as_str) == Some(TOOL_NAME),
        _ => false,
    }
}

/// Turns the search blocks of earlier assistant turns back into what the model produced
/// and read: with `as_calls`, a `web_search` tool call and its tool result (the function
/// is offered on this request); without, text (no such tool to refer to). Returns how many
/// searches were found.
pub fn restore_history(body: &mut Map<String, Value>, as_calls: bool) -> usize {
    let Some(Value::Array(messages)) = body.get_mut("messages") else {
        return 0;
    };
    let has_blocks = |m: &Value| {
        m.get("role").and_then(Value::as_str) == Some("assistant")
            && m.get("content")
                .and_then(Value::as_array)
                .is_some_and(|c| c.iter().any(is_search_block))
    };
    if !messages.iter().any(has_blocks) {
        return 0;
    }
    let mut found = 0;
    let mut out: Vec<Value> = Vec::with_capacity(messages.len() + 4);
    // Tool results waiting for the next user message.
    let mut carried: Vec<Value> = Vec::new();
    for message in std::mem::take(messages) {
        if !carried.is_empty() && message.get("role").and_then(Value::as_str) == Some("user") {
            out.push(prepend_results(message, std::mem::take(&mut carried)));
            continue;
        }
        if !has_blocks(&message) {
            flush_results(&mut out, &mut carried);
            out.push(message);
            continue;
        }
        flush_results(&mut out, &mut carried);
        let blocks = message["content"].as_array().cloned().unwrap_or_default();
        found += blocks
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("server_tool_use"))
            .count();
        if as_calls {
            split_turn(blocks, &mut out, &mut carried);
        } else {
            let content: Vec<Value> = blocks.iter().map(as_text_block).collect();
            out.push(json!({"role": "assistant", "content": content}));
        }
    }
    flush_results(&mut out, &mut carried);
    *messages = out;
    found
}

/// One assistant turn with search blocks as assistant / user(tool results) / assistant...
/// Results stay pending (`carried`) until text follows them, so a client tool call of the
/// same turn keeps its place before its own result.
fn split_turn(blocks: Vec<Value>, out: &mut Vec<Value>, carried: &mut Vec<Value>) {
    let mut queries: Vec<(String, String)> = Vec::new();
    let mut turn: Vec<Value> = Vec::new();
    for block in blocks {
        match block.get("type").and_then(Value::as_str).unwrap_or("") {
            "server_tool_use" if is_search_block(&block) => {
                let id = str_of(&block, "id");
                let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                let query = input.get("query").and_then(Value::as_str).unwrap_or("");
                queries.push((id.clone(), query.to_string()));
                turn.push(json!({"type": "tool_use", "id": id, "name": TOOL_NAME, "input": input}));
            }
            "web_search_tool_result" => {
                let id = str_of(&block, "tool_use_id");
                let query = queries
                    .iter()
                    .find(|(q_id, _)| *q_id == id)
                    .map_or("", |(_, q)| q.as_str());
                let text = result_content_text(query, block.get("content").unwrap_or(&Value::Null));
                carried.push(json!({"type": "tool_result", "tool_use_id": id, "content": text}));
            }
            "text" | "thinking" | "redacted_thinking" if !carried.is_empty() => {
                if !turn.is_empty() {
                    out.push(json!({"role": "assistant", "content": std::mem::take(&mut turn)}));
                }
                flush_results(out, carried);
                turn.push(strip_search_citations(block));
            }
            _ => turn.push(strip_search_citations(block)),
        }
    }
    if !turn.is_empty() {
        out.push(json!({"role": "assistant", "content": turn}));
    }
}

fn flush_results(out: &mut Vec<Value>, carried: &mut Vec<Value>) {
    if !carried.is_empty() {
        out.push(json!({"role": "user", "content": std::mem::take(carried)}));
    }
}

/// A user message with the pending tool results first, as tool results must be.
fn prepend_results(mut message: Value, mut results: Vec<Value>) -> Value {
    let rest = match message.get_mut("content").map(Value::take) {
        Some(Value::Array(blocks)) => blocks,
        Some(Value::String(s)) if !s.is_empty() => vec![json!({"type": "text", "text": s})],
        _ => Vec::new(),
    };
    results.extend(rest);
    message["content"] = Value::Array(results);
    message
}

/// A search block as plain text, for a request without the search tool.
fn as_text_block(block: &Value) -> Value {
    match block.get("type").and_then(Value::as_str).unwrap_or("") {
        "server_tool_use" if is_search_block(block) => {
            let query = block
                .pointer("/input/query")
                .and_then(Value::as_str)
                .unwrap_or("");
            json!({"type": "text", "text": format!("[Searched the web for: \"{query}\"]")})
        }
        "web_search_tool_result" => {
            let text = result_content_text("", block.get("content").unwrap_or(&Value::Null));
            json!({"type": "text", "text": text})
        }
        _ => strip_search_citations(block.clone()),
    }
}

/// Citations that point into search results are ours to give, not Copilot's to read.
fn strip_search_citations(mut block: Value) -> Value {
    if let Some(obj) = block.as_object_mut() {
        let ours = obj
            .get("citations")
            .and_then(Value::as_array)
            .is_some_and(|c| {
                c.iter().any(|c| {
                    c.get("type").and_then(Value::as_str) == Some("web_search_result_location")
                })
            });
        if ours {
            obj.remove("citations");
        }
    }
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(n: u32) -> SearchResult {
        SearchResult {
            url: format!("https://example.com/{n}"),
            title: format!("Title {n}"),
            snippet: format!("Snippet {n} with ünïcode"),
            page_age: (n == 1).then(|| "2 days ago".to_string()),
        }
    }

    #[test]
    fn sealed_snippets_come_back_and_foreign_ones_do_not() {
        for s in ["", "a", "ab", "abc", "abcd"] {
            assert_eq!(
                crate::base64::decode(&crate::base64::encode(s.as_bytes())).unwrap(),
                s.as_bytes()
            );
        }
        assert_eq!(crate::base64::encode(b"Man"), "TWFu");
        assert_eq!(crate::base64::encode(b"Ma"), "TWE=");
        let block = result_block("srvtoolu_1", &[result(1)]);
        let sealed = block["content"][0]["encrypted_content"].as_str().unwrap();
        assert_eq!(unseal(sealed).unwrap(), "Snippet 1 with ünïcode");
        assert_eq!(unseal("EqQBCkgIARABGAIiQL"), None);
        assert_eq!(block["content"][0]["page_age"], "2 days ago");
    }

    #[test]
    fn result_text_is_the_references() {
        let text = results_text("q", &[result(2), result(3)]);
        assert_eq!(
            text,
            "Web search results for: \"q\"\n\n1. Title: Title 2\n   URL: https://example.com/2\n   Snippet: Snippet 2 with ünïcode\n\n2. Title: Title 3\n   URL: https://example.com/3\n   Snippet: Snippet 3 with ünïcode"
        );
        assert_eq!(results_text("q", &[]), "No results found for: \"q\"");
        assert!(failure_text("HTTP 500").starts_with("Web search failed: HTTP 500\nPlease answer"));
        assert!(server_tool_id().starts_with("srvtoolu_01") && server_tool_id().len() == 33);
    }

    #[test]
    fn history_with_search_blocks_becomes_calls_and_results() {
        let stu = server_tool_use("srvtoolu_a", "rust news");
        let res = result_block("srvtoolu_a", &[result(1)]);
        let mut body = json!({"messages": [
            {"role": "user", "content": "news?"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Let me search."}, stu, res,
                {"type": "text", "text": "Rust shipped.", "citations": [{"type": "web_search_result_location", "url": "u"}]}
            ]},
            {"role": "user", "content": "thanks"}
        ]})
        .as_object()
        .unwrap()
        .clone();
        assert_eq!(restore_history(&mut body, true), 1);
        let m = body["messages"].as_array().unwrap();
        let roles: Vec<&str> = m.iter().map(|m| m["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["user", "assistant", "user", "assistant", "user"]);
        assert_eq!(m[1]["content"][1]["type"], "tool_use");
        assert_eq!(m[1]["content"][1]["input"]["query"], "rust news");
        assert_eq!(m[2]["content"][0]["tool_use_id"], "srvtoolu_a");
        let text = m[2]["content"][0]["content"].as_str().unwrap();
        assert!(
            text.contains("Snippet 1 with ünïcode") && text.contains("rust news"),
            "{text}"
        );
        assert!(m[3]["content"][0].get("citations").is_none());
    }

    #[test]
    fn a_turn_ending_in_results_feeds_them_to_the_next_user_message() {
        let mut body = json!({"messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": [
                server_tool_use("srvtoolu_b", "x"),
                error_block("srvtoolu_b", "unavailable"),
                {"type": "tool_use", "id": "toolu_c", "name": "Read", "input": {}}
            ]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_c", "content": "file"}]}
        ]})
        .as_object()
        .unwrap()
        .clone();
        restore_history(&mut body, true);
        let m = body["messages"].as_array().unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[1]["content"].as_array().unwrap().len(), 2);
        let results = m[2]["content"].as_array().unwrap();
        assert_eq!(results[0]["tool_use_id"], "srvtoolu_b");
        assert!(results[0]["content"].as_str().unwrap().contains("failed"));
        assert_eq!(results[1]["tool_use_id"], "toolu_c");
        // Without the tool on offer the blocks become text.
        let mut plain = json!({"messages": [{"role": "assistant", "content": [
            server_tool_use("srvtoolu_d", "y"), result_block("srvtoolu_d", &[result(4)])]}]})
        .as_object()
        .unwrap()
        .clone();
        restore_history(&mut plain, false);
        let c = &plain["messages"][0]["content"];
        assert_eq!(
            (c[0]["type"].as_str(), c[1]["type"].as_str()),
            (Some("text"), Some("text"))
        );
        assert!(c[1]["text"].as_str().unwrap().contains("Snippet 4"));
    }
}
