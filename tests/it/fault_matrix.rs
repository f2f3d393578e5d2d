//! The fault matrix (issue 10): every inbound API, streamed and not, over every route kind
//! (pass-through, native, translated), against every upstream fault, with three client
//! behaviours (reads normally, reads slowly, disconnects mid-answer). One table, cells run
//! in parallel against one proxy. For each cell: the client gets a well-formed answer or a
//! terminal event in its own protocol (never a silent cut, never a 500 for an upstream
//! fault); a stream is not retried after its first byte; when the client leaves, the
//! upstream call ends; and at the end the process's threads and descriptors are back to
//! their idle values.

use crate::FAST;
use crate::soak::{ROUTES, request_for};
use crate::support::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Upstream faults, as fake markers. `refused` is a proxy whose Copilot URL is a closed
/// port.
const FAULTS: [&str; 18] = [
    "refused",
    "hangup",
    "drop",
    "stall-head",
    "stall-mid",
    "malformed",
    "error-event",
    "status:400",
    "fail:1:401",
    "status:401",
    "status:413",
    "status:429:json:retry=1",
    "status:500",
    "status:503",
    "status:502:html",
    "status:500:empty",
    "status:200:empty",
    "status:200:binary",
];

/// Faults that strike after the upstream answer began: never retried once bytes flowed.
const MID_STREAM: [&str; 4] = ["drop", "stall-mid", "malformed", "error-event"];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Client {
    Normal,
    Slow,
    Leaves,
}

struct Cell {
    id: usize,
    path: &'static str,
    model: &'static str,
    kind: &'static str,
    stream: bool,
    fault: &'static str,
    client: Client,
}

/// Sends the request with `Connection: close` and reads the answer as `client` does.
fn exchange(url: &str, cell: &Cell, body: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(url.trim_start_matches("http://")).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        cell.path,
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut got = Vec::new();
    let mut buf = vec![
        0u8;
        if cell.client == Client::Slow {
            64
        } else {
            16384
        }
    ];
    let started = Instant::now();
    loop {
        if cell.client == Client::Leaves
            && (got.len() > 200 || started.elapsed() > Duration::from_millis(300))
        {
            return got;
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
        if cell.client == Client::Slow {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// What is wrong with the answer a reading client got, if anything.
fn judge(cell: &Cell, raw: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(raw);
    if !text.contains("\r\n\r\n") {
        return Err(format!("no complete answer: {text:?}"));
    }
    let resp = parse_raw(&text);
    let anthropic = cell.path == "/v1/messages";
    match resp.status {
        500 => Err(format!("500 for an upstream fault: {}", resp.text())),
        200 if cell.stream
            && resp
                .header("content-type")
                .is_some_and(|c| c.contains("event-stream")) =>
        {
            let events = parse_sse(&resp.text());
            let last = events.iter().rev().find(|e| !e.is_keepalive());
            let ended = match (cell.path, last) {
                ("/v1/messages", Some(e)) => {
                    matches!(e.event.as_deref(), Some("message_stop" | "error"))
                }
                ("/v1/responses", Some(e)) => matches!(
                    e.json()["type"].as_str(),
                    Some(
                        "response.completed" | "response.failed" | "response.incomplete" | "error"
                    )
                ),
                (_, Some(e)) => e.is_done(),
                (_, None) => false,
            };
            if ended {
                Ok(())
            } else {
                Err(format!("stream cut without a terminal event: {events:?}"))
            }
        }
        200 => serde_json::from_slice::<Value>(&resp.body)
            .map(drop)
            .map_err(|_| format!("200 without a JSON body: {}", resp.text())),
        400..=599 => {
            let body = resp.json();
            let shaped = if anthropic {
                body["type"] == "error" && body["error"]["message"].is_string()
            } else {
                body["error"]["message"].is_string()
            };
            if shaped {
                Ok(())
            } else {
                Err(format!(
                    "{} not in the API's error shape: {}",
                    resp.status,
                    resp.text()
                ))
            }
        }
        s => Err(format!("unexpected status {s}: {}", resp.text())),
    }
}

#[test]
fn every_api_route_fault_and_client_behaviour() {
    let _heavy = crate::exclusive();
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &FAST, &[]);
    let dead = Proxy::start(
        &fake,
        &FAST,
        &[("COPILOT_API_BASE_URL", "http://127.0.0.1:9")],
    );
    let mut cells = Vec::new();
    for (path, model, kind) in ROUTES {
        for stream in [false, true] {
            for fault in FAULTS {
                for client in [Client::Normal, Client::Slow, Client::Leaves] {
                    // Reading slowly only matters while an answer streams.
                    if client == Client::Slow && !stream {
                        continue;
                    }
                    let id = cells.len();
                    cells.push(Cell {
                        id,
                        path,
                        model,
                        kind,
                        stream,
                        fault,
                        client,
                    });
                }
            }
        }
    }
    // Warm every route, as many at once as the matrix runs, so the pool of warm upstream
    // connections (at most 32 agents) is at its working size before idle is measured.
    std::thread::scope(|s| {
        for i in 0..64 {
            let proxy = &proxy;
            s.spawn(move || {
                let (path, model, _) = ROUTES[i % ROUTES.len()];
                let body = request_for(path, model, "warm", i % 2 == 0).to_string();
                let json = [("content-type", "application/json")];
                let warm = post(&proxy.at(path), &json, body.as_bytes());
                assert_eq!(warm.status, 200, "{path} {model}: {}", warm.text());
            });
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let idle = (proxy.threads_and_fds(), dead.threads_and_fds());
    let next = AtomicUsize::new(0);
    let problems = Mutex::new(Vec::new());
    let slowest = Mutex::new(std::collections::BTreeMap::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        // Most cells wait (on retry back-off: 11 s for a 5xx that never clears), so many
        // run at once.
        for _ in 0..64 {
            s.spawn(|| {
                while let Some(cell) = cells.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let target = if cell.fault == "refused" {
                        &dead
                    } else {
                        &proxy
                    };
                    let text = format!("cell-{} scenario:{}", cell.id, cell.fault);
                    let body = request_for(cell.path, cell.model, &text, cell.stream).to_string();
                    let began = Instant::now();
                    let raw = exchange(&target.url, cell, body.as_bytes());
                    let spent = began.elapsed();
                    let mut slow = slowest.lock().unwrap();
                    let entry = slow.entry(cell.fault).or_insert(Duration::ZERO);
                    *entry = (*entry).max(spent);
                    drop(slow);
                    let verdict = match cell.client {
                        Client::Leaves => Ok(()),
                        _ => judge(cell, &raw),
                    };
                    if let Err(why) = verdict {
                        problems.lock().unwrap().push(format!(
                            "{} {} ({}) stream={} {} {:?}: {why}",
                            cell.path, cell.model, cell.kind, cell.stream, cell.fault, cell.client
                        ));
                    }
                }
            });
        }
    });
    let took = started.elapsed();
    let mut problems = problems.into_inner().unwrap();
    // Upstream side: each call of a cell ended (the proxy let go, also of the calls whose
    // client left), and a stream was never retried once its answer had begun.
    let recorded = fake.requests();
    for cell in &cells {
        let tag = format!("cell-{} ", cell.id);
        let calls: Vec<&Recorded> = recorded
            .iter()
            .filter(|r| r.method == "POST" && String::from_utf8_lossy(&r.body).contains(&tag))
            .collect();
        let what = format!(
            "{} {} stream={} {} {:?}",
            cell.path, cell.model, cell.stream, cell.fault, cell.client
        );
        if cell.stream && MID_STREAM.contains(&cell.fault) && calls.len() != 1 {
            problems.push(format!(
                "{what}: {} upstream calls for a mid-stream fault",
                calls.len()
            ));
        }
        for call in calls {
            if fake
                .wait_stream_end(call.id, Duration::from_secs(5))
                .is_none()
            {
                problems.push(format!("{what}: upstream call {} still open", call.id));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} cells failed:\n{}",
        problems.len(),
        cells.len(),
        problems.join("\n")
    );
    // The process is back to idle.
    for (p, before) in [(&proxy, idle.0), (&dead, idle.1)] {
        let after = p.settle_to(before, Duration::from_secs(10));
        assert!(
            after.0 <= before.0 && after.1 <= before.1,
            "threads/fds before {before:?}, after the matrix {after:?}"
        );
    }
    println!(
        "fault matrix: {} cells in {took:?}; slowest cell by fault: {:?}",
        cells.len(),
        slowest.into_inner().unwrap()
    );
}
