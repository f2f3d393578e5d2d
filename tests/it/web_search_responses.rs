//! Web search on `/v1/responses` (issue #12): the hosted `web_search` tool passes through
//! to Copilot for a model it serves on `/responses`, and is served by the proxy's search
//! loop for a translated one (`web_search_call` items, `url_citation` annotations, one
//! stream across passes).

use crate::named_events;
use crate::post_json;
use crate::support::*;
use crate::web_search::{CHAT, FAKE_TEXT, RESPONSES, Which, start};
use serde_json::{Value, json};

/// A Responses request (Codex's shape) with the hosted search tool.
fn responses_request(model: &str, text: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "store": false,
           "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}],
           "tools": [{"type": "web_search"}, {"type": "function", "name": "shell",
                      "parameters": {"type": "object", "properties": {}}}]})
}

#[test]
fn responses_hosted_search_passes_through_for_a_native_model() {
    let fake = Fake::start();
    let proxy = start(&fake, Which::Tavily, &[]);
    for stream in [false, true] {
        let skip = fake.requests().len();
        let body = responses_request(RESPONSES, "scenario:text", stream);
        let resp = post_json(&proxy, "/v1/responses", &[], &body);
        assert_eq!(resp.status, 200, "{}", resp.text());
        let new: Vec<Recorded> = fake.requests().into_iter().skip(skip).collect();
        let ups: Vec<&Recorded> = new.iter().filter(|r| r.path == "/responses").collect();
        assert_eq!(ups.len(), 1);
        assert_eq!(ups[0].json()["tools"][0], json!({"type": "web_search"}));
        assert!(
            new.iter().all(|r| r.path != "/search"),
            "the proxy did not search"
        );
    }
}

#[test]
fn responses_hosted_search_is_served_for_a_translated_model() {
    let fake = Fake::start();
    let proxy = start(&fake, Which::Tavily, &[]);
    for stream in [false, true] {
        let skip = fake.requests().len();
        let body = responses_request(CHAT, "What is new? scenario:search-agent:1", stream);
        let resp = post_json(&proxy, "/v1/responses", &[], &body);
        assert_eq!(resp.status, 200, "{}", resp.text());
        let response = if stream {
            let events = named_events(&resp.text());
            let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names.first(), Some(&"response.created"), "{names:?}");
            assert_eq!(names.last(), Some(&"response.completed"), "{names:?}");
            for needed in [
                "response.web_search_call.searching",
                "response.web_search_call.completed",
                "response.output_text.delta",
                "response.output_text.annotation.added",
            ] {
                assert!(names.contains(&needed), "{needed}: {names:?}");
            }
            let added: Vec<u64> = events
                .iter()
                .filter(|(n, _)| n == "response.output_item.added")
                .map(|(_, d)| d["output_index"].as_u64().unwrap())
                .collect();
            assert_eq!(added, [0, 1], "one index run across passes");
            let seq: Vec<u64> = events
                .iter()
                .map(|(_, d)| d["sequence_number"].as_u64().unwrap())
                .collect();
            assert!(seq.windows(2).all(|w| w[1] == w[0] + 1), "{seq:?}");
            events.last().unwrap().1["response"].clone()
        } else {
            resp.json()
        };
        let output = response["output"].as_array().unwrap();
        assert_eq!(output[0]["type"], "web_search_call", "{response}");
        assert_eq!(output[0]["status"], "completed");
        assert_eq!(output[0]["action"]["type"], "search");
        assert_eq!(output[0]["action"]["query"], "fake query");
        assert_eq!(output[1]["type"], "message");
        let part = &output[1]["content"][0];
        assert!(
            part["text"].as_str().unwrap().starts_with(FAKE_TEXT),
            "{part}"
        );
        let annotations = part["annotations"].as_array().unwrap();
        assert_eq!(annotations.len(), 5, "{part}");
        assert_eq!(annotations[0]["type"], "url_citation");
        assert_eq!(annotations[0]["url"], "https://example.com/1?q=fake+query");
        // Tavily once; two Chat passes, the second the agent's, with the results.
        let new: Vec<Recorded> = fake.requests().into_iter().skip(skip).collect();
        assert_eq!(new.iter().filter(|r| r.path == "/search").count(), 1);
        let passes: Vec<&Recorded> = new
            .iter()
            .filter(|r| r.path == "/chat/completions")
            .collect();
        assert_eq!(passes.len(), 2);
        let tools = passes[0].json()["tools"].to_string();
        assert!(
            tools.contains("\"web_search\"") && tools.contains("\"shell\""),
            "{tools}"
        );
        assert_eq!(passes[1].header("x-initiator"), Some("agent"));
        assert_eq!(
            passes[1].json()["stream"].as_bool().unwrap_or(false),
            stream
        );
        let last = passes[1].json()["messages"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(last["role"], "tool");
        assert!(
            last["content"]
                .as_str()
                .unwrap()
                .contains("Snippet 1 about fake query.")
        );
    }
}

#[test]
fn what_the_model_said_before_searching_stays_in_the_answer() {
    let fake = Fake::start();
    let proxy = start(&fake, Which::Tavily, &[]);
    let types = |output: &Value| -> Vec<String> {
        output
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["type"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let mut outputs = Vec::new();
    for stream in [false, true] {
        let body = responses_request(
            CHAT,
            "Think, then search. scenario:think-agent:web_search",
            stream,
        );
        let resp = post_json(&proxy, "/v1/responses", &[], &body);
        assert_eq!(resp.status, 200, "{}", resp.text());
        let response = if stream {
            named_events(&resp.text()).last().unwrap().1["response"].clone()
        } else {
            resp.json()
        };
        outputs.push(types(&response["output"]));
    }
    assert_eq!(
        outputs[0],
        ["reasoning", "web_search_call", "reasoning", "message"],
        "{outputs:?}"
    );
    assert_eq!(outputs[0], outputs[1], "streamed and not alike");
}
