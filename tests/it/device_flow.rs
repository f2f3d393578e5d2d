//! `copilot-api auth`: the RFC 8628 device flow against the fake github.com, the token
//! file it writes, and how `start` finds a stored token.

use crate::gaps;
use crate::support::*;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every device-flow sleep is multiplied by this, so an interval of 1 s lasts 50 ms.
const POLL_SCALE: &str = "0.05";
const CLIENT_ID: &str = "Iv1.b507a08c87ecfe98";

fn token_dir(home: &Path) -> PathBuf {
    home.join(".local/share/copilot-api")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn auth(fake: &Fake, home: &Path) -> (i32, String, String) {
    let mut env = upstream_env(fake);
    env.push(("COPILOT_API_POLL_SCALE", POLL_SCALE));
    run_cli(&["auth"], &env, home)
}

#[test]
fn device_flow_honours_interval_and_slow_down_then_stores_token() {
    let fake = Fake::start();
    fake.set_device_script(
        vec![
            PollStep::Pending,
            PollStep::SlowDown,
            PollStep::Pending,
            PollStep::Success,
        ],
        1,
        900,
    );
    let home = TempDir::new();
    let (code, _out, err) = auth(&fake, home.path());
    assert_eq!(code, 0, "stderr: {err}");

    assert!(err.contains("ABCD-1234"), "user code shown: {err}");
    let verification = format!("{}/login/device", fake.url);
    assert!(err.contains(&verification), "verification URL shown: {err}");
    assert!(err.contains("Logged in as octocat"), "{err}");
    assert!(!err.contains(GITHUB_TOKEN), "token leaked to stderr: {err}");

    let code_rq = fake.requests_to("/login/device/code");
    assert_eq!(code_rq.len(), 1);
    assert_eq!(code_rq[0].method, "POST");
    assert_eq!(code_rq[0].json()["client_id"], CLIENT_ID);

    let polls = fake.requests_to("/login/oauth/access_token");
    assert_eq!(polls.len(), 4, "pending, slow_down, pending, success");
    for poll in &polls {
        let body = poll.json();
        assert_eq!(body["client_id"], CLIENT_ID, "{body}");
        assert_eq!(body["device_code"], "dc-1", "{body}");
        assert_eq!(poll.query, "", "parameters belong in the JSON body");
        assert_eq!(
            body["grant_type"],
            json!("urn:ietf:params:oauth:grant-type:device_code")
        );
    }
    // interval 1 s and then 6 s after slow_down, both scaled by 0.05; 10 ms slack for
    // the request's own latency.
    let gaps = gaps(&polls);
    let slack = Duration::from_millis(10);
    assert!(gaps[0] + slack >= Duration::from_millis(50), "{gaps:?}");
    assert!(
        gaps[1] + slack >= Duration::from_millis(300),
        "slow_down: {gaps:?}"
    );
    assert!(
        gaps[2] + slack >= Duration::from_millis(300),
        "stays slow: {gaps:?}"
    );
    assert!(gaps[1] > gaps[0], "slow_down lengthens the gap: {gaps:?}");

    let users = fake.requests_to("/user");
    assert_eq!(users.len(), 1, "the new token is checked with GET /user");
    let want_auth = format!("token {GITHUB_TOKEN}");
    assert_eq!(users[0].header("authorization"), Some(want_auth.as_str()));

    let dir = token_dir(home.path());
    let file = dir.join("github_token");
    let content = std::fs::read_to_string(&file).expect("token file written");
    assert_eq!(content.trim_end(), GITHUB_TOKEN);
    assert_eq!(mode(&file), 0o600, "token file mode");
    assert_eq!(mode(&dir), 0o700, "token dir mode");
}

#[test]
fn device_flow_expired_token_exits_1() {
    let fake = Fake::start();
    fake.set_device_script(vec![PollStep::Pending, PollStep::Expired], 1, 900);
    let home = TempDir::new();
    let (code, _out, err) = auth(&fake, home.path());
    assert_eq!(code, 1, "stderr: {err}");
    assert!(err.to_lowercase().contains("expired"), "{err}");
    assert_eq!(fake.requests_to("/login/oauth/access_token").len(), 2);
    assert!(!token_dir(home.path()).join("github_token").exists());
}

#[test]
fn device_flow_access_denied_exits_1() {
    let fake = Fake::start();
    fake.set_device_script(vec![PollStep::Denied], 1, 900);
    let home = TempDir::new();
    let (code, _out, err) = auth(&fake, home.path());
    assert_eq!(code, 1, "stderr: {err}");
    assert!(err.to_lowercase().contains("denied"), "{err}");
    assert_eq!(fake.requests_to("/login/oauth/access_token").len(), 1);
    assert!(!token_dir(home.path()).join("github_token").exists());
}

#[test]
fn broad_token_dir_mode_is_tightened_with_a_warning() {
    let fake = Fake::start();
    let home = TempDir::new();
    let dir = token_dir(home.path());
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();

    let (code, _out, err) = auth(&fake, home.path());
    assert_eq!(code, 0, "stderr: {err}");
    assert!(
        err.lines().any(|l| l.contains("WARN")),
        "a WARN line about the mode: {err}"
    );
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("github_token")), 0o600);
}

#[test]
fn start_uses_stored_token_file_without_env_token() {
    let fake = Fake::start();
    let home = TempDir::new();
    let dir = token_dir(home.path());
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let file = dir.join("github_token");
    // A trailing newline, as an editor leaves it: must be trimmed.
    std::fs::write(&file, format!("{GITHUB_TOKEN}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();

    let proxy = Proxy::start_in(home, &fake, &[], &[("GH_TOKEN", "")]);
    let exchanged = wait_until(Duration::from_secs(5), || {
        !fake.requests_to("/copilot_internal/v2/token").is_empty()
    });
    assert!(exchanged, "{:?}", proxy.output());
    let exchanges = fake.requests_to("/copilot_internal/v2/token");
    let want_auth = format!("token {GITHUB_TOKEN}");
    assert_eq!(
        exchanges[0].header("authorization"),
        Some(want_auth.as_str())
    );
    assert!(
        fake.requests_to("/login/device/code").is_empty(),
        "no device flow with a stored token"
    );
    let resp = get(&proxy.at("/v1/models"), &[]);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let stored = token_dir(proxy.home.path()).join("github_token");
    assert_eq!(
        std::fs::read_to_string(stored).unwrap(),
        format!("{GITHUB_TOKEN}\n"),
        "start leaves the stored token alone"
    );
}

#[test]
fn start_without_any_token_and_no_terminal_exits_1() {
    let fake = Fake::start();
    let home = TempDir::new();
    let mut env = upstream_env(&fake);
    env.push(("COPILOT_API_POLL_SCALE", POLL_SCALE));
    let (code, _out, err) = run_cli(&["start", "--port", "0"], &env, home.path());
    assert_eq!(code, 1, "stderr: {err}");
    assert!(err.contains("copilot-api auth"), "{err}");
    assert!(
        fake.requests_to("/login/device/code").is_empty(),
        "no device flow without a terminal"
    );
}
