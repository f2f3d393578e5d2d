//! Web search served by the proxy (issue #12): Claude Code's server `web_search` tool on
//! every route a model takes, with each provider, streamed and not; the exact provider
//! requests, the search loop's upstream passes, provider failures, later turns
//! that send the blocks back, `--web-search off`, count_tokens, domain filters;
//! `web_search_loop.rs` has the loop's own behaviour (several searches, `max_uses`,
//! thinking, empty answers), `web_search_setup.rs` start-up, `debug` and
//! `--web-search-custom-tools`.

use crate::support::search::{BRAVE_KEY, SearchFake, TAVILY_KEY};
use crate::support::*;
use crate::{anthropic_blocks, assert_anthropic_stream, named_events, post_json};
use serde_json::{Value, json};

/// A model of each route: native Messages, translated to Chat, translated to Responses.
pub(crate) const NATIVE: &str = "claude-sonnet-4.5";
pub(crate) const CHAT: &str = "gpt-4.1";
pub(crate) const RESPONSES: &str = "gpt-5.2-codex";
pub(crate) const FAKE_TEXT: &str = "Hello from the fake.";

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Which {
    Tavily,
    Brave,
    Copilot,
}

pub(crate) fn start(fake: &Fake, which: Which, args: &[&str]) -> Proxy {
    let mut all: Vec<&str> = args.to_vec();
    let env: Vec<(&str, &str)> = match which {
        Which::Tavily => vec![
            ("TAVILY_API_KEY", TAVILY_KEY),
            ("TAVILY_BASE_URL", &fake.url),
        ],
        Which::Brave => vec![("BRAVE_API_KEY", BRAVE_KEY), ("BRAVE_BASE_URL", &fake.url)],
        Which::Copilot => {
            all.extend(["--web-search", "copilot"]);
            vec![]
        }
    };
    Proxy::start(fake, &all, &env)
}

/// Claude Code's request with the server tool of `version`.
pub(crate) fn search_request(model: &str, text: &str, version: &str, stream: bool) -> Value {
    json!({"model": model, "max_tokens": 1024, "stream": stream,
           "messages": [{"role": "user", "content": text}],
           "tools": [{"type": version, "name": "web_search", "max_uses": 5}]})
}

fn completion_path(model: &str) -> &'static str {
    match model {
        NATIVE => "/v1/messages",
        CHAT => "/chat/completions",
        _ => "/responses",
    }
}

/// Copilot's own search call (the hosted tool), as opposed to a model pass.
fn is_copilot_search(r: &Recorded) -> bool {
    r.path == "/responses" && r.json()["tools"] == json!([{"type": "web_search"}])
}

/// The model passes of the requests after the first `skip`.
pub(crate) fn model_passes(fake: &Fake, model: &str, skip: usize) -> Vec<Recorded> {
    fake.requests()
        .into_iter()
        .skip(skip)
        .filter(|r| r.path == completion_path(model) && !is_copilot_search(r))
        .collect()
}

/// The answer's blocks and its `usage`, streamed or not. A stream is checked against the
/// protocol first.
pub(crate) fn answer(resp: &Resp, stream: bool) -> (Vec<Value>, Value, String) {
    assert_eq!(resp.status, 200, "{}", resp.text());
    if !stream {
        let v = resp.json();
        let stop = v["stop_reason"].as_str().unwrap_or("").to_string();
        return (
            v["content"].as_array().unwrap().clone(),
            v["usage"].clone(),
            stop,
        );
    }
    let events = assert_anthropic_stream(&named_events(&resp.text()));
    let delta = events
        .iter()
        .find(|(n, _)| n == "message_delta")
        .map(|(_, d)| d.clone())
        .unwrap();
    let stop = delta["delta"]["stop_reason"]
        .as_str()
        .unwrap_or("")
        .to_string();
    (anthropic_blocks(&events), delta["usage"].clone(), stop)
}

pub(crate) fn types(blocks: &[Value]) -> Vec<&str> {
    blocks
        .iter()
        .map(|b| b["type"].as_str().unwrap_or("?"))
        .collect()
}

/// Checks one search's pair of blocks and returns the result list.
fn assert_search_pair(use_block: &Value, result: &Value, query: &str) -> Vec<Value> {
    let id = use_block["id"].as_str().unwrap();
    assert!(id.starts_with("srvtoolu_"), "{use_block}");
    assert_eq!(use_block["name"], "web_search");
    assert_eq!(use_block["input"], json!({"query": query}));
    assert_eq!(result["tool_use_id"], id);
    result["content"].as_array().cloned().unwrap_or_default()
}

#[test]
fn each_route_and_provider_serves_the_search_with_real_blocks() {
    let fake = Fake::start();
    for which in [Which::Tavily, Which::Brave, Which::Copilot] {
        let proxy = start(&fake, which, &[]);
        let mut version_turn = 0;
        for model in [NATIVE, CHAT, RESPONSES] {
            for stream in [false, true] {
                version_turn += 1;
                let version = if version_turn % 2 == 0 {
                    "web_search_20260209"
                } else {
                    "web_search_20250305"
                };
                let case = format!("{which:?} {model} stream={stream} {version}");
                let skip = fake.requests().len();
                let body = search_request(
                    model,
                    "What is new in Rust? scenario:search-agent:1",
                    version,
                    stream,
                );
                let resp = post_json(&proxy, "/v1/messages?beta=true", &[], &body);
                let (blocks, usage, stop) = answer(&resp, stream);
                assert_eq!(
                    types(&blocks),
                    ["server_tool_use", "web_search_tool_result", "text"],
                    "{case}: {blocks:?}"
                );
                let results = assert_search_pair(&blocks[0], &blocks[1], "fake query");
                assert_eq!(blocks[2]["text"], FAKE_TEXT, "{case}");
                assert_eq!(
                    usage["server_tool_use"]["web_search_requests"], 1,
                    "{case}: {usage}"
                );
                assert_eq!(stop, "end_turn", "{case}");
                let expected = if which == Which::Copilot { 2 } else { 5 };
                assert_eq!(results.len(), expected, "{case}: {results:?}");
                for r in &results {
                    assert_eq!(r["type"], "web_search_result", "{case}");
                    assert!(
                        r["url"].as_str().is_some_and(|u| u.starts_with("https://")),
                        "{r}"
                    );
                    assert!(r["title"].as_str().is_some_and(|t| !t.is_empty()), "{r}");
                    assert!(
                        r["encrypted_content"]
                            .as_str()
                            .is_some_and(|e| !e.is_empty()),
                        "{r}"
                    );
                    assert!(r.get("page_age").is_some(), "{r}");
                }
                // The provider got the query, the key and the result count.
                let new: Vec<Recorded> = fake.requests().into_iter().skip(skip).collect();
                let snippet = match which {
                    Which::Tavily => {
                        let calls: Vec<&Recorded> =
                            new.iter().filter(|r| r.path == "/search").collect();
                        assert_eq!(calls.len(), 1, "{case}");
                        let call = calls[0];
                        assert_eq!(call.method, "POST");
                        assert_eq!(
                            call.json(),
                            json!({"query": "fake query", "max_results": 5}),
                            "{case}"
                        );
                        assert_eq!(
                            call.header("authorization"),
                            Some(format!("Bearer {TAVILY_KEY}").as_str())
                        );
                        assert_eq!(call.header("content-type"), Some("application/json"));
                        assert_eq!(call.header("accept"), Some("application/json"));
                        assert_eq!(results[0]["page_age"], "2026-12-01");
                        "Snippet 1 about fake query."
                    }
                    Which::Brave => {
                        let calls: Vec<&Recorded> = new
                            .iter()
                            .filter(|r| r.path == "/res/v1/web/search")
                            .collect();
                        assert_eq!(calls.len(), 1, "{case}");
                        let call = calls[0];
                        assert_eq!(call.method, "GET");
                        assert_eq!(call.query, "q=fake%20query&count=5", "{case}");
                        assert_eq!(call.header("x-subscription-token"), Some(BRAVE_KEY));
                        assert_eq!(call.header("accept"), Some("application/json"));
                        "Snippet 1 about fake query."
                    }
                    Which::Copilot => {
                        let calls: Vec<&Recorded> =
                            new.iter().filter(|r| is_copilot_search(r)).collect();
                        assert_eq!(calls.len(), 1, "{case}");
                        let call = calls[0].json();
                        assert_eq!(
                            call["model"], RESPONSES,
                            "the only /responses model: {call}"
                        );
                        assert_eq!(call["input"], "fake query");
                        assert_eq!(call["stream"], false);
                        assert_eq!(calls[0].header("x-initiator"), Some("agent"));
                        assert_eq!(
                            results[0]["url"],
                            "https://blog.rust-lang.org/2026/rust-1.95"
                        );
                        assert_eq!(results[0]["title"], "Announcing Rust 1.95");
                        "Rust 1.95 was released this week."
                    }
                };
                // Two model passes: the second carries the results and is the agent's.
                let passes = model_passes(&fake, model, skip);
                assert_eq!(passes.len(), 2, "{case}");
                let first = String::from_utf8_lossy(&passes[0].body).to_string();
                assert!(
                    first.contains("\"web_search\"") && !first.contains("web_search_20"),
                    "{case}: {first}"
                );
                assert_eq!(passes[0].header("x-initiator"), Some("user"), "{case}");
                assert_eq!(passes[1].header("x-initiator"), Some("agent"), "{case}");
                let second = String::from_utf8_lossy(&passes[1].body).to_string();
                assert!(second.contains(snippet), "{case}: {second}");
                assert!(
                    second.contains("Web search results for: \\\"fake query\\\""),
                    "{case}: {second}"
                );
                assert_eq!(
                    passes[1].json()["stream"].as_bool().unwrap_or(false),
                    stream,
                    "{case}"
                );
            }
        }
        let log = proxy.output().join("\n");
        assert!(log.contains("web search for"), "{log}");
        assert!(
            log.contains("1 search(es) (1 with results), 2 upstream call(s)"),
            "{log}"
        );
    }
}

#[test]
fn provider_failure_and_timeout_become_the_error_block() {
    let fake = Fake::start();
    let proxy = start(&fake, Which::Tavily, &["--web-search-timeout", "0.3"]);
    for (how, reason) in [
        (SearchFake::Status(500), "HTTP 500"),
        (SearchFake::Slow(1500), "request timed out"),
    ] {
        fake.set_search(how);
        for (model, stream) in [(NATIVE, true), (CHAT, false), (RESPONSES, true)] {
            let skip = fake.requests().len();
            let body = search_request(
                model,
                "scenario:search-agent:1",
                "web_search_20250305",
                stream,
            );
            let (blocks, usage, stop) =
                answer(&post_json(&proxy, "/v1/messages", &[], &body), stream);
            assert_eq!(
                types(&blocks),
                ["server_tool_use", "web_search_tool_result", "text"],
                "{how:?}"
            );
            assert_eq!(
                blocks[1]["content"],
                json!({"type": "web_search_tool_result_error", "error_code": "unavailable"})
            );
            assert_eq!(usage["server_tool_use"]["web_search_requests"], 0);
            assert_eq!(stop, "end_turn");
            let passes = model_passes(&fake, model, skip);
            let second = String::from_utf8_lossy(&passes[1].body).to_string();
            assert!(
                second.contains(&format!("Web search failed: {reason}")),
                "{second}"
            );
            assert!(
                second.contains("web search is currently unavailable"),
                "{second}"
            );
        }
    }
    // Brave's failures too, and a provider that finds nothing.
    let proxy = start(&fake, Which::Brave, &[]);
    fake.set_search(SearchFake::Status(429));
    let body = search_request(
        CHAT,
        "scenario:search-agent:1",
        "web_search_20250305",
        false,
    );
    let (blocks, _, _) = answer(&post_json(&proxy, "/v1/messages", &[], &body), false);
    assert_eq!(blocks[1]["content"]["error_code"], "too_many_requests");
    fake.set_search(SearchFake::Nothing);
    let skip = fake.requests().len();
    let (blocks, _, _) = answer(&post_json(&proxy, "/v1/messages", &[], &body), false);
    assert_eq!(blocks[1]["content"], json!([]));
    let second = String::from_utf8_lossy(&model_passes(&fake, CHAT, skip)[1].body).to_string();
    assert!(
        second.contains("No results found for: \\\"fake query\\\""),
        "{second}"
    );
}

#[test]
fn web_search_off_removes_the_tool_as_before() {
    let fake = Fake::start();
    let proxy = Proxy::start(
        &fake,
        &["--web-search", "off"],
        &[("TAVILY_API_KEY", TAVILY_KEY)],
    );
    for model in [NATIVE, CHAT] {
        let skip = fake.requests().len();
        let body = search_request(model, "scenario:text", "web_search_20250305", false);
        let (blocks, _, _) = answer(&post_json(&proxy, "/v1/messages", &[], &body), false);
        assert_eq!(types(&blocks), ["text"]);
        let passes = model_passes(&fake, model, skip);
        assert_eq!(passes.len(), 1);
        assert!(!String::from_utf8_lossy(&passes[0].body).contains("web_search"));
    }
    assert!(fake.requests_to("/search").is_empty());
    let log = proxy.output().join("\n");
    assert!(log.contains("web search off (--web-search off)"), "{log}");
    assert!(
        log.contains("the server web_search tool is removed"),
        "{log}"
    );
}

#[test]
fn a_second_turn_with_the_search_blocks_is_accepted_on_every_route() {
    let fake = Fake::start();
    let proxy = start(&fake, Which::Tavily, &[]);
    for model in [NATIVE, CHAT, RESPONSES] {
        let body = search_request(
            model,
            "news? scenario:search-agent:1",
            "web_search_20250305",
            false,
        );
        let (blocks, _, _) = answer(&post_json(&proxy, "/v1/messages", &[], &body), false);
        let id = blocks[0]["id"].as_str().unwrap().to_string();
        for with_tool in [true, false] {
            let mut second = json!({"model": model, "max_tokens": 1024, "messages": [
                {"role": "user", "content": "news? scenario:text"},
                {"role": "assistant", "content": blocks},
                {"role": "user", "content": "Thanks. scenario:text"}
            ]});
            if with_tool {
                second["tools"] = json!([{"type": "web_search_20250305", "name": "web_search"}]);
            }
            let skip = fake.requests().len();
            let resp = post_json(&proxy, "/v1/messages", &[], &second);
            assert_eq!(resp.status, 200, "{model}: {}", resp.text());
            assert_eq!(resp.json()["content"][0]["text"], FAKE_TEXT);
            let passes = model_passes(&fake, model, skip);
            assert_eq!(passes.len(), 1, "{model}");
            let sent = String::from_utf8_lossy(&passes[0].body).to_string();
            assert!(
                sent.contains("Snippet 1 about fake query."),
                "{model}: {sent}"
            );
            assert!(
                !sent.contains("server_tool_use") && !sent.contains("cpapi1."),
                "{model}: {sent}"
            );
            // With the tool on offer the search is a call and its result again.
            assert_eq!(sent.contains(&id), with_tool, "{model}: {sent}");
        }
    }
}

#[test]
fn count_tokens_accepts_the_server_tool() {
    let fake = Fake::start();
    let proxy = start(&fake, Which::Tavily, &[]);
    for version in ["web_search_20250305", "web_search_20260318"] {
        let body = search_request(NATIVE, "What is new in Rust?", version, false);
        let resp = post_json(&proxy, "/v1/messages/count_tokens", &[], &body);
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert!(resp.json()["input_tokens"].as_u64().is_some_and(|n| n > 0));
    }
}

#[test]
fn a_stream_starts_at_once_and_pings_while_the_search_runs() {
    let fake = Fake::start();
    let proxy = start(&fake, Which::Brave, &["--keepalive", "0.2"]);
    fake.set_search(SearchFake::Slow(800));
    let body = search_request(
        NATIVE,
        "scenario:search-agent:1",
        "web_search_20250305",
        true,
    );
    let mut client =
        StreamClient::post(&proxy.url, "/v1/messages", &[], body.to_string().as_bytes());
    assert_eq!(client.status, 200);
    let mut chunks: Vec<(String, std::time::SystemTime)> = Vec::new();
    while let Some((bytes, at)) = client.next_chunk() {
        chunks.push((String::from_utf8_lossy(&bytes).into_owned(), at));
    }
    let when = |needle: &str| {
        chunks
            .iter()
            .position(|(c, _)| c.contains(needle))
            .unwrap_or_else(|| panic!("{needle} never came: {chunks:?}"))
    };
    let (start, search, text) = (
        when("message_start"),
        when("server_tool_use"),
        when("text_delta"),
    );
    assert!(start < search && search < text);
    let waited = chunks[search].1.duration_since(chunks[start].1).unwrap();
    assert!(
        waited.as_millis() >= 600,
        "message_start came {waited:?} before the search ended"
    );
    assert!(
        chunks[start..search]
            .iter()
            .any(|(c, _)| c.contains("event: ping")),
        "pings while the search runs: {chunks:?}"
    );
}

#[test]
fn domain_filters_reach_the_provider_and_the_results() {
    let fake = Fake::start();
    for which in [Which::Tavily, Which::Brave] {
        let proxy = start(&fake, which, &[]);
        let skip = fake.requests().len();
        let mut body = search_request(
            CHAT,
            "scenario:search-agent:1",
            "web_search_20250305",
            false,
        );
        body["tools"][0]["allowed_domains"] = json!(["example.com", "rust-lang.org"]);
        body["tools"][0]["blocked_domains"] = json!(["spam.example.com"]);
        let (blocks, _, _) = answer(&post_json(&proxy, "/v1/messages", &[], &body), false);
        assert_eq!(
            blocks[1]["content"].as_array().unwrap().len(),
            5,
            "example.com results kept"
        );
        let new: Vec<Recorded> = fake.requests().into_iter().skip(skip).collect();
        match which {
            Which::Tavily => {
                let call = new.iter().find(|r| r.path == "/search").unwrap().json();
                assert_eq!(
                    call["include_domains"],
                    json!(["example.com", "rust-lang.org"])
                );
                assert_eq!(call["exclude_domains"], json!(["spam.example.com"]));
                assert_eq!(call["max_results"], 5);
            }
            _ => {
                let call = new.iter().find(|r| r.path == "/res/v1/web/search").unwrap();
                assert_eq!(
                    call.query,
                    "q=fake%20query%20%28site%3Aexample.com%20OR%20site%3Arust-lang.org%29%20-site%3Aspam.example.com&count=5"
                );
            }
        }
        // A provider that ignores the filters cannot leak a blocked site.
        body["tools"][0]["blocked_domains"] = json!(["example.com"]);
        let (blocks, _, _) = answer(&post_json(&proxy, "/v1/messages", &[], &body), false);
        assert_eq!(blocks[1]["content"], json!([]));
    }
}
