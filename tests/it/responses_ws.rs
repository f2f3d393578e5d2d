//! Issue 13 item 1: Codex's Responses over WebSocket on `GET /v1/responses`, driven by a
//! tungstenite client the way codex-rs drives it (flat `response.create` frames, a prewarm,
//! incremental turns with `previous_response_id`), against the real binary and the fake.

use crate::responses::{CHAT_ONLY, CODEX, codex_request, first_input, user};
use crate::support::scenarios::{ANSWER, TEXT_PARTS};
use crate::support::ws::WsClient;
use crate::support::*;
use crate::{FAST, post_json};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A `response.create` frame: the Responses body, flat, with its `type`.
fn create(body: Value) -> Value {
    let mut frame = body;
    frame["type"] = json!("response.create");
    frame
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

fn output_text(events: &[Value]) -> String {
    events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect()
}

fn completed(events: &[Value]) -> &Value {
    let last = events.last().unwrap();
    assert_eq!(last["type"], "response.completed", "{:?}", types(events));
    &last["response"]
}

#[test]
fn handshake_needs_the_key_and_a_valid_upgrade() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--api-key", "sk-ws"], &[]);
    let refused = WsClient::connect(&proxy.url, "/v1/responses", &[])
        .err()
        .unwrap();
    assert_eq!(refused.status, 401, "{refused:?}");
    assert!(refused.body.contains("error"), "{refused:?}");
    for path in ["/v1/responses", "/responses"] {
        let bearer = WsClient::connect(&proxy.url, path, &[("authorization", "Bearer sk-ws")]);
        assert!(bearer.is_ok(), "{path}");
    }
    assert!(WsClient::connect(&proxy.url, "/v1/responses", &[("x-api-key", "sk-ws")]).is_ok());
    // A bad handshake gets a 400 at once, never a hang.
    let started = Instant::now();
    let raw = raw_request(
        &proxy.url,
        b"GET /v1/responses HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nAuthorization: Bearer sk-ws\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    let resp = parse_raw(&raw);
    assert_eq!(resp.status, 400, "{raw}");
    assert!(resp.text().contains("Sec-WebSocket-Key"), "{raw}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(fake.requests_to("/responses").is_empty());
}

#[test]
fn no_websocket_answers_426_and_closes() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--no-websocket"], &[]);
    let started = Instant::now();
    let refused = WsClient::connect(&proxy.url, "/v1/responses", &[])
        .err()
        .unwrap();
    assert_eq!(refused.status, 426, "{refused:?}");
    assert!(
        refused
            .headers
            .iter()
            .any(|(k, v)| k == "connection" && v.eq_ignore_ascii_case("close")),
        "{refused:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    // HTTP keeps working.
    let resp = post_json(
        &proxy,
        "/v1/responses",
        &[],
        &json!({"model": CODEX, "input": "hi"}),
    );
    assert_eq!(resp.status, 200);
}

/// Two turns on one connection, the second incremental: Copilot gets the whole
/// conversation both times, for a pass-through model and a translated one.
#[test]
fn incremental_turns_reach_copilot_as_the_full_conversation() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &FAST, &[]);
    for (model, upstream) in [(CODEX, "/responses"), (CHAT_ONLY, "/chat/completions")] {
        let mut ws = WsClient::connect(&proxy.url, "/v1/responses", &[]).unwrap();
        let first = first_input("Say hello");
        ws.send(&create(codex_request(model, &first)));
        let events = ws.events_until_end();
        assert_eq!(types(&events)[0], "response.created");
        assert_eq!(output_text(&events), TEXT_PARTS.concat());
        let response = completed(&events).clone();
        let id = response["id"].as_str().unwrap().to_string();
        let mut second = codex_request(model, &[user("And again")]);
        second["previous_response_id"] = json!(id);
        ws.send(&create(second));
        let events = ws.events_until_end();
        completed(&events);
        let sent = fake.requests_to(upstream);
        let last = sent.last().unwrap().json();
        assert!(last.get("previous_response_id").is_none(), "{last}");
        let text = last.to_string();
        for needle in ["Say hello", "And again", TEXT_PARTS[0]] {
            assert!(text.contains(needle), "{model}: {needle} missing in {text}");
        }
        assert_eq!(last["stream"], true);
        // The first request carried only the first turn.
        let earlier = sent[sent.len() - 2].json().to_string();
        assert!(!earlier.contains("And again"));
    }
}

#[test]
fn a_tool_call_round_trip_over_one_connection() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &FAST, &[]);
    let mut ws = WsClient::connect(&proxy.url, "/v1/responses", &[]).unwrap();
    ws.send(&create(codex_request(
        CODEX,
        &first_input("scenario:agent:exec_command"),
    )));
    let events = ws.events_until_end();
    let response = completed(&events);
    let call = response["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "function_call")
        .unwrap_or_else(|| panic!("a function call in {response}"))
        .clone();
    assert_eq!(call["name"], "exec_command");
    let output =
        json!({"type": "function_call_output", "call_id": call["call_id"], "output": "ok"});
    let mut next = codex_request(CODEX, &[output]);
    next["previous_response_id"] = response["id"].clone();
    ws.send(&create(next));
    let events = ws.events_until_end();
    completed(&events);
    let upstream = fake.requests_to("/responses").pop().unwrap().json();
    let items = upstream["input"].as_array().unwrap();
    let kinds: Vec<&str> = items.iter().filter_map(|i| i["type"].as_str()).collect();
    let call_at = kinds.iter().position(|k| *k == "function_call").unwrap();
    assert_eq!(kinds[call_at + 1], "function_call_output", "{kinds:?}");
    assert_eq!(items[call_at]["call_id"], items[call_at + 1]["call_id"]);
    assert!(upstream.to_string().contains("scenario:agent:exec_command"));
}

#[test]
fn prewarm_and_processed_frames_call_no_model() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &FAST, &[]);
    let mut ws = WsClient::connect(&proxy.url, "/responses", &[]).unwrap();
    let mut prewarm = codex_request(CODEX, &first_input("Warm up"));
    prewarm["generate"] = json!(false);
    ws.send(&create(prewarm));
    let events = ws.events_until_end();
    assert_eq!(types(&events), ["response.created", "response.completed"]);
    let id = completed(&events)["id"].as_str().unwrap().to_string();
    ws.send(&json!({"type": "response.processed", "response_id": id}));
    ws.send(&json!({"type": "some.future.frame"}));
    assert!(fake.requests_to("/responses").is_empty(), "no model call");
    let mut turn = codex_request(CODEX, &[user("Now answer")]);
    turn["previous_response_id"] = json!(id);
    ws.send(&create(turn));
    let events = ws.events_until_end();
    completed(&events);
    let sent = fake.requests_to("/responses");
    assert_eq!(sent.len(), 1);
    let text = sent[0].json().to_string();
    assert!(
        text.contains("Warm up") && text.contains("Now answer"),
        "{text}"
    );
    // Ping answered with pong.
    ws.socket
        .send(tungstenite::Message::Ping(b"hi".to_vec().into()))
        .unwrap();
    let pong = loop {
        match ws.socket.read().unwrap() {
            tungstenite::Message::Pong(p) => break p,
            tungstenite::Message::Ping(_) => continue,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(&pong[..], b"hi");
}

#[test]
fn unknown_previous_response_and_bad_frames_get_error_frames() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &FAST, &[]);
    let mut ws = WsClient::connect(&proxy.url, "/v1/responses", &[]).unwrap();
    let mut turn = codex_request(CODEX, &[user("hi")]);
    turn["previous_response_id"] = json!("resp_unknown");
    ws.send(&create(turn));
    let e = ws.next_event();
    assert_eq!(e["type"], "error");
    assert_eq!(e["status"], 400);
    assert_eq!(e["error"]["code"], "previous_response_not_found");
    ws.socket
        .send(tungstenite::Message::text("not json"))
        .unwrap();
    let e = ws.next_event();
    assert_eq!(
        (e["type"].as_str(), e["status"].as_u64()),
        (Some("error"), Some(400))
    );
    // An upstream error status arrives as an error frame and the socket stays usable.
    ws.send(&create(codex_request(
        CODEX,
        &[user("scenario:status:400")],
    )));
    let e = ws.next_event();
    assert_eq!(
        (e["type"].as_str(), e["status"].as_u64()),
        (Some("error"), Some(400)),
        "{e}"
    );
    ws.send(&create(codex_request(CODEX, &[user("hello")])));
    completed(&ws.events_until_end());
}

#[test]
fn an_upstream_fault_mid_response_ends_with_response_failed() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &FAST, &[]);
    let mut ws = WsClient::connect(&proxy.url, "/v1/responses", &[]).unwrap();
    for scenario in [
        "scenario:drop",
        "scenario:stall-mid",
        "scenario:error-event",
    ] {
        ws.send(&create(codex_request(CODEX, &[user(scenario)])));
        let events = ws.events_until_end();
        let last = events.last().unwrap();
        assert_eq!(
            last["type"],
            "response.failed",
            "{scenario}: {:?}",
            types(&events)
        );
        assert!(last["response"]["error"]["message"].is_string());
    }
    // The connection survives a failed response.
    ws.send(&create(codex_request(CODEX, &[user("hello")])));
    completed(&ws.events_until_end());
}

#[test]
fn a_client_closing_mid_response_cancels_the_upstream_request() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--keepalive", "0.2", "--stall-timeout", "10"], &[]);
    let mut ws = WsClient::connect(&proxy.url, "/v1/responses", &[]).unwrap();
    ws.send(&create(codex_request(
        CODEX,
        &[user("scenario:slow:100:50")],
    )));
    for _ in 0..4 {
        ws.next_event();
    }
    let id = fake.requests_to("/responses").pop().unwrap().id;
    assert_eq!(fake.stream_end(id), None, "upstream still streaming");
    let _ = ws.socket.close(None);
    let _ = ws.socket.flush();
    drop(ws);
    let gone = Instant::now();
    let Some((how, at)) = fake.wait_stream_end(id, Duration::from_secs(3)) else {
        panic!("the upstream request was still open 3 s after the client left");
    };
    assert!(
        matches!(how, StreamEnd::WriteFailed | StreamEnd::PeerClosed),
        "{how:?}"
    );
    assert!(at - gone < Duration::from_millis(1500), "{:?}", at - gone);
}

#[test]
fn a_connection_past_its_age_gets_the_documented_limit_error() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--websocket-max-age", "0.5"], &[]);
    let mut ws = WsClient::connect(&proxy.url, "/v1/responses", &[]).unwrap();
    ws.send(&create(codex_request(CODEX, &[user("hello")])));
    completed(&ws.events_until_end());
    std::thread::sleep(Duration::from_millis(700));
    ws.send(&create(codex_request(CODEX, &[user("again")])));
    let e = ws.next_event();
    assert_eq!(e["type"], "error");
    assert_eq!(e["error"]["code"], "websocket_connection_limit_reached");
    assert!(matches!(
        ws.socket.read(),
        Ok(tungstenite::Message::Close(_))
    ));
    assert_eq!(fake.requests_to("/responses").len(), 1);
}

#[test]
fn a_running_response_counts_toward_max_inflight_an_idle_socket_does_not() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--max-inflight", "1", "--keepalive", "0.2"], &[]);
    let mut ws = WsClient::connect(&proxy.url, "/v1/responses", &[]).unwrap();
    // Idle: HTTP requests still get through.
    let resp = post_json(
        &proxy,
        "/v1/responses",
        &[],
        &json!({"model": CODEX, "input": "hi"}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    // The HTTP request's slot is given back just after its answer: retry while busy.
    let mut tries = 0;
    loop {
        ws.send(&create(codex_request(
            CODEX,
            &[user("scenario:slow:100:10")],
        )));
        let first = ws.next_event();
        if first["type"] != "error" {
            break;
        }
        assert_eq!(first["status"], 503, "{first}");
        assert_eq!(first["error"]["code"], "server_busy");
        tries += 1;
        assert!(tries < 50, "the slot was never given back");
        std::thread::sleep(Duration::from_millis(20));
    }
    let busy = post_json(
        &proxy,
        "/v1/responses",
        &[],
        &json!({"model": CODEX, "input": "hi"}),
    );
    assert_eq!(busy.status, 503, "{}", busy.text());
    let events = ws.events_until_end();
    completed(&events);
    // The slot is given back just after the last event: HTTP gets through again.
    let freed = wait_until(Duration::from_secs(2), || {
        post_json(
            &proxy,
            "/v1/responses",
            &[],
            &json!({"model": CODEX, "input": "hi"}),
        )
        .status
            == 200
    });
    assert!(freed, "the WebSocket response's slot was not given back");
    // Reasoning models answer through the same path. The HTTP request above holds the one
    // slot until just after its answer, so this turn may meet `server_busy` first.
    let mut tries = 0;
    let events = loop {
        ws.send(&create(codex_request(CODEX, &[user("scenario:reasoning")])));
        let events = ws.events_until_end();
        if events[0]["type"] != "error" {
            break events;
        }
        assert_eq!(events[0]["error"]["code"], "server_busy", "{events:?}");
        tries += 1;
        assert!(tries < 50, "the HTTP request's slot was never given back");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(output_text(&events), ANSWER);
}

/// Each `response.create` passes the traffic gate as an HTTP request does.
#[test]
fn each_turn_passes_the_rate_limit() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--rate-limit", "30"], &[]);
    let mut ws = WsClient::connect(&proxy.url, "/v1/responses", &[]).unwrap();
    ws.send(&create(codex_request(CODEX, &[user("hello")])));
    completed(&ws.events_until_end());
    ws.send(&create(codex_request(CODEX, &[user("again")])));
    let e = ws.next_event();
    assert_eq!(
        (e["type"].as_str(), e["status"].as_u64()),
        (Some("error"), Some(429)),
        "{e}"
    );
    assert!(e["headers"]["retry-after"].is_string(), "{e}");
    assert_eq!(fake.requests_to("/responses").len(), 1);
    // A prewarm calls no model and is not limited.
    let mut prewarm = codex_request(CODEX, &[user("warm")]);
    prewarm["generate"] = json!(false);
    ws.send(&create(prewarm));
    assert_eq!(
        types(&ws.events_until_end()),
        ["response.created", "response.completed"]
    );
}

/// Codex keeps the socket open while its tools run: an idle WebSocket outlives the
/// listener's head and keep-alive timeouts (its socket read timeouts are only ticks here).
#[test]
fn an_idle_socket_outlives_the_listeners_timeouts() {
    let fake = Fake::start();
    let proxy = Proxy::start(
        &fake,
        &["--header-timeout", "0.3", "--idle-timeout", "0.5"],
        &[],
    );
    let mut ws = WsClient::connect(&proxy.url, "/v1/responses", &[]).unwrap();
    ws.send(&create(codex_request(CODEX, &[user("hello")])));
    let id = completed(&ws.events_until_end())["id"].clone();
    std::thread::sleep(Duration::from_millis(1200));
    let mut next = codex_request(CODEX, &[user("after a long tool run")]);
    next["previous_response_id"] = id;
    ws.send(&create(next));
    completed(&ws.events_until_end());
    let sent = fake
        .requests_to("/responses")
        .pop()
        .unwrap()
        .json()
        .to_string();
    assert!(sent.contains("hello") && sent.contains("after a long tool run"));
}

/// Found in review: WebSocket turns were relayed but never accounted, so a Codex session on
/// the built-in provider showed no tokens, credits or requests in `/metrics` or the
/// dashboard. Each turn is now accounted like a `POST /v1/responses`.
#[test]
fn each_turn_is_accounted_like_an_http_request() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &FAST, &[]);
    let mut ws = WsClient::connect(&proxy.url, "/v1/responses", &[]).unwrap();
    ws.send(&create(codex_request(CODEX, &first_input("Say hello"))));
    completed(&ws.events_until_end());
    let expected = [
        "copilot_api_ai_credits_total{model=\"gpt-5.2-codex\"} 0.25",
        "copilot_api_request_duration_seconds_count{route=\"/v1/responses\"} 1",
        "copilot_api_time_to_first_token_seconds_count{route=\"/v1/responses\"} 1",
    ];
    assert_metrics(&proxy, &expected);
    let log = proxy.output().join("\n");
    assert!(
        log.lines()
            .any(|l| l.contains("WS /v1/responses") && l.contains("credits=")),
        "{log}"
    );
}
