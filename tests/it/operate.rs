//! Operating the binary (issue #15): every flag as `COPILOT_API_<FLAG>`, `.env` files, JSON
//! logs, `copilot-api health` and the shell completion scripts, run as an operator would.

use crate::support::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn cli(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let home = TempDir::new();
    run_cli(args, env, home.path())
}

/// Asserts that `proxy` refuses a request without a key and serves one with `key`.
fn assert_key_required(proxy: &Proxy, key: &str) {
    assert_eq!(get(&proxy.at("/v1/models"), &[]).status, 401);
    let auth = format!("Bearer {key}");
    let ok = get(&proxy.at("/v1/models"), &[("authorization", &auth)]);
    assert_eq!(ok.status, 200, "{}", ok.text());
}

#[test]
fn a_bad_variable_value_is_an_error_naming_the_variable() {
    let (code, _, err) = cli(&["start"], &[("COPILOT_API_PORT", "http")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("COPILOT_API_PORT: `http`"), "{err}");
    let (code, _, err) = cli(&["start"], &[("COPILOT_API_MAX_BODY_MB", "-1")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("COPILOT_API_MAX_BODY_MB"), "{err}");
    let (code, _, err) = cli(&["start"], &[("COPILOT_API_EXPOSE_TOKEN", "sometimes")]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("COPILOT_API_EXPOSE_TOKEN: `sometimes`"),
        "{err}"
    );
}

#[test]
fn variables_configure_start_and_a_flag_wins() {
    let fake = Fake::start();
    // The flag `--port 0` (from Proxy::start) wins over the variable's unusable value.
    let proxy = Proxy::start(
        &fake,
        &[],
        &[
            ("COPILOT_API_PORT", "not-a-port"),
            ("COPILOT_API_API_KEY", "k-env"),
            ("COPILOT_API_HOST", "0.0.0.0"),
        ],
    );
    assert!(proxy.addr.starts_with("0.0.0.0:"), "{}", proxy.addr);
    assert_key_required(&proxy, "k-env");
}

#[test]
fn dotenv_in_the_working_directory_never_overrides_the_environment() {
    let fake = Fake::start();
    let home = TempDir::new();
    std::fs::write(
        home.path().join(".env"),
        "# keys for the proxy\nCOPILOT_API_API_KEY=from-file\nexport COPILOT_API_CORS_ORIGIN=\"http://a.example\"\n",
    )
    .unwrap();
    let proxy = Proxy::start_in(home, &fake, &[], &[]);
    assert_key_required(&proxy, "from-file");

    let home = TempDir::new();
    std::fs::write(home.path().join(".env"), "COPILOT_API_API_KEY=from-file\n").unwrap();
    let proxy = Proxy::start_in(home, &fake, &[], &[("COPILOT_API_API_KEY", "from-env")]);
    assert_key_required(&proxy, "from-env");
}

#[test]
fn env_file_flag_no_env_file_and_malformed_lines() {
    let fake = Fake::start();
    let dir = TempDir::new();
    let file = dir.path().join("prod.env");
    std::fs::write(&file, "COPILOT_API_API_KEY='k-prod'\n").unwrap();
    let file_arg = format!("--env-file={}", file.display());
    let proxy = Proxy::start(&fake, &[&file_arg], &[]);
    assert_key_required(&proxy, "k-prod");

    let home = TempDir::new();
    std::fs::write(home.path().join(".env"), "COPILOT_API_API_KEY=k\n").unwrap();
    let proxy = Proxy::start_in(home, &fake, &["--no-env-file"], &[]);
    assert_eq!(get(&proxy.at("/v1/models"), &[]).status, 200, "no key");

    let home = TempDir::new();
    std::fs::write(home.path().join(".env"), "A=1\n\nthis is not a variable\n").unwrap();
    let (code, _, err) = run_cli(&["start"], &[], home.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(".env:3: expected KEY=VALUE"), "{err}");
    let (code, _, err) = cli(&["start", "--env-file", "/nonexistent/x.env"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/x.env"), "{err}");
}

#[test]
fn json_logs_are_one_object_per_line_without_secrets() {
    let fake = Fake::start();
    let key = "sk-operator-secret-key";
    let proxy = Proxy::start(
        &fake,
        &["--log-format", "json", "--api-key", key, "--verbose"],
        &[],
    );
    let auth = format!("Bearer {key}");
    let resp = post(
        &proxy.at("/v1/chat/completions"),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        br#"{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}"#,
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(get(&proxy.at("/v1/models"), &[]).status, 401);
    let mut lines = Vec::new();
    assert!(wait_until(std::time::Duration::from_secs(5), || {
        lines = proxy.output();
        lines.iter().filter(|l| l.contains("\"status\"")).count() >= 2
    }));
    let mut secrets = vec![key.to_string(), GITHUB_TOKEN.to_string()];
    secrets.extend(fake.issued_tokens());
    let mut access = Vec::new();
    for line in &lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        for k in ["ts", "level", "msg"] {
            assert!(v[k].is_string(), "{k} in {line}");
        }
        for s in &secrets {
            assert!(!line.contains(s.as_str()), "secret in {line}");
        }
        if v.get("status").is_some() {
            access.push(v);
        }
    }
    let chat = access
        .iter()
        .find(|v| v["path"] == "/v1/chat/completions")
        .expect("access line of the chat request");
    assert_eq!(chat["method"], "POST");
    assert_eq!(chat["status"], 200);
    assert_eq!(chat["model"], "gpt-4.1");
    assert!(chat["duration_ms"].is_number(), "{chat}");
    assert!(access.iter().any(|v| v["status"] == 401));
}

#[test]
fn health_exit_codes() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    assert!(wait_until(std::time::Duration::from_secs(5), || {
        get(&proxy.at("/readyz"), &[]).status == 200
    }));
    let (code, out, err) = cli(&["health", "--url", &proxy.url], &[]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    // The default URL is built from the same variables that configure the server.
    let port = proxy.url.rsplit(':').next().unwrap().to_string();
    let (code, out, err) = cli(&["health"], &[("COPILOT_API_PORT", &port)]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    // With an API key (as in the container image) the probe needs none.
    let keyed = Proxy::start(&fake, &["--api-key", "sk-k"], &[]);
    let (code, _, err) = cli(&["health", "--url", &keyed.url], &[]);
    assert_eq!(code, 0, "{err}");
    drop(proxy);
    let (code, _, err) = cli(&["health"], &[("COPILOT_API_PORT", &port)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("/readyz"), "{err}");

    // A proxy without a Copilot token is live but not ready: 1.
    fake.fail_token_exchanges(1000, 500);
    let proxy = Proxy::start(&fake, &[], &[]);
    let (code, _, err) = cli(&["health", "--url", &proxy.url], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("503"), "{err}");
}

/// Runs `shell` on `script` and returns (success, stdout+stderr).
fn run_shell(shell: &str, args: &[&str], dir: &Path) -> (bool, String) {
    let out = Command::new(shell)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("{shell} is needed by this test ({e}); scripts/test installs it with apt-get")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn completion_scripts_parse_and_complete_in_their_shells() {
    let dir = TempDir::new();
    for (shell, file) in [
        ("bash", "c.bash"),
        ("zsh", "_copilot-api"),
        ("fish", "c.fish"),
    ] {
        let (code, script, err) = cli(&["completions", shell], &[]);
        assert_eq!(code, 0, "{err}");
        std::fs::write(dir.path().join(file), &script).unwrap();
        let (ok, text) = run_shell(shell, &["-n", file], dir.path());
        assert!(ok, "{shell} -n: {text}");
    }
    let (ok, text) = run_shell(
        "bash",
        &[
            "-c",
            "source c.bash; COMP_WORDS=(copilot-api start --shutdown); COMP_CWORD=2; \
             _copilot_api; echo \"${COMPREPLY[@]}\"; \
             COMP_WORDS=(copilot-api he); COMP_CWORD=1; _copilot_api; echo \"${COMPREPLY[@]}\"",
        ],
        dir.path(),
    );
    assert!(ok, "{text}");
    assert_eq!(text, "--shutdown-grace\nhealth\n");
    let (ok, text) = run_shell(
        "fish",
        &[
            "-c",
            "source c.fish; complete -C 'copilot-api start --log-format '",
        ],
        dir.path(),
    );
    assert!(ok, "{text}");
    let words: Vec<&str> = text
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(words, ["json", "text"], "{text}");
    let (code, _, err) = cli(&["completions", "tcsh"], &[]);
    assert_eq!(code, 2, "{err}");
}

/// The README's variable table ("Configuration by environment") is the documentation of
/// every flag's variable: a flag added to `start --help` must get its row there too.
#[test]
fn readme_lists_the_variable_of_every_start_flag() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let (code, help, err) = cli(&["start", "--help"], &[]);
    assert_eq!(code, 0, "{err}");
    let mut missing = Vec::new();
    for line in help
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with('-'))
    {
        let Some(flag) = line
            .split([' ', ','])
            .find(|w| w.starts_with("--"))
            .map(str::to_string)
        else {
            continue;
        };
        let var = format!(
            "COPILOT_API_{}",
            flag.trim_start_matches('-')
                .to_uppercase()
                .replace('-', "_")
        );
        let row = format!("| `{flag}` | `{var}");
        if !readme.contains(&row) {
            missing.push(row);
        }
    }
    assert!(
        missing.is_empty(),
        "README \"Configuration by environment\" lacks rows for: {missing:?}"
    );
}
