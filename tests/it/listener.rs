//! The listener's bounds at the wire (issue 10, defects 5 and 8): oversized bodies leak
//! nothing, incomplete heads and idle keep-alive connections are closed on time, and
//! connections over `--max-connections` are refused at once while admitted ones are served.
//! Each test measures the process's threads and descriptors from `/proc`.

use crate::support::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn connect(proxy: &Proxy) -> TcpStream {
    let s = TcpStream::connect(proxy.url.trim_start_matches("http://")).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads until the peer closes (or 10 s); what arrived.
fn read_to_close(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Reads one response whose body has a Content-Length; the head and body as text.
fn read_response(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= len {
                return text;
            }
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return text,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Threads and descriptors once the proxy has started and served one request.
fn idle(proxy: &Proxy) -> (usize, usize) {
    assert_eq!(get(&proxy.at("/healthz"), &[]).status, 200);
    std::thread::sleep(Duration::from_millis(300));
    proxy.threads_and_fds()
}

/// Defect 5: each request declaring a body over 1 GiB leaked a thread and a socket
/// (tiny_http drained it into one allocation of that size, so it was never dropped).
#[test]
fn oversized_bodies_leak_no_thread_or_socket() {
    let _heavy = crate::exclusive();
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let before = idle(&proxy);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..25 {
                    let mut c = connect(&proxy);
                    c.write_all(
                        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                          Content-Length: 1099511627776\r\n\r\n{\"model\":",
                    )
                    .unwrap();
                    let answer = read_to_close(&mut c);
                    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
                    assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");
                }
            });
        }
    });
    let after = proxy.settle_to(before, Duration::from_secs(5));
    assert!(
        after.0 <= before.0 && after.1 <= before.1,
        "threads/fds before {before:?}, after 200 oversized requests {after:?}"
    );
    assert!(proxy.rss_kib() < 100 * 1024, "RSS {} KiB", proxy.rss_kib());
    assert_eq!(get(&proxy.at("/healthz"), &[]).status, 200);
}

/// Defect 8: 3,000 connections that each send half a request head held 3,000 threads for
/// as long as they liked. Now at most `--max-connections` are admitted, the rest refused at
/// once, and the admitted ones are closed at the header deadline.
#[test]
fn half_sent_heads_do_not_pin_threads() {
    let _heavy = crate::exclusive();
    let fake = Fake::start();
    let max = 64;
    let proxy = Proxy::start(
        &fake,
        &[
            "--header-timeout",
            "1",
            "--max-connections",
            &max.to_string(),
        ],
        &[],
    );
    let before = idle(&proxy);
    let count = 3000;
    let started = Instant::now();
    let mut conns = Vec::with_capacity(count);
    let mut peak = before.0;
    for i in 0..count {
        let Ok(mut c) = TcpStream::connect(proxy.url.trim_start_matches("http://")) else {
            continue;
        };
        let _ = c.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Le");
        conns.push(c);
        if i % 100 == 0 {
            peak = peak.max(proxy.threads_and_fds().0);
        }
    }
    peak = peak.max(proxy.threads_and_fds().0);
    assert!(
        conns.len() >= count * 9 / 10,
        "only {} connected",
        conns.len()
    );
    assert!(
        peak <= before.0 + max + 2,
        "{peak} threads for {count} half-sent heads (idle {}, cap {max})",
        before.0
    );
    // Every connection ends: refused at once with a 503, or closed at the header deadline
    // without an answer (there is no request to answer).
    let (mut refused, mut timed_out) = (0, 0);
    for c in &mut conns {
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let got = read_to_close(c);
        if got.starts_with("HTTP/1.1 503") {
            refused += 1;
        } else {
            assert!(got.is_empty(), "{got}");
            timed_out += 1;
        }
    }
    assert!(
        refused >= count / 2,
        "refused {refused}, timed out {timed_out}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    drop(conns);
    let after = proxy.settle_to(before, Duration::from_secs(5));
    assert!(
        after.0 <= before.0 && after.1 <= before.1,
        "before {before:?}, after {after:?}"
    );
    assert_eq!(get(&proxy.at("/healthz"), &[]).status, 200);
}

/// A head trickled one byte at a time is still bound by the header deadline: activity
/// does not extend it.
#[test]
fn a_trickled_head_is_closed_at_the_header_deadline() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--header-timeout", "1"], &[]);
    let mut c = connect(&proxy);
    let started = Instant::now();
    let head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut closed_at = None;
    for byte in head {
        if c.write_all(&[*byte]).is_err() {
            closed_at = Some(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let got = read_to_close(&mut c);
    let closed_at = closed_at.unwrap_or_else(|| started.elapsed());
    assert!(!got.contains("200 OK"), "{got}");
    assert!(
        closed_at < Duration::from_millis(2500),
        "closed after {closed_at:?}"
    );
}

/// Defect 8: an idle keep-alive connection is closed after `--idle-timeout`; one that
/// sends its next request in time is served.
#[test]
fn idle_keep_alive_connections_are_closed() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--idle-timeout", "0.5"], &[]);
    let before = idle(&proxy);
    let mut c = connect(&proxy);
    for _ in 0..3 {
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let answer = read_response(&mut c);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let idle_from = Instant::now();
    let rest = read_to_close(&mut c);
    assert!(rest.is_empty(), "{rest}");
    let waited = idle_from.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(2),
        "closed after {waited:?} idle"
    );
    let after = proxy.settle_to(before, Duration::from_secs(3));
    assert!(
        after.0 <= before.0 && after.1 <= before.1,
        "before {before:?}, after {after:?}"
    );
}

/// Defect 8: over `--max-connections`, a new connection is refused at once (503, closed)
/// while the admitted ones, including a stream in progress, are still served.
#[test]
fn excess_connections_are_refused_while_admitted_ones_are_served() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--max-connections", "3"], &[]);
    // A stream in progress: one event every 100 ms for a second.
    let body = crate::chat_request("gpt-4.1", "scenario:slow:100:10", true).to_string();
    let mut streaming = connect(&proxy);
    streaming
        .write_all(
            format!(
                "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
    let mut kept: Vec<TcpStream> = (0..2).map(|_| connect(&proxy)).collect();
    for c in &mut kept {
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        assert!(read_response(c).starts_with("HTTP/1.1 200"));
    }
    let asked = Instant::now();
    let mut extra = connect(&proxy);
    let _ = extra.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let refused = read_to_close(&mut extra);
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("Retry-After: 1"), "{refused}");
    assert!(refused.contains("--max-connections"), "{refused}");
    assert!(
        asked.elapsed() < Duration::from_millis(500),
        "{:?}",
        asked.elapsed()
    );
    for c in &mut kept {
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        assert!(read_response(c).starts_with("HTTP/1.1 200"));
    }
    let stream = read_to_close(&mut streaming);
    assert!(stream.starts_with("HTTP/1.1 200"), "{stream}");
    assert!(stream.contains("[DONE]"), "{stream}");
    // Once a place is free, a new connection is admitted again.
    drop(kept);
    assert!(wait_until(Duration::from_secs(3), || {
        get(&proxy.at("/healthz"), &[]).status == 200
    }));
}

/// Keep-alive, pipelining, chunked bodies and `Expect: 100-continue` still work.
#[test]
fn keep_alive_pipelining_chunked_and_continue() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let mut c = connect(&proxy);
    // Two pipelined requests in one write.
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // Both answers may arrive in one read: collect until the second is complete.
    let mut both = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&both).contains("Models: GET /v1/models\n") {
        let n = c.read(&mut buf).unwrap();
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&both));
        both.extend_from_slice(&buf[..n]);
    }
    let both = String::from_utf8_lossy(&both).into_owned();
    assert_eq!(both.matches("HTTP/1.1 200").count(), 2, "{both}");
    assert!(
        both.starts_with("HTTP/1.1 200") && both.contains("Server running"),
        "{both}"
    );
    // A chunked body with an extension and a trailer.
    let body = crate::chat_request("gpt-4.1", "hi", false).to_string();
    let (a, b) = body.split_at(10);
    let chunked = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x};ext=1\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\nX-Trailer: t\r\n\r\n",
        a.len(),
        b.len()
    );
    c.write_all(chunked.as_bytes()).unwrap();
    let answer = read_response(&mut c);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("Hello from the fake."), "{answer}");
    // 100-continue: the go-ahead comes first, then the answer.
    c.write_all(
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    let mut go = [0u8; 25];
    c.read_exact(&mut go).unwrap();
    assert_eq!(&go, b"HTTP/1.1 100 Continue\r\n\r\n");
    c.write_all(body.as_bytes()).unwrap();
    let answer = read_response(&mut c);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // A 413 before a 100-continue body is sent closes without waiting for it.
    let proxy_small = Proxy::start(&fake, &["--max-body-mb", "1"], &[]);
    let mut c = connect(&proxy_small);
    c.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5000000\r\n\r\n")
        .unwrap();
    let answer = read_to_close(&mut c);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

/// Broken heads get a 4xx and a closed connection; a header flood costs at most 64 KiB.
#[test]
fn broken_heads_are_answered_and_closed() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let flood: String = (0..3000)
        .map(|i| format!("X-Flood-{i}: {}\r\n", "v".repeat(60)))
        .collect();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"GARBAGE\r\n\r\n".to_vec(), "HTTP/1.1 400"),
        (b"GET / HTTP/9.9\r\n\r\n".to_vec(), "HTTP/1.1 505"),
        (b"GET / HTTP/1.1\r\nBad Header\r\n\r\n".to_vec(), "HTTP/1.1 400"),
        (format!("GET / HTTP/1.1\r\n{flood}\r\n").into_bytes(), "HTTP/1.1 431"),
        (
            b"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n".to_vec(),
            "HTTP/1.1 400",
        ),
        (
            b"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
            "HTTP/1.1 400",
        ),
        (
            b"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n".to_vec(),
            "HTTP/1.1 400",
        ),
    ];
    for (raw, want) in cases {
        let answer = raw_request(&proxy.url, &raw);
        assert!(
            answer.starts_with(want),
            "{want} for {:?}: {answer}",
            String::from_utf8_lossy(&raw[..raw.len().min(80)])
        );
    }
    assert!(proxy.rss_kib() < 100 * 1024);
    assert_eq!(get(&proxy.at("/healthz"), &[]).status, 200);
}
