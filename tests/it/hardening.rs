//! Regression tests for the defects found in review (issue 10), one per defect, each named
//! after what it pins. The listener's own (timeouts, connection cap, oversized bodies) are
//! in `listener.rs`.

use crate::support::*;
use crate::{assert_anthropic_error, chat_request, post_json};
use serde_json::json;

/// Defect 1: a 401 within a second of the last token exchange replayed the token Copilot
/// had just refused, and the request failed.
#[test]
fn a_401_right_after_an_exchange_gets_a_new_token() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    // Each round revokes the token and asks at once: from the second round on, the last
    // exchange (the previous round's) is well under a second old.
    for round in 0..3 {
        fake.revoke_tokens();
        let resp = post_json(
            &proxy,
            "/v1/chat/completions",
            &[],
            &chat_request("gpt-4.1", "hi", false),
        );
        assert_eq!(resp.status, 200, "round {round}: {}", resp.text());
    }
    let issued = fake.issued_tokens().len();
    assert!(
        issued >= 4,
        "one exchange per revocation expected: {issued}"
    );
}

/// Defect 2: `/v1/messages` without `max_tokens` was accepted; Anthropic's API requires it.
#[test]
fn messages_without_max_tokens_is_400_naming_it() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let bodies = [
        json!({"model": "claude-sonnet-4.5", "messages": [{"role": "user", "content": "hi"}]}),
        json!({"model": "gpt-4.1", "max_tokens": null, "messages": [{"role": "user", "content": "hi"}]}),
        json!({"model": "gpt-4.1", "max_tokens": 0, "messages": [{"role": "user", "content": "hi"}]}),
    ];
    for body in bodies {
        let resp = post_json(&proxy, "/v1/messages", &[], &body);
        assert_anthropic_error(&resp, 400, Some("invalid_request_error"));
        let message = resp.json()["error"]["message"].to_string();
        assert!(message.contains("max_tokens"), "{message}");
    }
    assert!(fake.requests_to("/v1/messages").is_empty());
    assert!(fake.requests_to("/chat/completions").is_empty());
}

/// Defect 3: every `GET /v1/models/<random>`, before authentication, added a metrics series.
#[test]
fn metrics_labels_stay_a_fixed_set() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--api-key", "sekrit"], &[]);
    for i in 0..50 {
        let _ = get(&proxy.at(&format!("/v1/models/probe-{i}")), &[]);
        let _ = get(&proxy.at(&format!("/scan-{i}")), &[]);
    }
    let auth = [("authorization", "Bearer sekrit")];
    let _ = get(&proxy.at("/v1/models/gpt-4.1"), &auth);
    let text = get(&proxy.at("/metrics"), &auth).text();
    assert!(
        !text.contains("probe-") && !text.contains("scan-"),
        "{text}"
    );
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("copilot_api_requests_total{"))
        .collect();
    assert!(series.len() <= 4, "{series:?}");
    assert!(
        series
            .iter()
            .any(|l| l.contains(r#"path="/v1/models/{id}",status="401""#) && l.ends_with(" 50")),
        "{series:?}"
    );
    assert!(
        series
            .iter()
            .any(|l| l.contains(r#"path="/v1/models/{id}",status="200""#)),
        "{series:?}"
    );
}

/// Defect 7: `tests/sdk/run` exited 0 ("skipped") without Python unless `CI` was set, so
/// the README's test command could pass without running the SDK suite.
#[test]
fn sdk_suite_fails_rather_than_skips_without_python() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = TempDir::new();
    let sdk = dir.path().join("tests/sdk");
    std::fs::create_dir_all(&sdk).unwrap();
    for file in ["run", "requirements.txt"] {
        std::fs::copy(root.join("tests/sdk").join(file), sdk.join(file)).unwrap();
    }
    // A PATH with the shell tools the script uses, and no python3.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["bash", "sha256sum", "cut", "cat", "rm", "dirname", "env"] {
        let found = ["/usr/bin", "/bin"]
            .iter()
            .map(|d| std::path::Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{tool} not found"));
        std::os::unix::fs::symlink(found, bin.join(tool)).unwrap();
    }
    let out = std::process::Command::new(bin.join("bash"))
        .arg(sdk.join("run"))
        .env_clear()
        .env("PATH", &bin)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("python3 not found") && text.contains("0 passed, 1 failed"),
        "{text}"
    );
    // And CI always sets CI=1.
    let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
    assert!(ci.lines().any(|l| l.trim() == "export CI=1"), "{ci}");
}
