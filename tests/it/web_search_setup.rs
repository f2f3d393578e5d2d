//! Web search set-up (issue #12): the start-up line and `debug` name the provider and never
//! a key, a provider without its key is a usage error, and `--web-search-custom-tools`
//! serves a client's own search tool only after the classifier says yes.

use crate::post_json;
use crate::support::search::{BRAVE_KEY, TAVILY_KEY};
use crate::support::*;
use crate::web_search::{CHAT, RESPONSES, Which, answer, start, types};
use serde_json::{Value, json};

#[test]
fn start_up_and_debug_name_the_provider_never_the_key() {
    let fake = Fake::start();
    let proxy = start(&fake, Which::Tavily, &[]);
    let log = proxy.output().join("\n");
    assert!(log.contains("web search on: provider tavily"), "{log}");
    assert!(log.contains("extra upstream"), "{log}");
    assert!(!log.contains(TAVILY_KEY), "{log}");
    let proxy = start(&fake, Which::Copilot, &["--web-search-model", RESPONSES]);
    assert!(proxy.output().join("\n").contains(&format!(
        "provider copilot (Copilot's own search on {RESPONSES})"
    )));
    let home = TempDir::new();
    let (code, out, _) = run_cli(
        &["debug", "--json"],
        &[("BRAVE_API_KEY", BRAVE_KEY)],
        home.path(),
    );
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["web_search"]["provider"], "brave");
    assert_eq!(v["web_search"]["brave_api_key_set"], true);
    assert!(!out.contains(BRAVE_KEY));
    let (code, _, err) = run_cli(&["start", "--web-search", "tavily"], &[], home.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("TAVILY_API_KEY"), "{err}");
}

#[test]
fn custom_search_tools_are_served_only_with_the_flag_and_a_yes() {
    let fake = Fake::start();
    let google = json!({"name": "google_search", "description": "Search Google",
                        "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}});
    let request = |text: &str| {
        json!({"model": CHAT, "max_tokens": 1024, "messages": [{"role": "user", "content": text}],
               "tools": [google.clone()]})
    };
    let proxy = start(&fake, Which::Tavily, &["--web-search-custom-tools"]);
    // The classifier says yes: the proxy serves the search.
    let skip = fake.requests().len();
    let resp = post_json(
        &proxy,
        "/v1/messages",
        &[],
        &request("What is the latest Rust? scenario:search-agent:1"),
    );
    let (blocks, usage, _) = answer(&resp, false);
    assert_eq!(
        types(&blocks),
        ["server_tool_use", "web_search_tool_result", "text"]
    );
    assert_eq!(usage["server_tool_use"]["web_search_requests"], 1);
    let chats: Vec<Recorded> = fake
        .requests()
        .into_iter()
        .skip(skip)
        .filter(|r| r.path == "/chat/completions")
        .collect();
    assert_eq!(chats.len(), 3, "preflight and two passes");
    let preflight = chats[0].json();
    assert_eq!(chats[0].header("x-initiator"), Some("agent"));
    assert_eq!(preflight["max_tokens"], 5);
    assert_eq!(
        preflight["messages"][0]["content"],
        "You are a classifier. Answer only \"yes\" or \"no\". No explanation."
    );
    assert_eq!(
        preflight["messages"][1]["content"],
        "Does this message require searching the web for current or real-time information?\n<message>What is the latest Rust? scenario:search-agent:1</message>"
    );
    assert_ne!(
        preflight["model"], CHAT,
        "a classifier model other than the requested one"
    );
    let tools = chats[1].json()["tools"].to_string();
    assert!(
        tools.contains("\"web_search\"") && !tools.contains("google_search"),
        "{tools}"
    );
    // The classifier says no: the client's tool is left alone.
    let skip = fake.requests().len();
    let resp = post_json(
        &proxy,
        "/v1/messages",
        &[],
        &request("Write a poem. scenario:text"),
    );
    let (blocks, _, _) = answer(&resp, false);
    assert_eq!(types(&blocks), ["text"]);
    let chats: Vec<Recorded> = fake
        .requests()
        .into_iter()
        .skip(skip)
        .filter(|r| r.path == "/chat/completions")
        .collect();
    assert_eq!(chats.len(), 2);
    assert!(
        chats[1].json()["tools"]
            .to_string()
            .contains("google_search")
    );
    // Without the flag there is no preflight at all.
    let proxy = start(&fake, Which::Tavily, &[]);
    let skip = fake.requests().len();
    let resp = post_json(
        &proxy,
        "/v1/messages",
        &[],
        &request("What is the latest Rust? scenario:text"),
    );
    assert_eq!(resp.status, 200);
    let chats: Vec<Recorded> = fake
        .requests()
        .into_iter()
        .skip(skip)
        .filter(|r| r.path == "/chat/completions")
        .collect();
    assert_eq!(chats.len(), 1);
    assert!(
        chats[0].json()["tools"]
            .to_string()
            .contains("google_search")
    );
}

#[test]
fn the_flags_have_their_variables() {
    let fake = Fake::start();
    let proxy = Proxy::start(
        &fake,
        &[],
        &[
            ("COPILOT_API_WEB_SEARCH", "off"),
            ("TAVILY_API_KEY", TAVILY_KEY),
        ],
    );
    assert!(
        proxy
            .output()
            .join("\n")
            .contains("web search off (--web-search off)")
    );
    let proxy = Proxy::start(
        &fake,
        &[],
        &[("COPILOT_API_WEB_SEARCH_MODEL", "gpt-5-mini")],
    );
    let log = proxy.output().join("\n");
    assert!(
        log.contains("provider copilot (Copilot's own search on gpt-5-mini)"),
        "{log}"
    );
}
