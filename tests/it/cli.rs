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
