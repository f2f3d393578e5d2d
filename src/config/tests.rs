//! `Config::from_raw` on whole command lines and environments: defaults, precedence, and
//! the flag each bad value is reported against.

use super::*;
use crate::cli::{Parsed, parse};

fn config(line: &str, env: &[(&str, &str)]) -> Result<Config, UsageError> {
    let args = pico_args::Arguments::from_vec(line.split_whitespace().map(Into::into).collect());
    let Ok(Parsed::Command(raw)) = parse(args) else {
        panic!("{line}")
    };
    let mut env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.push(("HOME".into(), "/home/u".into()));
    Config::from_raw(*raw, &|k| {
        env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    })
}

#[test]
fn defaults_are_loopback_4141_and_current_headers() {
    let c = config("start", &[]).unwrap();
    assert_eq!((c.host.to_string().as_str(), c.port), ("127.0.0.1", 4141));
    assert_eq!(c.max_body_bytes, 64 << 20);
    assert_eq!(c.max_inflight, 256);
    assert_eq!(
        c.paths.token_file,
        PathBuf::from("/home/u/.local/share/copilot-api/github_token")
    );
    assert_eq!(
        c.endpoints.copilot_fallback,
        "https://api.githubcopilot.com"
    );
    assert!(c.proxy_env);
}

#[test]
fn bad_values_name_their_flag() {
    assert!(
        config("start --port abc", &[])
            .unwrap_err()
            .0
            .starts_with("--port")
    );
    assert!(
        config("start --port 70000", &[])
            .unwrap_err()
            .0
            .starts_with("--port")
    );
    assert!(
        config("start --max-body-mb 0", &[])
            .unwrap_err()
            .0
            .starts_with("--max-body-mb")
    );
    assert!(
        config("start --host nowhere", &[])
            .unwrap_err()
            .0
            .starts_with("--host")
    );
}

#[test]
fn exposed_host_needs_a_key_or_no_auth() {
    assert!(
        config("start --host 0.0.0.0", &[])
            .unwrap_err()
            .0
            .contains("--api-key")
    );
    assert!(config("start --host 0.0.0.0 --no-auth", &[]).is_ok());
    let c = config(
        "start --host 0.0.0.0 --api-key k1",
        &[("COPILOT_API_KEY", "k2, k3,")],
    )
    .unwrap();
    assert_eq!(c.api_keys, ["k1", "k2", "k3"]);
    assert!(config("start --expose-token", &[]).is_err());
}

#[test]
fn token_precedence_flag_then_gh_token_then_github_token() {
    let env = [("GH_TOKEN", "a"), ("GITHUB_TOKEN", "b")];
    assert_eq!(
        config("start -g x", &env).unwrap().github_token.unwrap().0,
        "x"
    );
    assert_eq!(
        config("start", &env).unwrap().github_token.unwrap().1,
        "GH_TOKEN"
    );
    assert_eq!(
        config("start", &env[1..]).unwrap().github_token.unwrap().0,
        "b"
    );
    assert!(
        config("start", &[("GH_TOKEN", " ")])
            .unwrap()
            .github_token
            .is_none()
    );
}

#[test]
fn account_types_enterprise_and_overrides() {
    let c = config("start -a business", &[]).unwrap();
    assert_eq!(
        c.endpoints.copilot_fallback,
        "https://api.business.githubcopilot.com"
    );
    let c = config("start --enterprise-url https://acme.ghe.com/", &[]).unwrap();
    assert_eq!(c.endpoints.github_web, "https://acme.ghe.com");
    assert_eq!(c.endpoints.github_api, "https://api.acme.ghe.com");
    assert_eq!(
        c.endpoints.copilot_fallback,
        "https://copilot-api.acme.ghe.com"
    );
    let c = config(
        "start",
        &[
            ("COPILOT_API_BASE_URL", "http://127.0.0.1:9/"),
            ("GITHUB_API_URL", "http://127.0.0.1:9"),
        ],
    )
    .unwrap();
    assert_eq!(
        c.endpoints.copilot_override.as_deref(),
        Some("http://127.0.0.1:9")
    );
    assert_eq!(c.endpoints.github_api, "http://127.0.0.1:9");
    assert!(config("start", &[("GITHUB_URL", "ftp://x")]).is_err());
    let c = config(
        "start --editor-version vscode/9",
        &[("COPILOT_USER_AGENT", "UA/1")],
    )
    .unwrap();
    assert_eq!(
        (
            c.versions.editor_version.as_str(),
            c.versions.user_agent.as_str()
        ),
        ("vscode/9", "UA/1")
    );
}

#[test]
fn traffic_flags_and_their_defaults() {
    let t = config("start", &[]).unwrap().traffic;
    assert_eq!(t.interval, None);
    assert!(t.burst.is_none() && t.manual.is_none() && !t.no_auto_switch);
    assert_eq!(t.max_wait, Duration::from_secs(300));
    let line = "start --rate-limit 1.5 --wait --burst-count 3 --burst-window 2 \
                --min-spacing 100 --burst-scope model --max-wait 9 --no-auto-switch";
    let t = config(line, &[]).unwrap().traffic;
    assert_eq!(t.interval, Some(Duration::from_millis(1500)));
    assert!(t.wait && t.burst_per_model && t.no_auto_switch);
    let b = t.burst.unwrap();
    assert_eq!(
        (b.count, b.window, b.spacing),
        (3, Duration::from_secs(2), Duration::from_millis(100))
    );
    assert_eq!(t.max_wait, Duration::from_secs(9));
    for bad in [
        "start --wait",
        "start --rate-limit 0",
        "start --burst-window 2",
        "start --burst-count 0 --burst-window 2",
        "start --burst-count 2 --burst-window 2 --burst-scope user",
    ] {
        assert!(config(bad, &[]).is_err(), "{bad}");
    }
}

#[test]
fn trimming_env() {
    let env = |on: &'static str| {
        move |k: &str| (k == "IMAGE_CONTEXT_TRIMMING_ENABLED").then(|| on.to_string())
    };
    assert_eq!(trimming_from_env(&env(" Yes ")), Some(6));
    assert_eq!(trimming_from_env(&env("0")), None);
}
