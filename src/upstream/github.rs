//! GitHub login: where the GitHub token comes from (flag, environment, token file), the
//! OAuth device flow (RFC 8628) that obtains one, and the token file that keeps it.

use crate::config::{Config, Paths};
use crate::upstream::client::Http;
use crate::upstream::headers;
use crate::{info, warn};
use serde_json::{Value, json};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// The GitHub Copilot editor OAuth app every Copilot client uses.
const CLIENT_ID: &str = "Iv1.b507a08c87ecfe98";

/// Where a GitHub token came from: a command-line flag or variable name, or the token file.
pub type Source = &'static str;
pub const FROM_FILE: Source = "token file";

/// The token to use, in order: `--github-token`, `GH_TOKEN`, `GITHUB_TOKEN`, the token file.
pub fn stored_token(config: &Config) -> Option<(String, Source)> {
    if let Some((t, source)) = &config.github_token {
        return Some((t.clone(), source));
    }
    read_token_file(&config.paths).map(|t| (t, FROM_FILE))
}

fn read_token_file(paths: &Paths) -> Option<String> {
    let text = std::fs::read_to_string(&paths.token_file).ok()?;
    let token = text.trim();
    if token.is_empty() {
        return None;
    }
    tighten(&paths.app_dir, 0o700);
    tighten(&paths.token_file, 0o600);
    Some(token.to_string())
}

/// Writes the token atomically (temporary file, fsync, rename) with mode 0600 in a 0700
/// directory, so no other user can read it at any moment.
pub fn write_token_file(paths: &Paths, token: &str) -> std::io::Result<()> {
    create_private_dir(&paths.app_dir)?;
    let tmp = paths
        .app_dir
        .join(format!(".github_token.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(token.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &paths.token_file)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    tighten(&paths.token_file, 0o600);
    Ok(())
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    tighten(dir, 0o700);
    Ok(())
}

/// Removes group and other permissions beyond `mode`, with a warning, if they are present.
#[cfg(unix)]
fn tighten(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let current = meta.permissions().mode() & 0o777;
    if current & !mode != 0 {
        warn!(
            "{} had mode {current:o}; setting it to {mode:o} so only you can read it",
            path.display()
        );
        if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
            warn!("could not change the mode of {}: {e}", path.display());
        }
    }
}

#[cfg(not(unix))]
fn tighten(_: &Path, _: u32) {}

/// Why a login did not produce a token. Each message tells the user what to do next.
#[derive(Debug)]
pub struct LoginError(pub String);

impl std::fmt::Display for LoginError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The OAuth device flow: ask for a code, show it, poll until the user authorizes it,
/// the code expires, or the user denies it.
pub fn device_flow(http: &Http, config: &Config) -> Result<String, LoginError> {
    let web = &config.endpoints.github_web;
    let body = json!({"client_id": CLIENT_ID, "scope": "read:user"}).to_string();
    let code = post_json(http, &format!("{web}/login/device/code"), &body)
        .map_err(|e| LoginError(format!("could not start the GitHub login: {e}")))?;
    let field = |k: &str| {
        code.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (device_code, user_code, uri) = (
        field("device_code"),
        field("user_code"),
        field("verification_uri"),
    );
    if device_code.is_empty() || user_code.is_empty() {
        return Err(LoginError(format!("GitHub sent no device code: {code}")));
    }
    let expires_in = code
        .get("expires_in")
        .and_then(Value::as_u64)
        .unwrap_or(900);
    let mut interval = code
        .get("interval")
        .and_then(Value::as_u64)
        .unwrap_or(5)
        .max(1);
    info!("to log in, open {uri} and enter the code {user_code}");
    let scale = config.poll_scale;
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(expires_in as f64 * scale);
    let countdown = std::io::stderr().is_terminal();
    let poll_body = json!({
        "client_id": CLIENT_ID,
        "device_code": device_code,
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
    })
    .to_string();
    loop {
        wait(
            Duration::from_secs_f64(interval as f64 * scale),
            deadline,
            countdown,
        );
        if Instant::now() >= deadline {
            return Err(LoginError(
                "the login code expired before it was authorized; run `copilot-api auth` to try again".into(),
            ));
        }
        let answer = match post_json(http, &format!("{web}/login/oauth/access_token"), &poll_body) {
            Ok(v) => v,
            Err(e) => {
                warn!("polling GitHub for the login failed ({e}); trying again");
                continue;
            }
        };
        if let Some(token) = answer.get("access_token").and_then(Value::as_str) {
            if countdown {
                eprintln!();
            }
            return Ok(token.to_string());
        }
        match answer.get("error").and_then(Value::as_str).unwrap_or("") {
            "authorization_pending" => {}
            "slow_down" => {
                let asked = answer.get("interval").and_then(Value::as_u64).unwrap_or(0);
                interval = (interval + 5).max(asked);
            }
            "expired_token" => {
                return Err(LoginError(
                    "the login code expired before it was authorized; run `copilot-api auth` to try again".into(),
                ));
            }
            "access_denied" => {
                return Err(LoginError(
                    "the login was denied on GitHub; run `copilot-api auth` to try again".into(),
                ));
            }
            other => {
                let detail = answer
                    .get("error_description")
                    .and_then(Value::as_str)
                    .unwrap_or(other);
                return Err(LoginError(format!("GitHub refused the login: {detail}")));
            }
        }
    }
}

/// Sleeps until the next poll; on a terminal, shows the time left to enter the code.
fn wait(pause: Duration, deadline: Instant, countdown: bool) {
    let until = Instant::now() + pause;
    while Instant::now() < until {
        if countdown {
            let left = deadline.saturating_duration_since(Instant::now()).as_secs();
            eprint!(
                "\r  waiting for authorization, {}:{:02} left ",
                left / 60,
                left % 60
            );
            let _ = std::io::stderr().flush();
        }
        std::thread::sleep(
            until
                .saturating_duration_since(Instant::now())
                .min(Duration::from_secs(1)),
        );
    }
}

fn post_json(http: &Http, url: &str, body: &str) -> Result<Value, String> {
    let reply = http
        .call("POST", url, &headers::oauth(), Some(body.as_bytes()))
        .map_err(|e| e.0)?;
    if !(200..300).contains(&reply.status) {
        return Err(format!(
            "HTTP {}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.body).trim()
        ));
    }
    serde_json::from_slice(&reply.body).map_err(|_| {
        format!(
            "GitHub answered with something other than JSON: {}",
            String::from_utf8_lossy(&reply.body).trim()
        )
    })
}

/// `GET /user`: the login name, to show who is logged in.
pub fn user_login(http: &Http, config: &Config, github_token: &str) -> Result<String, String> {
    let url = format!("{}/user", config.endpoints.github_api);
    let headers = vec![
        ("authorization", format!("token {github_token}")),
        ("accept", "application/json".to_string()),
    ];
    let reply = http.call("GET", &url, &headers, None).map_err(|e| e.0)?;
    if reply.status == 401 || reply.status == 403 {
        return Err("GitHub rejected the token; run `copilot-api auth` to log in again".into());
    }
    let v: Value = serde_json::from_slice(&reply.body)
        .map_err(|_| format!("GitHub /user answered HTTP {}", reply.status))?;
    v.get("login")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("GitHub /user answered HTTP {}", reply.status))
}

/// Logs in with the device flow and stores the token; used by `auth` and by `start` on a
/// terminal when no usable token exists.
pub fn login_and_store(http: &Http, config: &Config) -> Result<String, LoginError> {
    let token = device_flow(http, config)?;
    if config.show_token {
        info!("GitHub token: {token}");
    }
    write_token_file(&config.paths, &token).map_err(|e| {
        LoginError(format!(
            "could not write {}: {e}",
            config.paths.token_file.display()
        ))
    })?;
    info!(
        "GitHub token written to {}",
        config.paths.token_file.display()
    );
    Ok(token)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn token_file_is_private_and_trimmed_on_read() {
        let dir =
            std::env::temp_dir().join(format!("copilot-api-test-{}", crate::ids::random_u64()));
        let paths = Paths {
            app_dir: dir.join("app"),
            token_file: dir.join("app/github_token"),
        };
        std::fs::create_dir_all(&paths.app_dir).unwrap();
        std::fs::set_permissions(&paths.app_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        write_token_file(&paths, "gho_x\n").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&paths.app_dir), 0o700);
        assert_eq!(mode(&paths.token_file), 0o600);
        assert_eq!(read_token_file(&paths).as_deref(), Some("gho_x"));
        std::fs::set_permissions(&paths.token_file, std::fs::Permissions::from_mode(0o644))
            .unwrap();
        read_token_file(&paths);
        assert_eq!(mode(&paths.token_file), 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
