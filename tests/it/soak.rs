//! The soak run behind `scripts/soak [MINUTES]` (ignored by `cargo test`: it runs for
//! minutes). A mix of the three APIs, streamed and not, over every kind of route, with 5 %
//! of upstream calls faulted, Copilot tokens that must be refreshed every 2 s and token
//! exchanges that fail now and then. Every minute it prints requests, failures by cause,
//! RSS and threads; it fails if a request fails for any reason but an injected fault, or if
//! RSS or threads keep growing (or do not come back to idle at the end).

use crate::support::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// (path, model, route kind) of every API x route the soak drives.
pub const ROUTES: [(&str, &str, &str); 7] = [
    ("/v1/chat/completions", "gpt-4.1", "pass-through"),
    ("/v1/chat/completions", "gpt-5.2-codex", "translated"),
    ("/v1/messages", "claude-sonnet-4.5", "native"),
    ("/v1/messages", "gpt-4.1", "translated"),
    ("/v1/messages", "gpt-5.2-codex", "translated"),
    ("/v1/responses", "gpt-5.2-codex", "pass-through"),
    ("/v1/responses", "gpt-4.1", "translated"),
];

/// Faults the soak injects (fake upstream markers); each one fails its request.
const FAULTS: [&str; 8] = [
    "drop",
    "malformed",
    "error-event",
    "stall-mid",
    "status:500",
    "status:400",
    "status:429:json:retry=0",
    "hangup",
];

/// The body of a one-message request for the API at `path`.
pub fn request_for(path: &str, model: &str, text: &str, stream: bool) -> Value {
    match path {
        "/v1/messages" => json!({"model": model, "max_tokens": 256, "stream": stream,
                                 "messages": [{"role": "user", "content": text}]}),
        "/v1/responses" => json!({"model": model, "stream": stream, "input": text}),
        _ => json!({"model": model, "stream": stream,
                    "messages": [{"role": "user", "content": text}]}),
    }
}

/// Whether the answer is a complete success in the API's own terms: 200, and a stream
/// that ends with its protocol's terminal event, or a JSON body.
pub fn complete(path: &str, stream: bool, resp: &Resp) -> Result<(), String> {
    if resp.status != 200 {
        return Err(format!("status {}", resp.status));
    }
    let text = resp.text();
    if !stream {
        return serde_json::from_str::<Value>(&text)
            .map(drop)
            .map_err(|_| "body not JSON".to_string());
    }
    let terminal = match path {
        "/v1/messages" => "event: message_stop",
        "/v1/responses" => "response.completed",
        _ => "data: [DONE]",
    };
    if text.contains(terminal) {
        Ok(())
    } else {
        Err("stream without its terminal event".into())
    }
}

#[derive(Default)]
struct Tally {
    ok: u64,
    /// Failures by cause: `injected <marker>` or `UNEXPECTED <route>: <why>`.
    failures: BTreeMap<String, u64>,
}

#[test]
#[ignore = "runs for minutes: scripts/soak"]
fn soak() {
    let minutes: f64 = std::env::var("SOAK_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(1.0);
    let run_for = Duration::from_secs_f64(minutes * 60.0);
    let fake = Fake::start();
    // Refreshed at half of refresh_in (2 s), valid for 10 s.
    fake.set_token_lifetime(4, 10);
    let proxy = Proxy::start(
        &fake,
        // Generous enough that a loaded machine never looks like a stalled upstream.
        &[
            "--keepalive",
            "1",
            "--stall-timeout",
            "5",
            "--first-byte-timeout",
            "8",
        ],
        &[],
    );
    assert_eq!(get(&proxy.at("/healthz"), &[]).status, 200);
    std::thread::sleep(Duration::from_millis(500));
    let idle = proxy.threads_and_fds();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut samples: Vec<(usize, usize)> = Vec::new();
    std::thread::scope(|s| {
        for worker in 0..6u64 {
            let (tally, stop, counter, proxy) = (&tally, &stop, &counter, &proxy);
            s.spawn(move || {
                let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ (worker + 1);
                while !stop.load(Ordering::Relaxed) {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let (path, model, kind) = ROUTES[(seed % 7) as usize];
                    let stream = (seed >> 8) % 2 == 0;
                    let fault =
                        ((seed >> 16) % 100 < 5).then(|| FAULTS[((seed >> 24) % 8) as usize]);
                    let text = match fault {
                        Some(f) => format!("soak {n} scenario:{f}"),
                        None => format!("soak {n}"),
                    };
                    let body = request_for(path, model, &text, stream);
                    let resp = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        post(
                            &proxy.at(path),
                            &[("content-type", "application/json")],
                            body.to_string().as_bytes(),
                        )
                    }));
                    let outcome = match resp {
                        Ok(resp) => complete(path, stream, &resp),
                        Err(_) => Err("request failed at the transport".into()),
                    };
                    let mut t = tally.lock().unwrap();
                    match (outcome, fault) {
                        (Ok(()), _) => t.ok += 1,
                        (Err(_), Some(f)) => {
                            *t.failures.entry(format!("injected {f}")).or_default() += 1
                        }
                        (Err(why), None) => {
                            *t.failures
                                .entry(format!(
                                    "UNEXPECTED {path} {model} ({kind}, stream={stream}): {why}"
                                ))
                                .or_default() += 1
                        }
                    }
                }
            });
        }
        // Token exchanges that fail now and then (once or twice in a row).
        s.spawn(|| {
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_secs(7));
                i += 1;
                fake.fail_token_exchanges(1 + (i % 2) as usize, if i % 3 == 0 { 503 } else { 500 });
            }
        });
        let mut minute = 0;
        while started.elapsed() < run_for {
            let next = Duration::from_secs(60 * (minute + 1)).min(run_for);
            std::thread::sleep(next.saturating_sub(started.elapsed()));
            minute += 1;
            let (threads, _) = proxy.threads_and_fds();
            let rss = proxy.rss_kib();
            samples.push((rss, threads));
            let t = tally.lock().unwrap();
            let failed: u64 = t.failures.values().sum();
            println!(
                "soak minute {minute}: requests {} (ok {}, failed {failed}), RSS {:.1} MiB, threads {threads}, failures by cause {:?}",
                t.ok + failed,
                t.ok,
                rss as f64 / 1024.0,
                t.failures
            );
        }
        stop.store(true, Ordering::Relaxed);
    });
    std::thread::sleep(Duration::from_secs(3));
    let after = proxy.settle_to(idle, Duration::from_secs(10));
    let t = tally.lock().unwrap();
    let failed: u64 = t.failures.values().sum();
    println!(
        "soak done: {:.1} min, requests {}, ok {}, failed {failed} (all injected: {}), token exchanges {}, \
         idle threads/fds before {idle:?} after {after:?}, RSS samples (KiB, threads) {samples:?}",
        started.elapsed().as_secs_f64() / 60.0,
        t.ok + failed,
        t.ok,
        t.failures.keys().all(|k| k.starts_with("injected")),
        fake.requests_to("/copilot_internal/v2/token").len()
    );
    let unexpected: Vec<_> = t
        .failures
        .iter()
        .filter(|(k, _)| !k.starts_with("injected"))
        .collect();
    assert!(
        unexpected.is_empty(),
        "failures not caused by an injected fault: {unexpected:?}"
    );
    assert!(t.ok > 0, "no request succeeded");
    assert!(
        after.0 <= idle.0 + 2 && after.1 <= idle.1 + 8,
        "threads/fds did not return to idle: before {idle:?}, after {after:?}"
    );
    // Growth: the last sample against the first (after a minute of warm-up).
    if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
        if samples.len() >= 3 {
            assert!(
                last.0 <= first.0 + first.0 / 2 + 8 * 1024,
                "RSS kept growing: {samples:?}"
            );
            assert!(last.1 <= first.1 + 16, "threads kept growing: {samples:?}");
        }
    }
}
