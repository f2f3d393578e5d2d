//! The SSE relay's wire behaviour (DESIGN.md §2 "Streaming"): events arrive when they are
//! sent, one HTTP chunk each; HTTP/1.0 gets a plain body; a client that hangs up cancels
//! the upstream; many streams at once all complete; outcomes are counted in `/metrics`.

use crate::support::*;
use crate::{FAST, chat_request, contents, exclusive, post_chat, post_json};
use std::time::{Duration, Instant, UNIX_EPOCH};

#[test]
fn each_event_reaches_the_client_within_50ms_of_being_sent() {
    let _alone = exclusive();
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let body = chat_request("gpt-4.1", "scenario:slow:100:20", true);
    let mut client = StreamClient::post(
        &proxy.url,
        "/v1/chat/completions",
        &[],
        body.to_string().as_bytes(),
    );
    assert_eq!(client.status, 200);
    assert_eq!(client.header("transfer-encoding"), Some("chunked"));
    let mut latencies = Vec::new();
    let mut chunks = 0;
    while let Some((chunk, at)) = client.next_chunk() {
        chunks += 1;
        let text = String::from_utf8(chunk).unwrap();
        // One event per HTTP chunk, never two, never half.
        assert!(
            text.ends_with("\n\n") && text.matches("\n\n").count() == 1,
            "chunk {chunks} is not one event: {text:?}"
        );
        let event = &parse_sse(&text)[0];
        if event.is_done() {
            continue;
        }
        let v = event.json();
        let Some(sent) = v["fake_sent_us"].as_str() else {
            continue;
        };
        let sent: u128 = sent.parse().unwrap();
        let received = at.duration_since(UNIX_EPOCH).unwrap().as_micros();
        assert_eq!(v["fake_seq"], latencies.len(), "in order");
        latencies.push(received.saturating_sub(sent));
    }
    assert_eq!(latencies.len(), 20, "every slow event arrived");
    assert!(
        latencies.iter().all(|us| *us < 50_000),
        "latency per event (µs): {latencies:?}"
    );
}

#[test]
fn client_hanging_up_mid_stream_cancels_the_upstream() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--keepalive", "0.2", "--stall-timeout", "10"], &[]);
    let body = chat_request("gpt-4.1", "scenario:slow:100:50", true);
    let mut client = StreamClient::post(
        &proxy.url,
        "/v1/chat/completions",
        &[],
        body.to_string().as_bytes(),
    );
    for _ in 0..3 {
        client.next_chunk().expect("the first events");
    }
    let id = fake.requests_to("/chat/completions").pop().unwrap().id;
    assert_eq!(fake.stream_end(id), None, "upstream still streaming");
    drop(client);
    let gone = Instant::now();
    let end = fake.wait_stream_end(id, Duration::from_secs(3));
    let Some((how, at)) = end else {
        panic!("the upstream connection was still open 3 s after the client left");
    };
    assert!(
        matches!(how, StreamEnd::WriteFailed | StreamEnd::PeerClosed),
        "{how:?}"
    );
    assert!(
        at - gone < Duration::from_millis(700),
        "upstream closed {:?} after the client left",
        at - gone
    );
    let counted = wait_until(Duration::from_secs(2), || {
        get(&proxy.at("/metrics"), &[])
            .text()
            .contains("copilot_api_streams_total{outcome=\"client_gone\"} 1")
    });
    assert!(counted, "{}", get(&proxy.at("/metrics"), &[]).text());
}

#[test]
fn client_hanging_up_during_silence_cancels_the_upstream_within_a_keepalive() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--keepalive", "0.2", "--stall-timeout", "10"], &[]);
    let body = chat_request("gpt-4.1", "scenario:pause:5000", true);
    let mut client = StreamClient::post(
        &proxy.url,
        "/v1/chat/completions",
        &[],
        body.to_string().as_bytes(),
    );
    for _ in 0..2 {
        client.next_chunk().expect("the first events");
    }
    let id = fake.requests_to("/chat/completions").pop().unwrap().id;
    drop(client);
    let gone = Instant::now();
    // Only the watchdog's keepalive can notice: the upstream is silent for 5 s.
    let end = fake.wait_stream_end(id, Duration::from_secs(4));
    let Some((how, at)) = end else {
        panic!("the upstream connection was still open 4 s after the client left");
    };
    assert_eq!(how, StreamEnd::PeerClosed);
    assert!(
        at - gone < Duration::from_millis(1000),
        "upstream closed {:?} after the client left (keepalive 0.2 s)",
        at - gone
    );
}

#[test]
fn http10_client_gets_a_plain_body_closed_at_the_end() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let body = chat_request("gpt-4.1", "hi", true).to_string();
    let request = format!(
        "POST /v1/chat/completions HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let started = Instant::now();
    let raw = raw_request(&proxy.url, request.as_bytes());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the proxy did not close the connection at the end"
    );
    let resp = parse_raw(&raw);
    assert_eq!(resp.status, 200, "{raw}");
    assert_eq!(resp.header("transfer-encoding"), None, "{raw}");
    assert_eq!(resp.header("connection"), Some("close"), "{raw}");
    let text = resp.text();
    assert!(text.starts_with("data: {"), "no chunk framing: {text:?}");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text:?}");
    assert_eq!(contents(&parse_sse(&text)), "Hello from the fake.");
}

#[test]
fn metrics_count_completed_and_stalled_streams() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &FAST, &[]);
    for marker in ["text", "stall-mid"] {
        let resp = post_json(
            &proxy,
            "/v1/chat/completions",
            &[],
            &chat_request("gpt-4.1", &format!("scenario:{marker}"), true),
        );
        assert_eq!(resp.status, 200, "{marker}");
    }
    let expected = [
        "copilot_api_streams_total{outcome=\"completed\"} 1",
        "copilot_api_streams_total{outcome=\"stalled\"} 1",
        "copilot_api_streams_total{outcome=\"upstream_error\"} 0",
        "copilot_api_requests_total{path=\"/v1/chat/completions\",status=\"200\"} 2",
        "copilot_api_upstream_responses_total{status=\"200\"} 2",
    ];
    // The outcome is counted when the relay finishes, just after the last byte.
    let mut text = String::new();
    let all = wait_until(Duration::from_secs(2), || {
        text = get(&proxy.at("/metrics"), &[]).text();
        expected.iter().all(|l| text.lines().any(|t| t == *l))
    });
    assert!(all, "want {expected:#?} in:\n{text}");
}

#[test]
fn hundred_concurrent_streams_all_complete_in_order() {
    let _alone = exclusive();
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let n = 100;
    let barrier = std::sync::Barrier::new(n);
    let started = Instant::now();
    let results: Vec<Resp> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (proxy, barrier) = (&proxy, &barrier);
                s.spawn(move || {
                    let body =
                        chat_request("gpt-4.1", &format!("scenario:slow:20:25 stream {i}"), true);
                    barrier.wait();
                    post_json(proxy, "/v1/chat/completions", &[], &body)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let expected: String = (0..25).map(|i| format!("{i} ")).collect();
    for (i, resp) in results.iter().enumerate() {
        assert_eq!(resp.status, 200, "stream {i}: {}", resp.text());
        let events = parse_sse(&resp.text());
        assert!(events.last().unwrap().is_done(), "stream {i}");
        assert_eq!(contents(&events), expected, "stream {i}");
        let seqs: Vec<u64> = data_json(&events)
            .iter()
            .filter_map(|c| c["fake_seq"].as_u64())
            .collect();
        assert_eq!(seqs, (0..25).collect::<Vec<u64>>(), "stream {i}");
    }
    assert_eq!(fake.requests_to("/chat/completions").len(), n);
    // Each stream takes 0.5 s upstream; one after the other would take 50 s.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn five_thousand_event_stream_is_relayed_whole_and_in_order() {
    let _alone = exclusive();
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let resp = post_chat(&proxy, "gpt-4.1", "scenario:many:5000", true);
    assert_eq!(resp.status, 200);
    let events = parse_sse(&resp.text());
    assert!(events.last().unwrap().is_done());
    let expected: String = (0..5000).map(|i| format!("{i},")).collect();
    assert_eq!(contents(&events), expected);
    // role, 5000 contents, finish, [DONE] (the usage chunk was not asked for).
    assert_eq!(events.len(), 5003);
}
