//! The listener read as an attacker reads an HTTP/1.1 server (RFC 9112): every request a
//! proxy in front could frame differently is refused with a 400 and a close, before the
//! upstream sees anything; path spellings cannot slip past the API-key check; HTTP/1.0
//! keep-alive, `Connection: close`, HEAD and absolute-form targets behave as the RFC says.

use crate::support::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const KEY: &str = "sk-conformance";

/// Sends `raw` and reads until the proxy closes; every status line that came back.
fn statuses(proxy: &Proxy, raw: &[u8]) -> (Vec<String>, String) {
    let answer = raw_request(&proxy.url, raw);
    let lines = answer
        .lines()
        .filter(|l| l.starts_with("HTTP/1."))
        .map(|l| l.chars().take(12).collect())
        .collect();
    (lines, answer)
}

#[test]
fn smuggling_vectors_get_400_and_a_close() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let smuggled = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    let long_ext = format!("5;{}\r\nhello\r\n0\r\n\r\n", "a".repeat(9000));
    let heads: Vec<(&str, String)> = vec![
        (
            "signed chunk size",
            format!("Transfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n{smuggled}"),
        ),
        (
            "space before chunk size",
            format!("Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n{smuggled}"),
        ),
        (
            "0x chunk size",
            format!("Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n{smuggled}"),
        ),
        (
            "control byte in an extension",
            format!("Transfer-Encoding: chunked\r\n\r\n5;a\rb\r\nhello\r\n0\r\n\r\n{smuggled}"),
        ),
        (
            "chunk line over 8 KiB in one write",
            format!("Transfer-Encoding: chunked\r\n\r\n{long_ext}"),
        ),
        (
            "chunk data longer than its size",
            format!("Transfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n{smuggled}"),
        ),
        (
            "bare LF after a chunk size",
            format!("Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n{smuggled}"),
        ),
        (
            "bare LF after chunk data",
            format!("Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n{smuggled}"),
        ),
        (
            "bare LF ending the trailers",
            format!("Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\n{smuggled}"),
        ),
        (
            "TE and CL",
            format!("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n{smuggled}"),
        ),
        (
            "TE not exactly chunked",
            format!("Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n{smuggled}"),
        ),
        (
            "TE twice",
            format!(
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"
            ),
        ),
        (
            "space before the colon",
            format!("Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n{smuggled}"),
        ),
        (
            "conflicting CL",
            format!("Content-Length: 2\r\nContent-Length: 5\r\n\r\nhello{smuggled}"),
        ),
        (
            "CL list that disagrees",
            format!("Content-Length: 2, 5\r\n\r\nhello{smuggled}"),
        ),
        (
            "signed CL",
            format!("Content-Length: +5\r\n\r\nhello{smuggled}"),
        ),
        (
            "obs-fold",
            format!("X-A: b\r\n Content-Length: 5\r\n\r\nhello{smuggled}"),
        ),
        ("NUL in a value", format!("X-A: b\0c\r\n\r\n{smuggled}")),
        (
            "bare CR in a value",
            format!("X-A: b\rContent-Length: 5\r\n\r\nhello{smuggled}"),
        ),
        ("two Hosts", format!("Host: y\r\n\r\n{smuggled}")),
    ];
    for (what, rest) in heads {
        let raw = format!("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n{rest}");
        let (lines, answer) = statuses(&proxy, raw.as_bytes());
        assert_eq!(lines, ["HTTP/1.1 400"], "{what}: {answer}");
        assert!(answer.contains("Connection: close"), "{what}: {answer}");
    }
    let http10_te =
        format!("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}");
    assert_eq!(statuses(&proxy, http10_te.as_bytes()).0, ["HTTP/1.1 400"]);
    let non_ascii = b"GET /healthz\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_eq!(statuses(&proxy, non_ascii).0, ["HTTP/1.1 400"]);
    assert!(fake.requests_to("/chat/completions").is_empty());
    assert_eq!(get(&proxy.at("/healthz"), &[]).status, 200);
}

#[test]
fn path_spellings_do_not_pass_the_key_check() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--api-key", KEY, "--expose-token"], &[]);
    for target in [
        "//v1/models",
        "/v1/models/../token",
        "/healthz/../token",
        "/V1/models",
        "/v1/models?x=/healthz",
        "/%68ealthz/../token",
        "/token?/healthz",
        "/token#/healthz",
        "http://x/token",
        "http://x/healthz/../token",
        "HTTPS://x//v1/models",
    ] {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let (lines, answer) = statuses(&proxy, raw.as_bytes());
        assert_eq!(lines, ["HTTP/1.1 401"], "{target}: {answer}");
        assert!(!answer.contains(fake_token_prefix()), "{target}: {answer}");
    }
    // A query on a public route stays that route; an absolute-form target is routed by
    // its path, and the key still opens it.
    let (lines, _) = statuses(
        &proxy,
        b"GET /healthz?x=/token HTTP/1.1\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(lines, ["HTTP/1.1 200"]);
    let raw = format!(
        "GET http://x:1/v1/models HTTP/1.1\r\nx-api-key: {KEY}\r\nConnection: close\r\n\r\n"
    );
    let (lines, answer) = statuses(&proxy, raw.as_bytes());
    assert_eq!(lines, ["HTTP/1.1 200"], "{answer}");
    assert!(answer.contains("gpt-4.1"), "{answer}");
}

/// The prefix of the Copilot tokens the fake issues, which no 401 may carry.
fn fake_token_prefix() -> &'static str {
    "tid="
}

fn connect(proxy: &Proxy) -> TcpStream {
    let s = TcpStream::connect(proxy.url.trim_start_matches("http://")).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads exactly one answer with a Content-Length body (`head_only`: HEAD, no body).
fn one_answer(s: &mut TcpStream, head_only: bool) -> String {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "closed after {got:?}");
        got.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&got).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; if head_only { 0 } else { len }];
    s.read_exact(&mut body).unwrap();
    head + &String::from_utf8_lossy(&body)
}

fn closed(s: &mut TcpStream) -> bool {
    matches!(s.read(&mut [0u8; 64]), Ok(0))
}

#[test]
fn keep_alive_close_and_head_follow_the_rfc() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    // HTTP/1.0 with keep-alive: the answer says so, and the connection serves again.
    let mut c = connect(&proxy);
    for _ in 0..2 {
        c.write_all(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap();
        let answer = one_answer(&mut c, false);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("Connection: keep-alive\r\n"), "{answer}");
    }
    // HTTP/1.0 without it, and HTTP/1.1 with `Connection: close`: closed after one answer,
    // even with a second request already sent.
    for raw in [
        &b"GET /healthz HTTP/1.0\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n"[..],
        b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n",
    ] {
        let mut c = connect(&proxy);
        c.write_all(raw).unwrap();
        let answer = one_answer(&mut c, false);
        assert!(answer.contains("Connection: close\r\n"), "{answer}");
        assert!(closed(&mut c), "{answer}");
    }
    // HEAD: the GET's Content-Length, no body; a pipelined GET's answer follows at once.
    let mut c = connect(&proxy);
    c.write_all(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let head = one_answer(&mut c, true);
    assert!(
        head.starts_with("HTTP/1.1 200") && head.ends_with("\r\n\r\n"),
        "{head}"
    );
    assert!(!head.contains("Content-Length: 0\r\n"), "{head}");
    let next = one_answer(&mut c, false);
    assert!(next.starts_with("HTTP/1.1 200"), "HEAD sent a body: {next}");
}

/// A client without the key cannot make the proxy read (and hold) a body up to
/// `--max-body-mb`, nor get a `100 Continue`: the 401 comes before the body, and the
/// connection closes since the body will not be drained.
#[test]
fn a_request_without_the_key_is_refused_before_its_body_is_read() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--api-key", KEY], &[]);
    for expect in ["Expect: 100-continue\r\n", ""] {
        let mut c = connect(&proxy);
        let head = format!(
            "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{expect}Content-Length: 50000000\r\n\r\n"
        );
        c.write_all(head.as_bytes()).unwrap();
        c.write_all(b"{\"model\":").unwrap();
        let answer = one_answer(&mut c, false);
        assert!(answer.starts_with("HTTP/1.1 401"), "{expect:?}: {answer}");
        assert!(answer.contains("Connection: close\r\n"), "{answer}");
        assert!(closed(&mut c), "{answer}");
    }
    assert!(fake.requests_to("/v1/messages").is_empty());
}
