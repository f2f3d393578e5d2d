//! Usage accounting at the wire (issue #14): tokens and AI credits from streams and JSON
//! answers, usage in a separate chunk or inline, premium requests for `user` turns only,
//! Copilot's limit headers, the access log fields and the `/metrics` series.

use crate::support::{Fake, Proxy, assert_metrics, get, wait_until};
use crate::{chat_request, post_chat, post_json, post_message};
use serde_json::{Value, json};
use std::time::Duration;

fn data(proxy: &Proxy, headers: &[(&str, &str)]) -> Value {
    let resp = get(&proxy.at("/dashboard/data"), headers);
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.json()
}

/// The newest recorded request, once `count` requests are recorded (the record is made
/// just after the client has its last byte).
fn newest(proxy: &Proxy, count: usize) -> Value {
    let mut last = Value::Null;
    let recorded = wait_until(Duration::from_secs(5), || {
        last = data(proxy, &[])["recent"].clone();
        last.as_array().is_some_and(|r| r.len() >= count)
    });
    assert!(recorded, "{count} requests recorded: {last}");
    last[0].clone()
}

fn tokens(r: &Value) -> (u64, u64, u64) {
    let n = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k} in {r}"));
    (n("input_tokens"), n("output_tokens"), n("cached_tokens"))
}

#[test]
fn chat_tokens_from_streams_and_json_with_premium_for_user_turns_only() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    // Usage in a separate `choices: []` chunk, which the client did not ask for.
    let resp = post_chat(&proxy, "claude-sonnet-4.5", "hi", true);
    assert_eq!(resp.status, 200);
    assert!(
        !resp.text().contains("\"prompt_tokens\""),
        "usage chunk not forwarded"
    );
    let r = newest(&proxy, 1);
    assert_eq!(tokens(&r), (12, 5, 0), "{r}");
    assert_eq!(r["api"], "chat");
    assert_eq!(r["upstream"], "/chat/completions");
    assert_eq!(r["initiator"], "user");
    assert_eq!(r["outcome"], "completed");
    assert_eq!(r["premium_requests"], 1.0, "{r}");
    assert!(r["ttft_ms"].as_f64().is_some_and(|t| t > 0.0), "{r}");
    // Usage inline on the finish chunk.
    post_chat(&proxy, "claude-sonnet-4.5", "scenario:usage-inline", true);
    assert_eq!(tokens(&newest(&proxy, 2)), (12, 5, 0));
    // A JSON answer.
    post_chat(&proxy, "claude-sonnet-4.5", "hi", false);
    let r = newest(&proxy, 3);
    assert_eq!(tokens(&r), (12, 5, 0));
    assert_eq!(
        (r["stream"].clone(), r["ttft_ms"].clone()),
        (json!(false), Value::Null)
    );
    // A tool-result turn is the agent's: no premium request.
    let agent = json!({"model": "claude-sonnet-4.5", "stream": true, "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"}]});
    assert_eq!(
        post_json(&proxy, "/v1/chat/completions", &[], &agent).status,
        200
    );
    let r = newest(&proxy, 4);
    assert_eq!(r["initiator"], "agent");
    assert_eq!(r["premium_requests"], 0.0);
    assert_eq!(
        fake.requests_to("/chat/completions")
            .last()
            .unwrap()
            .header("x-initiator"),
        Some("agent")
    );
    let totals = &data(&proxy, &[])["models"][0];
    assert_eq!(totals["model"], "claude-sonnet-4.5");
    assert_eq!(totals["requests"], 4);
    assert_eq!(totals["input_tokens"], 48);
    assert_eq!(totals["premium_requests"], 3.0);
    // The access log line carries the tokens.
    let logged = proxy.output();
    assert!(
        logged.iter().any(
            |l| l.contains("POST /v1/chat/completions claude-sonnet-4.5 200")
                && l.contains("in=12 out=5 cached=0")
                && l.contains("premium=1")
        ),
        "{logged:#?}"
    );
}

#[test]
fn responses_credits_from_copilot_usage_and_messages_tokens_from_events() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let body = json!({"model": "gpt-5.2-codex", "input": "hi", "stream": true});
    assert_eq!(post_json(&proxy, "/v1/responses", &[], &body).status, 200);
    let r = newest(&proxy, 1);
    assert_eq!(r["api"], "responses");
    assert_eq!(r["upstream"], "/responses");
    assert_eq!(tokens(&r), (12, 5, 0));
    assert_eq!(r["ai_credits"], 0.25, "{r}");
    let body = json!({"model": "gpt-5.2-codex", "input": "hi"});
    assert_eq!(post_json(&proxy, "/v1/responses", &[], &body).status, 200);
    assert_eq!(newest(&proxy, 2)["ai_credits"], 0.25);
    // Native Anthropic stream: input from message_start, output from message_delta.
    let resp = post_message(&proxy, "claude-sonnet-4-5", "hi", true);
    assert_eq!(resp.status, 200);
    let r = newest(&proxy, 3);
    assert_eq!(
        (r["api"].clone(), r["upstream"].clone()),
        (json!("messages"), json!("/v1/messages"))
    );
    assert_eq!(r["requested_model"], "claude-sonnet-4-5");
    assert_eq!(r["model"], "claude-sonnet-4.5");
    assert_eq!(tokens(&r), (12, 5, 0));
    // Translated Anthropic (gpt-4.1 has no native Messages endpoint).
    post_message(&proxy, "gpt-4.1", "hi", false);
    let r = newest(&proxy, 4);
    assert_eq!(r["upstream"], "/chat/completions");
    assert_eq!(tokens(&r), (12, 5, 0));
    assert_eq!(r["premium_requests"], 0.0, "gpt-4.1 has multiplier 0");
    let log = proxy.output();
    assert!(
        log.iter()
            .any(|l| l.contains("POST /v1/responses") && l.contains("credits=0.25")),
        "{log:#?}"
    );
}

#[test]
fn metrics_carry_tokens_credits_premium_histograms_and_limits_with_bounded_labels() {
    let fake = Fake::start();
    fake.set_limit_headers(&[
        ("x-usage-ratelimit-session", "rem=75.5&rst=1796400000"),
        ("x-usage-ratelimit-weekly", "rem=40&rst=1796900000"),
    ]);
    let proxy = Proxy::start(&fake, &[], &[]);
    post_chat(&proxy, "claude-opus-4.8", "hi", false);
    post_chat(&proxy, "claude-opus-4.8", "hi", true);
    let body = json!({"model": "gpt-5.2-codex", "input": "hi", "stream": true});
    post_json(&proxy, "/v1/responses", &[], &body);
    // A client-chosen model name never becomes a label.
    let hostile = "evil\"} 1\nx{a=\"<b>";
    post_json(
        &proxy,
        "/v1/chat/completions",
        &[],
        &chat_request(hostile, "hi", false),
    );
    let expected = [
        "copilot_api_tokens_total{model=\"claude-opus-4.8\",kind=\"input\"} 24",
        "copilot_api_tokens_total{model=\"claude-opus-4.8\",kind=\"output\"} 10",
        "copilot_api_tokens_total{model=\"claude-opus-4.8\",kind=\"cached\"} 0",
        "copilot_api_premium_requests_total{model=\"claude-opus-4.8\"} 6",
        "copilot_api_ai_credits_total{model=\"gpt-5.2-codex\"} 0.25",
        "copilot_api_request_duration_seconds_count{route=\"/v1/chat/completions\"} 3",
        "copilot_api_time_to_first_token_seconds_count{route=\"/v1/chat/completions\"} 1",
        "copilot_api_time_to_first_token_seconds_count{route=\"/v1/responses\"} 1",
        "copilot_api_usage_limit_remaining{window=\"session\"} 75.5",
        "copilot_api_usage_limit_remaining{window=\"weekly\"} 40",
        "copilot_api_usage_limit_reset_timestamp_seconds{window=\"weekly\"} 1796900000",
    ];
    let text = assert_metrics(&proxy, &expected);
    assert!(text.contains("# TYPE copilot_api_request_duration_seconds histogram"));
    assert!(!text.contains("evil") && !text.contains("<b>"), "{text}");
    for line in text
        .lines()
        .filter(|l| l.starts_with("copilot_api_tokens_total"))
    {
        let model = line
            .split("model=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert!(
            ["claude-opus-4.8", "gpt-5.2-codex", "other"].contains(&model),
            "{line}"
        );
    }
    let limits = &data(&proxy, &[])["limits"];
    assert_eq!(limits["session"]["remaining"], 75.5);
    assert_eq!(limits["weekly"]["reset"], "1796900000");
}

#[test]
fn recent_requests_are_bounded_and_the_data_endpoint_requires_the_key() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--api-key", "sk-dash"], &[]);
    assert_eq!(get(&proxy.at("/dashboard/data"), &[]).status, 401);
    let auth = [("authorization", "Bearer sk-dash")];
    let chat = chat_request("gpt-4.1", "hi", false);
    for _ in 0..205 {
        post_json(&proxy, "/v1/chat/completions", &auth, &chat);
    }
    let mut v = Value::Null;
    wait_until(Duration::from_secs(5), || {
        v = data(&proxy, &[("x-api-key", "sk-dash")]);
        v["models"][0]["requests"] == 205
    });
    assert_eq!(v["models"][0]["requests"], 205, "{v}");
    assert_eq!(v["recent"].as_array().unwrap().len(), 200);
    assert_eq!(v["quota"]["copilot_plan"], "individual");
}

#[test]
fn json_access_log_carries_the_usage_fields() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--log-format", "json"], &[]);
    let body = json!({"model": "gpt-5.2-codex", "input": "hi", "stream": true});
    assert_eq!(post_json(&proxy, "/v1/responses", &[], &body).status, 200);
    let mut line = Value::Null;
    let logged = wait_until(Duration::from_secs(5), || {
        line = proxy
            .output()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["path"] == "/v1/responses")
            .unwrap_or(Value::Null);
        !line.is_null()
    });
    assert!(logged, "{:#?}", proxy.output());
    assert_eq!(line["input_tokens"], 12, "{line}");
    assert_eq!(line["output_tokens"], 5, "{line}");
    assert_eq!(line["ai_credits"], 0.25, "{line}");
    assert_eq!(line["premium_requests"], 1.0, "{line}");
    assert!(
        line["msg"].as_str().unwrap().contains("credits=0.25"),
        "{line}"
    );
}

/// A web search turn makes two model passes (the call, then the answer): the request is
/// accounted with both passes' tokens, and one premium request for the user's turn.
#[test]
fn a_search_loop_is_accounted_with_every_pass() {
    use crate::web_search::{CHAT, NATIVE, Which, start};
    let fake = Fake::start();
    let proxy = start(&fake, Which::Tavily, &[]);
    for (i, stream) in [false, true].into_iter().enumerate() {
        let body = json!({"model": NATIVE, "max_tokens": 1024, "stream": stream,
            "messages": [{"role": "user", "content": "news? scenario:search-agent:1"}],
            "tools": [{"type": "web_search_20250305", "name": "web_search"}]});
        assert_eq!(post_json(&proxy, "/v1/messages", &[], &body).status, 200);
        let r = newest(&proxy, i + 1);
        assert_eq!(tokens(&r), (24, 10, 0), "stream={stream}: {r}");
        assert_eq!(r["premium_requests"], 1.0, "{r}");
    }
    // Responses on a translated model: the proxy's loop over Chat passes.
    let body = json!({"model": CHAT, "input": "news? scenario:search-agent:1",
        "tools": [{"type": "web_search"}]});
    assert_eq!(post_json(&proxy, "/v1/responses", &[], &body).status, 200);
    let r = newest(&proxy, 3);
    assert_eq!(r["upstream"], "/chat/completions", "{r}");
    assert_eq!(tokens(&r), (24, 10, 0), "{r}");
}

/// An empty answer is asked for again (twice): every attempt's tokens count.
#[test]
fn retried_empty_answers_are_accounted_with_every_attempt() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    for (i, stream) in [false, true].into_iter().enumerate() {
        assert_eq!(
            post_message(&proxy, "gpt-4.1", "scenario:empty", stream).status,
            200
        );
        let r = newest(&proxy, i + 1);
        assert_eq!(tokens(&r), (36, 15, 0), "stream={stream}: {r}");
        assert_eq!(r["initiator"], "user", "{r}");
    }
    assert_eq!(fake.requests_to("/chat/completions").len(), 6);
}
