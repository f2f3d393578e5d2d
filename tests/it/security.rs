//! Secure defaults (DESIGN.md §4 "Security by default"): loopback bind, API keys on both
//! API families, the non-loopback refusal and the hidden `/token` route.

use crate::support::*;
use crate::{assert_anthropic_error, assert_openai_error};
use std::time::Duration;

const KEY: &str = "sk-test-key-one";

fn messages_body() -> Vec<u8> {
    br#"{"model":"claude-sonnet-4.5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#
        .to_vec()
}

#[test]
fn default_bind_is_loopback() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    assert!(proxy.addr.starts_with("127.0.0.1:"), "bound {}", proxy.addr);
    assert_eq!(get(&proxy.at("/healthz"), &[]).status, 200);
}

#[test]
fn non_loopback_without_key_is_refused() {
    let fake = Fake::start();
    let home = TempDir::new();
    let mut env = upstream_env(&fake);
    env.push(("GH_TOKEN", GITHUB_TOKEN));
    let (code, _out, err) = run_cli(
        &["start", "--port", "0", "--host", "0.0.0.0"],
        &env,
        home.path(),
    );
    assert_eq!(code, 2, "stderr: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(lines[0].contains("--api-key"), "{err}");
}

#[test]
fn no_auth_allows_non_loopback_with_a_warning() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--host", "0.0.0.0", "--no-auth"], &[]);
    assert!(proxy.addr.starts_with("0.0.0.0:"), "bound {}", proxy.addr);
    assert!(
        proxy.output().iter().any(|l| l.contains("WARN")),
        "{:?}",
        proxy.output()
    );
    assert_eq!(get(&proxy.at("/v1/models"), &[]).status, 200);
}

#[test]
fn api_key_guards_both_families() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--api-key", KEY, "--api-key", "sk-second"], &[]);

    // Open routes.
    assert_eq!(get(&proxy.at("/healthz"), &[]).status, 200);
    assert_eq!(get(&proxy.at("/"), &[]).status, 200);

    // OpenAI family: no key, wrong key.
    let none = get(&proxy.at("/v1/models"), &[]);
    assert_openai_error(&none, 401, Some("authentication_error"));
    let wrong = get(&proxy.at("/v1/models"), &[("Authorization", "Bearer nope")]);
    assert_openai_error(&wrong, 401, Some("authentication_error"));
    // Readiness is for load balancers and `copilot-api health`: open, nothing secret.
    let ready = get(&proxy.at("/readyz"), &[]);
    assert_ne!(ready.status, 401, "{}", ready.text());
    assert!(!ready.text().contains(KEY) && !ready.text().contains(GITHUB_TOKEN));
    assert_openai_error(&get(&proxy.at("/usage"), &[]), 401, None);

    // Anthropic family.
    let json = [("content-type", "application/json")];
    let anth = post(&proxy.at("/v1/messages"), &json, &messages_body());
    assert_anthropic_error(&anth, 401, Some("authentication_error"));
    let anth_wrong = post(
        &proxy.at("/v1/messages"),
        &[("content-type", "application/json"), ("x-api-key", "nope")],
        &messages_body(),
    );
    assert_anthropic_error(&anth_wrong, 401, Some("authentication_error"));

    // Either header, either key.
    let bearer = format!("Bearer {KEY}");
    let ok = get(&proxy.at("/v1/models"), &[("Authorization", &bearer)]);
    assert_eq!(ok.status, 200, "{}", ok.text());
    let ok = get(&proxy.at("/v1/models"), &[("x-api-key", KEY)]);
    assert_eq!(ok.status, 200, "{}", ok.text());
    let ok = get(&proxy.at("/v1/models"), &[("x-api-key", "sk-second")]);
    assert_eq!(ok.status, 200, "{}", ok.text());

    assert!(
        proxy.output().iter().all(|l| !l.contains(KEY)),
        "API key in the log: {:?}",
        proxy.output()
    );
}

#[test]
fn api_keys_from_env_are_comma_separated() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[("COPILOT_API_KEY", "k-one,k-two")]);
    assert_openai_error(
        &get(&proxy.at("/v1/models"), &[]),
        401,
        Some("authentication_error"),
    );
    for key in ["k-one", "k-two"] {
        let bearer = format!("Bearer {key}");
        let ok = get(&proxy.at("/v1/models"), &[("Authorization", &bearer)]);
        assert_eq!(ok.status, 200, "{key}: {}", ok.text());
    }
    let joined = get(&proxy.at("/v1/models"), &[("x-api-key", "k-one,k-two")]);
    assert_openai_error(&joined, 401, Some("authentication_error"));
}

#[test]
fn token_route_is_hidden_by_default() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let resp = get(&proxy.at("/token"), &[]);
    assert_openai_error(&resp, 404, None);
    assert!(!resp.text().contains("tid=fake"), "{}", resp.text());
}

#[test]
fn exposed_token_needs_the_key_and_is_current() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--expose-token", "--api-key", KEY], &[]);
    assert!(wait_until(Duration::from_secs(5), || !fake
        .issued_tokens()
        .is_empty()));

    let denied = get(&proxy.at("/token"), &[]);
    assert_openai_error(&denied, 401, Some("authentication_error"));
    assert!(!denied.text().contains("tid=fake"));

    let bearer = format!("Bearer {KEY}");
    let resp = get(&proxy.at("/token"), &[("Authorization", &bearer)]);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let latest = fake.issued_tokens().last().cloned().unwrap();
    assert_eq!(resp.json()["token"], latest.as_str());
}

#[test]
fn expose_token_without_key_is_refused() {
    let fake = Fake::start();
    let home = TempDir::new();
    let mut env = upstream_env(&fake);
    env.push(("GH_TOKEN", GITHUB_TOKEN));
    let (code, _out, err) = run_cli(
        &["start", "--port", "0", "--expose-token"],
        &env,
        home.path(),
    );
    assert_ne!(code, 0, "stderr: {err}");
    assert_ne!(code, -1, "still running after 20 s: {err}");
    assert!(err.contains("api-key"), "{err}");
}
