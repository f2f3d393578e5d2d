//! The Copilot token lifecycle: refresh ahead of expiry, backoff and recovery after failed
//! exchanges, and no hot loop when upstream says `refresh_in: 0`.

use crate::gaps;
use crate::support::*;
use std::time::{Duration, Instant};

/// Slack for scheduling and loopback latency on a busy two-core machine.
const SLACK: Duration = Duration::from_millis(100);

#[test]
fn refreshes_early_and_later_calls_use_the_newest_token() {
    let fake = Fake::start();
    // min(2-60, 1800-120) is negative, so the schedule is refresh_in/2 = 1 s.
    fake.set_token_lifetime(2, 1800);
    let proxy = Proxy::start(&fake, &[], &[]);

    let refreshed = wait_until(Duration::from_secs(5), || fake.issued_tokens().len() >= 3);
    assert!(
        refreshed,
        "expected 3 tokens within 5 s, got {:?}\n{}",
        fake.issued_tokens(),
        proxy.output().join("\n")
    );
    let exchanges = fake.requests_to("/copilot_internal/v2/token");
    let first_gap = exchanges[1].at - exchanges[0].at;
    assert!(first_gap <= Duration::from_millis(2500), "{first_gap:?}");
    assert!(first_gap + SLACK >= Duration::from_secs(1), "{first_gap:?}");

    // `/v1/models` is answered from the cached catalog, so a chat request is what makes
    // the proxy call upstream; the fake accepts only live tokens there.
    let asked_at = Instant::now();
    let models = get(&proxy.at("/v1/models"), &[]);
    assert_eq!(models.status, 200, "{}", models.text());
    let chat = post(
        &proxy.at("/v1/chat/completions"),
        &[("content-type", "application/json")],
        br#"{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}"#,
    );
    assert_eq!(chat.status, 200, "{}", chat.text());

    // Each exchange here succeeded, so the i-th exchange request issued the i-th token.
    let exchanges = fake.requests_to("/copilot_internal/v2/token");
    let tokens = fake.issued_tokens();
    let later: Vec<Recorded> = fake
        .requests()
        .into_iter()
        .filter(|r| r.at >= asked_at && r.header("authorization").is_some())
        .filter(|r| r.path == "/chat/completions" || r.path == "/models")
        .collect();
    assert!(
        later.iter().any(|r| r.path == "/chat/completions"),
        "the chat request never reached upstream: {} {}",
        chat.status,
        chat.text()
    );
    for rq in &later {
        let issued_before = exchanges.iter().filter(|e| e.at < rq.at).count();
        // The newest token, or the one before if a refresh landed in the same instant.
        let fresh: Vec<String> = tokens[..issued_before]
            .iter()
            .rev()
            .take(2)
            .map(|t| format!("Bearer {t}"))
            .collect();
        let seen = rq.header("authorization").unwrap_or_default();
        assert!(
            fresh.iter().any(|f| f == seen),
            "{} with stale token {seen:?}; newest were {fresh:?}",
            rq.path
        );
        assert_ne!(
            seen,
            format!("Bearer {}", tokens[0]),
            "start-up token reused"
        );
    }
}

#[test]
fn recovers_after_failed_exchanges_with_backoff() {
    let fake = Fake::start();
    fake.set_token_lifetime(2, 1800);
    let proxy = Proxy::start(&fake, &[], &[]);

    // Arm the failures just after a refresh, so no exchange is in flight.
    let n = fake.issued_tokens().len();
    assert!(wait_until(Duration::from_secs(5), || fake
        .issued_tokens()
        .len()
        > n));
    let armed_at = Instant::now();
    fake.fail_token_exchanges(3, 500);
    let issued_before = fake.issued_tokens().len();

    // The server keeps serving on the still-valid token while exchanges fail.
    let failing = wait_until(Duration::from_secs(5), || {
        fake.requests_to("/copilot_internal/v2/token")
            .iter()
            .filter(|r| r.at >= armed_at)
            .count()
            >= 2
    });
    assert!(failing, "no refresh attempts after arming failures");
    assert_eq!(get(&proxy.at("/healthz"), &[]).status, 200);
    let models = get(&proxy.at("/v1/models"), &[]);
    assert_eq!(models.status, 200, "{}", models.text());

    let recovered = wait_until(Duration::from_secs(15), || {
        fake.issued_tokens().len() > issued_before
    });
    assert!(
        recovered,
        "no token within 15 s:\n{}",
        proxy.output().join("\n")
    );

    let attempts: Vec<Recorded> = fake
        .requests_to("/copilot_internal/v2/token")
        .into_iter()
        .filter(|r| r.at >= armed_at)
        .collect();
    assert!(
        attempts.len() >= 4,
        "3 failures then a success: {}",
        attempts.len()
    );
    // Backoff 1, 2, 4 s, each ±25 %.
    let gaps = gaps(&attempts[..4]);
    let bounds = [(750, 1250), (1500, 2500), (3000, 5000)];
    for (gap, (lo, hi)) in gaps.iter().zip(bounds) {
        assert!(
            *gap + SLACK >= Duration::from_millis(lo) && *gap <= Duration::from_millis(hi) + SLACK,
            "backoff gaps {gaps:?}, want {bounds:?} ms"
        );
    }
    assert_eq!(get(&proxy.at("/healthz"), &[]).status, 200);
}

#[test]
fn refresh_in_zero_does_not_hot_loop() {
    let fake = Fake::start();
    fake.set_token_lifetime(0, 1800);
    let proxy = Proxy::start(&fake, &[], &[]);

    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(4));
    let in_window: Vec<Recorded> = fake
        .requests_to("/copilot_internal/v2/token")
        .into_iter()
        .filter(|r| r.at >= start)
        .collect();
    assert!(
        (2..=6).contains(&in_window.len()),
        "{} exchanges in 4 s (want about one a second)\n{}",
        in_window.len(),
        proxy.output().join("\n")
    );
    let all = fake.requests_to("/copilot_internal/v2/token");
    for gap in gaps(&all) {
        assert!(
            gap + SLACK >= Duration::from_secs(1),
            "exchanges {gap:?} apart"
        );
    }
    assert_eq!(get(&proxy.at("/healthz"), &[]).status, 200);
}
