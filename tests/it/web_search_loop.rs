//! The web-search loop's own behaviour (issue #12): several searches in one request,
//! `max_uses` and the withdrawn tool, thinking before a search (shown, and sent back with its
//! signature), and an empty answer after a search (asked again, then explained).

use crate::post_json;
use crate::support::*;
use crate::web_search::{
    CHAT, FAKE_TEXT, NATIVE, RESPONSES, Which, answer, model_passes, search_request, start, types,
};
use serde_json::json;

#[test]
fn the_loop_searches_again_until_max_uses_then_withdraws_the_tool() {
    let fake = Fake::start();
    let proxy = start(&fake, Which::Tavily, &[]);
    for stream in [false, true] {
        // Two searches within the default max_uses: three passes.
        let skip = fake.requests().len();
        let body = search_request(
            CHAT,
            "scenario:search-agent:2",
            "web_search_20260318",
            stream,
        );
        let (blocks, usage, _) = answer(&post_json(&proxy, "/v1/messages", &[], &body), stream);
        assert_eq!(
            types(&blocks),
            [
                "server_tool_use",
                "web_search_tool_result",
                "server_tool_use",
                "web_search_tool_result",
                "text"
            ]
        );
        assert_eq!(usage["server_tool_use"]["web_search_requests"], 2);
        let passes = model_passes(&fake, CHAT, skip);
        assert_eq!(passes.len(), 3);
        assert!(
            passes[1..]
                .iter()
                .all(|p| p.header("x-initiator") == Some("agent"))
        );
        // max_uses 2 while the model wants a third: the third call gets the error block
        // and the tool is withdrawn (tool_choice none: no other tool is left).
        let skip = fake.requests().len();
        let mut body = search_request(
            NATIVE,
            "scenario:search-agent:3",
            "web_search_20250305",
            stream,
        );
        body["tools"][0]["max_uses"] = json!(2);
        let (blocks, usage, _) = answer(&post_json(&proxy, "/v1/messages", &[], &body), stream);
        assert_eq!(types(&blocks).len(), 7, "{blocks:?}");
        assert_eq!(
            blocks[5]["content"],
            json!({"type": "web_search_tool_result_error", "error_code": "max_uses_exceeded"})
        );
        assert_eq!(blocks[6]["text"], FAKE_TEXT);
        assert_eq!(usage["server_tool_use"]["web_search_requests"], 2);
        assert_eq!(
            fake.requests()
                .iter()
                .skip(skip)
                .filter(|r| r.path == "/search")
                .count(),
            2
        );
        let passes = model_passes(&fake, NATIVE, skip);
        assert_eq!(passes.len(), 4);
        assert_eq!(passes[2].json()["tool_choice"], json!({"type": "none"}));
    }
}

#[test]
fn thinking_before_a_search_is_shown_and_sent_back_with_its_signature() {
    let fake = Fake::start();
    let proxy = start(&fake, Which::Tavily, &[]);
    for model in [NATIVE, CHAT] {
        for stream in [false, true] {
            let skip = fake.requests().len();
            let body = search_request(
                model,
                "scenario:think-agent:web_search",
                "web_search_20250305",
                stream,
            );
            let (blocks, _, _) = answer(&post_json(&proxy, "/v1/messages", &[], &body), stream);
            let kinds = types(&blocks);
            assert_eq!(
                kinds[..3],
                ["thinking", "server_tool_use", "web_search_tool_result"],
                "{model} {stream}: {kinds:?}"
            );
            assert_eq!(
                blocks[0]["signature"],
                crate::support::scenarios::SIGNATURE,
                "{model}"
            );
            let passes = model_passes(&fake, model, skip);
            assert_eq!(passes.len(), 2);
            let second = String::from_utf8_lossy(&passes[1].body).to_string();
            assert!(
                second.contains(crate::support::scenarios::SIGNATURE),
                "{model}: {second}"
            );
        }
    }
}

#[test]
fn an_empty_answer_after_a_search_is_asked_for_again_then_explained() {
    use crate::support::Scenario;
    let fake = Fake::start();
    let proxy = start(&fake, Which::Tavily, &[]);
    // (The fake's native Messages endpoint has no empty answer.)
    for model in [CHAT, RESPONSES] {
        for stream in [false, true] {
            let case = format!("{model} stream={stream}");
            // One empty answer: asked again, the client never sees it.
            for s in [
                Scenario::Call("web_search".into()),
                Scenario::Empty,
                Scenario::Text,
            ] {
                fake.push_scenario(s);
            }
            let skip = fake.requests().len();
            let body = search_request(model, "What is new?", "web_search_20250305", stream);
            let (blocks, _, _) = answer(&post_json(&proxy, "/v1/messages", &[], &body), stream);
            assert_eq!(
                types(&blocks),
                ["server_tool_use", "web_search_tool_result", "text"],
                "{case}"
            );
            assert_eq!(blocks[2]["text"], FAKE_TEXT, "{case}");
            let passes = model_passes(&fake, model, skip);
            assert_eq!(passes.len(), 3, "{case}");
            assert_eq!(passes[2].header("x-initiator"), Some("agent"), "{case}");
            // Empty every time: the search stays and the client is told.
            for s in [
                Scenario::Call("web_search".into()),
                Scenario::Empty,
                Scenario::Empty,
                Scenario::Empty,
            ] {
                fake.push_scenario(s);
            }
            let (blocks, _, stop) = answer(&post_json(&proxy, "/v1/messages", &[], &body), stream);
            assert_eq!(
                types(&blocks),
                ["server_tool_use", "web_search_tool_result", "text"],
                "{case}"
            );
            assert!(
                blocks[2]["text"]
                    .as_str()
                    .unwrap()
                    .contains("empty response"),
                "{case}"
            );
            assert_eq!(stop, "end_turn", "{case}");
        }
    }
}
