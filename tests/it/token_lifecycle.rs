//! The token lifecycle under stress (issue 10): Copilot tokens that expire every few
//! seconds, token exchanges that fail at random, and a simulated suspend (the process is
//! stopped with SIGSTOP for longer than a token lives, while the wall clock runs on, then
//! continued, as after a laptop's sleep). No client request may fail because of the token.

use crate::soak::{ROUTES, complete, request_for};
use crate::support::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn signal(proxy: &Proxy, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([sig, &proxy.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {sig}");
}

/// Runs one request on each route; every failure, described.
fn round(proxy: &Proxy, n: &mut usize) -> Vec<String> {
    let mut failed = Vec::new();
    for (path, model, kind) in ROUTES {
        *n += 1;
        let stream = *n % 2 == 0;
        let body = request_for(path, model, &format!("lifecycle {n}"), stream).to_string();
        let resp = post(
            &proxy.at(path),
            &[("content-type", "application/json")],
            body.as_bytes(),
        );
        if let Err(why) = complete(path, stream, &resp) {
            failed.push(format!(
                "{path} {model} ({kind}) stream={stream}: {why}: {}",
                resp.text()
            ));
        }
    }
    failed
}

#[test]
fn no_request_fails_because_of_the_token() {
    let fake = Fake::start();
    // Refreshed after 1 s, expired after 5 s.
    fake.set_token_lifetime(2, 5);
    let proxy = Proxy::start(&fake, &[], &[]);
    let stop = AtomicBool::new(false);
    let mut failed = Vec::new();
    let mut n = 0;
    std::thread::scope(|s| {
        // Exchanges fail at random: the next one (or two) every 1.5-3.5 s, against a
        // token refreshed every second, so about a third of all exchanges fail.
        s.spawn(|| {
            let mut seed = 0x2545_f491_4f6c_dd1du64;
            while !stop.load(Ordering::Relaxed) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                std::thread::sleep(Duration::from_millis(1500 + seed % 2000));
                let twice = seed % 3 == 0;
                fake.fail_token_exchanges(
                    1 + usize::from(twice),
                    if seed % 2 == 0 { 503 } else { 500 },
                );
            }
        });
        let until = Instant::now() + Duration::from_secs(8);
        while Instant::now() < until {
            failed.extend(round(&proxy, &mut n));
        }
        // Suspend: longer than a token lives.
        signal(&proxy, "-STOP");
        std::thread::sleep(Duration::from_secs(6));
        // The first exchanges on waking fail (the network is not back yet).
        fake.fail_token_exchanges(3, 500);
        signal(&proxy, "-CONT");
        for _ in 0..3 {
            failed.extend(round(&proxy, &mut n));
        }
        stop.store(true, Ordering::Relaxed);
    });
    let exchanges = fake.requests_to("/copilot_internal/v2/token").len();
    assert!(
        failed.is_empty(),
        "{} of {n} requests failed ({exchanges} exchanges):\n{}\n{}",
        failed.len(),
        failed.join("\n"),
        proxy.output().join("\n")
    );
    assert!(
        exchanges >= 6,
        "tokens were refreshed: {exchanges} exchanges"
    );
}
