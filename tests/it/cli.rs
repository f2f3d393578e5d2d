//! Argument handling (STYLE.md habit 6): leftovers and bad values exit 2 with one line,
//! `--version`, `--help`, and `debug --json` which never prints a secret.

use crate::support::*;
use serde_json::Value;

fn cli(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let home = TempDir::new();
    run_cli(args, env, home.path())
}

fn non_empty_lines(s: &str) -> Vec<&str> {
    s.lines().filter(|l| !l.trim().is_empty()).collect()
}

#[test]
fn unknown_flag_exits_2_with_one_line() {
    let (code, out, err) = cli(&["start", "--bogus"], &[]);
    assert_eq!(code, 2, "stdout: {out}\nstderr: {err}");
    let lines = non_empty_lines(&err);
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(lines[0].contains("--bogus"), "{err}");
}

#[test]
fn bad_port_exits_2_with_one_line() {
    let (code, out, err) = cli(&["start", "--port", "abc"], &[]);
    assert_eq!(code, 2, "stdout: {out}\nstderr: {err}");
    let lines = non_empty_lines(&err);
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(lines[0].contains("--port"), "{err}");
}

#[test]
fn version_prints_name_and_version() {
    let (code, out, err) = cli(&["--version"], &[]);
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(out.trim(), "copilot-api 0.1.0");
}

#[test]
fn help_lists_commands_and_flags() {
    let (code, out, err) = cli(&["--help"], &[]);
    assert_eq!(code, 0, "stderr: {err}");
    for word in ["start", "auth", "check-usage", "debug"] {
        assert!(out.contains(word), "--help lacks {word}: {out}");
    }
    let (code, out, err) = cli(&["start", "--help"], &[]);
    assert_eq!(code, 0, "stderr: {err}");
    for flag in [
        "--port",
        "--host",
        "--api-key",
        "--no-auth",
        "--max-body-mb",
        "--expose-token",
    ] {
        assert!(out.contains(flag), "start --help lacks {flag}: {out}");
    }
}

#[test]
fn debug_json_shows_paths_and_never_the_token() {
    let fake = Fake::start();
    let home = TempDir::new();
    let secret = "gho_debug_secret_4f2a9c";
    let mut env = upstream_env(&fake);
    env.push(("GH_TOKEN", secret));
    let (code, out, err) = run_cli(&["debug", "--json"], &env, home.path());
    assert_eq!(code, 0, "stderr: {err}");
    let v: Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {out}"));
    assert_eq!(v["version"], "0.1.0", "{v}");
    let paths = v["paths"].to_string();
    let data_dir = home.path().join(".local/share/copilot-api");
    assert!(
        paths.contains(data_dir.to_str().unwrap()),
        "paths should point under HOME: {paths}"
    );
    assert!(!out.contains(secret), "token in stdout: {out}");
    assert!(!err.contains(secret), "token in stderr: {err}");
    assert!(fake.requests().is_empty(), "debug made a network call");
}

#[test]
fn check_usage_prints_quotas_and_a_rejected_token_says_what_to_do() {
    let fake = Fake::start();
    let home = TempDir::new();
    let mut env = upstream_env(&fake);
    env.push(("GH_TOKEN", GITHUB_TOKEN));
    fake.set_limit_headers(&[("x-usage-ratelimit-weekly", "rem=40&rst=1796900000")]);
    let (code, out, err) = run_cli(&["check-usage"], &env, home.path());
    assert_eq!(code, 0, "stderr: {err}");
    assert!(out.contains("plan: individual"), "{out}");
    assert!(out.contains("Quota resets: 2026-12-01"), "{out}");
    assert!(
        out.contains("Weekly:           [############--------] 40% remaining, resets 2026-"),
        "{out}"
    );
    assert!(out.contains("Session:          not reported"), "{out}");
    assert!(
        out.contains("38 / 300 used (12.7% used, 87.3% remaining)"),
        "{out}"
    );
    assert!(out.contains("unlimited"), "{out}");
    let usage = fake.requests_to("/copilot_internal/user");
    assert_eq!(usage.len(), 1);
    assert_eq!(
        usage[0].header("authorization"),
        Some(format!("token {GITHUB_TOKEN}").as_str())
    );

    fake.reject_github_token(true);
    let (code, _, err) = run_cli(&["check-usage"], &env, home.path());
    assert_eq!(code, 1);
    assert!(err.contains("copilot-api auth"), "{err}");
}

#[test]
fn debug_models_prints_the_routing_of_each_catalog_model() {
    let fake = Fake::start();
    let home = TempDir::new();
    let mut env = upstream_env(&fake);
    env.push(("GH_TOKEN", GITHUB_TOKEN));
    let (code, out, err) = run_cli(&["debug", "--json", "--models"], &env, home.path());
    assert_eq!(code, 0, "stderr: {err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let routes = &v["routes"];
    assert_eq!(
        routes["gpt-5.2-codex"]["/v1/responses"],
        "/responses (pass-through)"
    );
    assert_eq!(
        routes["gpt-5.2-codex"]["/v1/chat/completions"],
        "/responses (translated)"
    );
    assert_eq!(
        routes["claude-sonnet-4.5"]["/v1/messages"],
        "/v1/messages (pass-through)"
    );
    assert_eq!(
        routes["gpt-4.1"]["/v1/messages"],
        "/chat/completions (translated)"
    );
    assert!(!out.contains(GITHUB_TOKEN));
}
