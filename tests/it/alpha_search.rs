//! Issue 13 item 3: `POST /v1/alpha/search`, Codex's standalone `web.run`, answered from the
//! web-search provider (here the fake Tavily).

use crate::post_json;
use crate::support::search::fake_result;
use crate::web_search::{Which, start};
use serde_json::json;

#[test]
fn codex_search_commands_run_on_the_search_provider() {
    let fake = crate::support::Fake::start();
    let proxy = start(&fake, Which::Tavily, &[]);
    let (title, url, snippet) = fake_result("rust release", 1);
    let body = json!({
        "id": "search-session", "model": "gpt-5.2-codex",
        "commands": {
            "search_query": [{"q": "rust release", "recency": 7}],
            "open": [{"ref_id": url}],
            "find": [{"ref_id": url, "pattern": "snippet"}],
            "weather": [{"location": "France, Paris"}],
            "response_length": "short"
        },
        "settings": {"filters": {"blocked_domains": ["spam.example"]}},
        "max_output_tokens": 2500
    });
    for path in ["/v1/alpha/search", "/alpha/search"] {
        let resp = post_json(&proxy, path, &[], &body);
        assert_eq!(resp.status, 200, "{path}: {}", resp.text());
        let v = resp.json();
        let output = v["output"].as_str().unwrap();
        assert!(
            output.contains(&format!("[1] {title}\nref_id: {url}")),
            "{output}"
        );
        assert!(output.contains(&snippet), "{output}");
        assert!(output.contains(&format!("## open: {url}")), "{output}");
        assert!(output.contains(&format!("## find: {url}")), "{output}");
        assert!(output.contains("## weather\nNot available"), "{output}");
    }
    let searches = fake.requests_to("/search");
    let first = searches[0].json();
    assert_eq!(first["query"], "rust release");
    assert_eq!(first["max_results"], 3);
    // Malformed commands: a 400 in OpenAI's shape, nothing searched.
    let before = fake.requests_to("/search").len();
    let bad = post_json(
        &proxy,
        "/v1/alpha/search",
        &[],
        &json!({"model": "m", "commands": {"search_query": "rust"}}),
    );
    crate::assert_openai_error(&bad, 400, None);
    assert_eq!(fake.requests_to("/search").len(), before);
}

#[test]
fn a_failing_provider_is_reported_in_the_output_not_as_a_500() {
    let fake = crate::support::Fake::start();
    fake.set_search(crate::support::search::SearchFake::Status(503));
    let proxy = start(&fake, Which::Tavily, &[]);
    let resp = post_json(
        &proxy,
        "/v1/alpha/search",
        &[],
        &json!({"model": "m", "commands": {"search_query": [{"q": "anything"}]}}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(
        resp.json()["output"]
            .as_str()
            .unwrap()
            .contains("The search failed")
    );
}
