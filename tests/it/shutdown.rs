//! Graceful shutdown (issue #15 item 2): on SIGTERM or SIGINT the proxy stops accepting,
//! `/readyz` answers 503 at once, a stream that fits in `--shutdown-grace` completes, one
//! that does not ends with its protocol's terminal error event, and the process exits 0;
//! a second signal exits at once.

use crate::support::*;
use crate::{FAST, chat_request, message_request};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// One kept-alive connection, opened before the shutdown: the way a load balancer's probe
/// still reaches `/readyz` once the port refuses new connections.
struct KeepAlive(TcpStream);

impl KeepAlive {
    fn open(proxy: &Proxy) -> KeepAlive {
        let s = TcpStream::connect(proxy.url.trim_start_matches("http://")).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        KeepAlive(s)
    }

    /// GET `path` on this connection; the status.
    fn get_status(&mut self, path: &str) -> u16 {
        write!(self.0, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while !got.ends_with(b"\r\n\r\n") {
            assert_eq!(self.0.read(&mut byte).unwrap(), 1, "connection closed");
            got.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&got).to_string();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        self.0.read_exact(&mut body).unwrap();
        head.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
}

fn ready(proxy: &Proxy) {
    assert!(wait_until(Duration::from_secs(5), || get(
        &proxy.at("/readyz"),
        &[]
    )
    .status
        == 200));
}

/// Reads a stream to its end; the data of each event, in order.
fn read_all(client: &mut StreamClient) -> Vec<String> {
    let mut text = String::new();
    while let Some((chunk, _)) = client.next_chunk() {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    parse_sse(&text)
        .iter()
        .filter_map(|e| e.data.clone())
        .collect()
}

#[test]
fn sigterm_lets_a_stream_that_fits_the_grace_complete_then_exits_0() {
    let fake = Fake::start();
    let mut proxy = Proxy::start(&fake, &["--shutdown-grace", "5"], &[]);
    ready(&proxy);
    let mut probe = KeepAlive::open(&proxy);
    assert_eq!(probe.get_status("/readyz"), 200);
    let body = chat_request("gpt-4.1", "scenario:slow:100:12", true);
    let mut stream = StreamClient::post(
        &proxy.url,
        "/v1/chat/completions",
        &[],
        body.to_string().as_bytes(),
    );
    assert_eq!(stream.status, 200);
    let (first, _) = stream.next_chunk().expect("the first event");

    proxy.signal("TERM");
    let signalled = Instant::now();
    assert!(wait_until(Duration::from_secs(2), || probe
        .get_status("/readyz")
        == 503));
    // That answer closed the kept-alive connection: its next request goes elsewhere.
    let mut rest = Vec::new();
    assert_eq!(probe.0.read_to_end(&mut rest).unwrap(), 0, "closed");
    assert!(
        wait_until(Duration::from_secs(2), || TcpStream::connect(
            proxy.url.trim_start_matches("http://")
        )
        .is_err()),
        "new connections are refused"
    );
    let mut events: Vec<String> = parse_sse(&String::from_utf8_lossy(&first))
        .iter()
        .filter_map(|e| e.data.clone())
        .collect();
    events.extend(read_all(&mut stream));
    assert_eq!(
        events.last().map(String::as_str),
        Some("[DONE]"),
        "{events:?}"
    );
    assert!(
        events.iter().all(|e| !e.contains("shutting down")),
        "{events:?}"
    );
    let content = events.iter().filter(|e| e.contains("fake_seq")).count();
    assert_eq!(content, 12, "every event: {events:?}");
    let code = proxy.wait_exit(Duration::from_secs(3));
    assert_eq!(code, Some(0), "{:?}", proxy.output());
    assert!(
        signalled.elapsed() < Duration::from_secs(4),
        "{:?}",
        signalled.elapsed()
    );
    let log = proxy.output().join("\n");
    assert!(log.contains("SIGTERM: shutting down"), "{log}");
    assert!(
        !log.contains(" ERROR "),
        "a normal shutdown logs no error: {log}"
    );
}

#[test]
fn streams_longer_than_the_grace_end_with_their_terminal_error_event() {
    let fake = Fake::start();
    let mut args = vec!["--shutdown-grace", "0.5"];
    args.extend_from_slice(&FAST);
    let mut proxy = Proxy::start(&fake, &args, &[]);
    ready(&proxy);
    let chat = chat_request("gpt-4.1", "scenario:slow:100:100", true);
    let mut chat = StreamClient::post(
        &proxy.url,
        "/v1/chat/completions",
        &[],
        chat.to_string().as_bytes(),
    );
    // Translated to Chat upstream, where the fake knows the slow scenario.
    let messages = message_request("gpt-4.1", "scenario:slow:100:100", true);
    let mut messages = StreamClient::post(
        &proxy.url,
        "/v1/messages",
        &[],
        messages.to_string().as_bytes(),
    );
    assert_eq!((chat.status, messages.status), (200, 200));
    chat.next_chunk().expect("a first chat event");
    messages.next_chunk().expect("a first messages event");

    proxy.signal("INT");
    let signalled = Instant::now();
    let chat_events = read_all(&mut chat);
    let n = chat_events.len();
    assert!(n >= 2, "{chat_events:?}");
    assert_eq!(chat_events[n - 1], "[DONE]", "{chat_events:?}");
    assert!(
        chat_events[n - 2].contains("\"error\"") && chat_events[n - 2].contains("shutting down"),
        "{chat_events:?}"
    );
    let mut text = String::new();
    while let Some((chunk, _)) = messages.next_chunk() {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let last = parse_sse(&text).pop().expect("events");
    assert_eq!(last.event.as_deref(), Some("error"), "{text}");
    assert!(
        last.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("shutting down")
    );
    assert_eq!(proxy.wait_exit(Duration::from_secs(3)), Some(0));
    let took = signalled.elapsed();
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[test]
fn a_second_signal_exits_at_once() {
    let fake = Fake::start();
    let mut proxy = Proxy::start(&fake, &["--shutdown-grace", "30"], &[]);
    ready(&proxy);
    let body = chat_request("gpt-4.1", "scenario:slow:100:200", true);
    let mut stream = StreamClient::post(
        &proxy.url,
        "/v1/chat/completions",
        &[],
        body.to_string().as_bytes(),
    );
    stream.next_chunk().expect("the first event");
    proxy.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(proxy.wait_exit(Duration::ZERO), None, "draining, not gone");
    proxy.signal("TERM");
    let code = proxy.wait_exit(Duration::from_secs(2));
    assert!(matches!(code, Some(c) if c != 0), "{code:?}");
}

#[test]
fn an_idle_proxy_exits_0_at_once() {
    let fake = Fake::start();
    let mut proxy = Proxy::start(&fake, &[], &[]);
    ready(&proxy);
    proxy.signal("TERM");
    assert_eq!(proxy.wait_exit(Duration::from_secs(2)), Some(0));
}
