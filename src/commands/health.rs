//! `copilot-api health [--url URL]`: the container health check (a `FROM scratch` image has
//! no curl). Exit 0 when `GET /readyz` answers 200, else 1 with one line on stderr.
//!
//! The default URL is this machine's proxy as the environment configures it, so the same
//! `COPILOT_API_PORT` / `TLS_CERT` that start the server point the probe at it. The probe of
//! one's own loopback listener skips certificate checks: it sends nothing secret, and the
//! certificate is for the public name, not for 127.0.0.1.

use std::process::ExitCode;
use std::time::Duration;

/// A probe that hangs is a failed probe; container runtimes kill it after their own timeout.
const TIMEOUT: Duration = Duration::from_secs(5);

pub fn run(url: Option<&str>) -> ExitCode {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let base = match url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => default_base(&env),
    };
    match probe(&format!("{base}/readyz")) {
        Ok(200) => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("copilot-api health: {base}/readyz answered {status}, not ready");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("copilot-api health: {base}/readyz: {e}");
            ExitCode::from(1)
        }
    }
}

/// `http(s)://HOST:PORT` of the local proxy: https when TLS is configured, the configured
/// host unless it is a wildcard address, port `COPILOT_API_PORT` or 4141.
fn default_base(env: &dyn Fn(&str) -> Option<String>) -> String {
    let tls = env("TLS_CERT")
        .or_else(|| env("COPILOT_API_TLS_CERT"))
        .is_some();
    let host = match env("COPILOT_API_HOST").as_deref().map(str::trim) {
        None | Some("0.0.0.0") | Some("::") | Some("[::]") | Some("localhost") => {
            "127.0.0.1".to_string()
        }
        Some(h) if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
        Some(h) => h.to_string(),
    };
    let port = env("COPILOT_API_PORT").unwrap_or_else(|| "4141".into());
    format!(
        "{}://{host}:{}",
        if tls { "https" } else { "http" },
        port.trim()
    )
}

fn probe(url: &str) -> Result<u16, String> {
    let loopback = ["://127.", "://[::1]", "://localhost"]
        .iter()
        .any(|p| url.contains(p));
    let tls = ureq::tls::TlsConfig::builder()
        .disable_verification(loopback)
        .build();
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .tls_config(tls)
        .timeout_global(Some(TIMEOUT))
        .build()
        .new_agent();
    agent
        .get(url)
        .call()
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_url_follows_the_servers_variables() {
        let none = |_: &str| None;
        assert_eq!(default_base(&none), "http://127.0.0.1:4141");
        let set = |k: &str| match k {
            "COPILOT_API_PORT" => Some("8443".to_string()),
            "COPILOT_API_HOST" => Some("0.0.0.0".to_string()),
            "TLS_CERT" => Some("/c.pem".to_string()),
            _ => None,
        };
        assert_eq!(default_base(&set), "https://127.0.0.1:8443");
        let v6 = |k: &str| (k == "COPILOT_API_HOST").then(|| "::1".to_string());
        assert_eq!(default_base(&v6), "http://[::1]:4141");
    }
}
