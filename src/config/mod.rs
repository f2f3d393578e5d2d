//! Command-line parsing, stage two: `RawArgs` plus the environment become a validated
//! `Config`. Every default lives in this folder; nothing below it reads the environment
//! except the upstream client's proxy lookup. This file holds the server's own settings
//! and `from_raw`, which calls the others in flag order: `setup.rs` (the `setup` command and
//! `--shell`), `upstream.rs` (GitHub/Copilot endpoints and version headers), `traffic.rs`,
//! `web_search.rs`, and `values.rs` (the count and seconds parsers they share).

mod setup;
mod traffic;
mod upstream;
mod values;
pub mod web_search;

use crate::cli::{CommandName, RawArgs, UsageError};
pub use setup::{SetupArgs, SetupTarget};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;
pub use upstream::{Endpoints, GITHUB_API_VERSION, Versions};
use values::{positive, seconds};

#[derive(Debug, Clone)]
pub struct Config {
    pub command: CommandName,
    pub port: u16,
    pub host: IpAddr,
    pub verbose: bool,
    pub show_token: bool,
    pub json: bool,
    /// `debug --models`: fetch the catalog and print the routing decisions.
    pub debug_models: bool,
    /// A token given on the command line or in the environment, and where it came from.
    pub github_token: Option<(String, &'static str)>,
    pub api_keys: Vec<String>,
    pub no_auth: bool,
    pub cors_origins: Vec<String>,
    pub max_body_bytes: usize,
    pub max_inflight: usize,
    /// `--max-connections`, `--header-timeout`, `--idle-timeout`: the listener's bounds.
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub expose_token: bool,
    pub no_native_messages: bool,
    /// `IMAGE_CONTEXT_TRIMMING_*`: trim answered images this many messages back.
    pub image_trimming: Option<usize>,
    /// The previous_response_id store: how many responses, for how long.
    pub response_store: StoreLimits,
    pub stream_timing: Timing,
    /// `--no-websocket`: the Responses WebSocket upgrade is answered 426.
    pub no_websocket: bool,
    /// `--websocket-max-age`: a Responses WebSocket lives at most this long (60 minutes,
    /// as OpenAI's; then `websocket_connection_limit_reached`).
    pub websocket_max_age: Duration,
    pub endpoints: Endpoints,
    pub ca_file: Option<PathBuf>,
    pub proxy_env: bool,
    pub versions: Versions,
    pub paths: Paths,
    /// Multiplies every device-flow sleep; tests set it below 1 through COPILOT_API_POLL_SCALE.
    pub poll_scale: f64,
    /// `start -c`: run the Claude Code wizard before serving.
    pub claude_code: bool,
    /// `--shell`: the shell of the printed command (else detected).
    pub shell: Option<String>,
    /// `copilot-api setup`.
    pub setup: Option<SetupArgs>,
    /// `--web-search*` and the search providers' keys.
    pub web_search: web_search::Settings,
    /// `--log-format text|json`.
    pub log_format: crate::log::Format,
    /// `--tls-cert` / `--tls-key`, else `TLS_CERT` / `TLS_KEY`; checked by `server::tls::load`
    /// first thing at start (a misconfiguration exits 1, as the reference does).
    pub tls: (Option<Setting>, Option<Setting>),
    /// `--shutdown-grace`: how long requests in flight may finish after SIGTERM/SIGINT.
    pub shutdown_grace: Duration,
    /// Rate limits, manual approval and the context-overflow switch.
    pub traffic: crate::traffic::Settings,
}

/// A TLS setting (`server::tls` loads it) and where it came from, to name it in an
/// error: `TLS_CERT`, `--tls-cert`...
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub name: &'static str,
    pub value: String,
}

/// `--response-store-size` and `--response-store-ttl`: the translated responses kept for
/// `previous_response_id`.
#[derive(Debug, Clone, Copy)]
pub struct StoreLimits {
    /// At most this many; the oldest goes first.
    pub entries: usize,
    /// Each for at most this long.
    pub ttl: Duration,
}

/// The time limits of a stream (the relay's watchdog enforces them).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Silence toward the client after which a keepalive is sent.
    pub keepalive: Duration,
    /// Upstream silence, once it has sent a byte, that counts as a stall.
    pub stall: Duration,
    /// Upstream silence before its first byte that counts as a stall.
    pub first_byte: Duration,
}

#[derive(Debug, Clone)]
pub struct Paths {
    pub app_dir: PathBuf,
    pub token_file: PathBuf,
}

impl Config {
    /// Validates raw arguments against the environment (`env` is `std::env::var` in
    /// production, a table in tests).
    pub fn from_raw(
        mut raw: RawArgs,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, UsageError> {
        setup::check_shell(raw.shell.as_deref())?;
        let setup = setup::setup_args(&raw)?;
        let env_nonempty = |k: &str| {
            env(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let versions = upstream::versions(&mut raw, &env_nonempty);
        let traffic = traffic::settings(&raw)?;
        let port = match raw.port {
            None => 4141,
            Some(p) => p
                .parse()
                .map_err(|_| UsageError(format!("--port: `{p}` is not a port number (0-65535)")))?,
        };
        let host = match raw.host.as_deref() {
            None | Some("localhost") => IpAddr::from([127, 0, 0, 1]),
            Some(h) => h.trim_matches(['[', ']']).parse().map_err(|_| {
                UsageError(format!(
                    "--host: `{h}` is not an IP address (e.g. 127.0.0.1, 0.0.0.0, ::1)"
                ))
            })?,
        };
        let mut api_keys: Vec<String> = raw
            .api_keys
            .into_iter()
            .map(|k| k.trim().to_string())
            .collect();
        if let Some(list) = env("COPILOT_API_KEY") {
            api_keys.extend(list.split(',').map(|k| k.trim().to_string()));
        }
        api_keys.retain(|k| !k.is_empty());
        if !host.is_loopback() && api_keys.is_empty() && !raw.no_auth {
            return Err(UsageError(format!(
                "--host {host} is reachable from other machines: set --api-key (or COPILOT_API_KEY), or pass --no-auth (COPILOT_API_NO_AUTH=1) to run open"
            )));
        }
        if raw.expose_token && api_keys.is_empty() {
            return Err(UsageError(
                "--expose-token serves the Copilot token and needs --api-key (or COPILOT_API_KEY)"
                    .into(),
            ));
        }
        let max_body_mb: usize = positive(raw.max_body_mb, "--max-body-mb", 64)?;
        let max_inflight = positive(raw.max_inflight, "--max-inflight", 256)?;
        let max_connections = positive(raw.max_connections, "--max-connections", 1024)?;
        let header_timeout = seconds(raw.header_timeout, "--header-timeout", 30.0)?;
        let idle_timeout = seconds(raw.idle_timeout, "--idle-timeout", 120.0)?;
        let response_store = StoreLimits {
            entries: match raw.response_store_size {
                None => 1000,
                Some(v) => v.parse().map_err(|_| {
                    UsageError(format!(
                        "--response-store-size: `{v}` is not a whole number"
                    ))
                })?,
            },
            ttl: seconds(raw.response_store_ttl, "--response-store-ttl", 3600.0)?,
        };
        let stream_timing = Timing {
            keepalive: seconds(raw.keepalive, "--keepalive", 10.0)?,
            stall: seconds(raw.stall_timeout, "--stall-timeout", 90.0)?,
            first_byte: seconds(raw.first_byte_timeout, "--first-byte-timeout", 300.0)?,
        };
        if raw.proxy_env && raw.no_proxy_env {
            return Err(UsageError(
                "--proxy-env and --no-proxy-env contradict each other".into(),
            ));
        }
        let github_token = raw
            .github_token
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .map(|t| (t, "--github-token"))
            .or_else(|| env_nonempty("GH_TOKEN").map(|t| (t, "GH_TOKEN")))
            .or_else(|| env_nonempty("GITHUB_TOKEN").map(|t| (t, "GITHUB_TOKEN")));
        let endpoints = upstream::endpoints(raw.account_type, raw.enterprise_url, &env_nonempty)?;
        let home = env_nonempty("HOME")
            .or_else(|| env_nonempty("USERPROFILE"))
            .ok_or_else(|| UsageError("HOME is not set; cannot locate the token file".into()))?;
        let app_dir = PathBuf::from(home).join(".local/share/copilot-api");
        let poll_scale = match env_nonempty("COPILOT_API_POLL_SCALE") {
            None => 1.0,
            Some(s) => s
                .parse::<f64>()
                .ok()
                .filter(|f| *f > 0.0 && *f <= 1.0)
                .ok_or_else(|| {
                    UsageError(format!(
                        "COPILOT_API_POLL_SCALE: `{s}` is not a number in (0, 1]"
                    ))
                })?,
        };
        let web_search = web_search::Settings::resolve(raw.web_search, &env_nonempty)?;
        let log_format = match raw.log_format.as_deref().map(str::trim) {
            None | Some("text") => crate::log::Format::Text,
            Some("json") => crate::log::Format::Json,
            Some(other) => {
                return Err(UsageError(format!(
                    "--log-format: `{other}` is not a log format (text or json)"
                )));
            }
        };
        let tls_setting = |flag: Option<String>, flag_name: &'static str, var: &'static str| {
            let flag = flag.filter(|v| !v.trim().is_empty());
            match flag {
                Some(value) => Some(Setting {
                    name: flag_name,
                    value,
                }),
                None => env_nonempty(var).map(|value| Setting { name: var, value }),
            }
        };
        let tls = (
            tls_setting(raw.tls_cert, "--tls-cert", "TLS_CERT"),
            tls_setting(raw.tls_key, "--tls-key", "TLS_KEY"),
        );
        let shutdown_grace = seconds(raw.shutdown_grace, "--shutdown-grace", 30.0)?;
        Ok(Config {
            claude_code: raw.claude_code,
            shell: raw.shell.clone(),
            setup,
            command: raw.command.unwrap_or(CommandName::Start),
            port,
            host,
            verbose: raw.verbose,
            show_token: raw.show_token,
            json: raw.json,
            debug_models: raw.models,
            github_token,
            api_keys,
            no_auth: raw.no_auth,
            cors_origins: raw.cors_origins,
            max_body_bytes: max_body_mb.saturating_mul(1024 * 1024),
            max_inflight,
            max_connections,
            header_timeout,
            idle_timeout,
            expose_token: raw.expose_token,
            no_native_messages: raw.no_native_messages,
            image_trimming: trimming_from_env(env),
            response_store,
            stream_timing,
            no_websocket: raw.no_websocket,
            websocket_max_age: seconds(raw.websocket_max_age, "--websocket-max-age", 3600.0)?,
            endpoints,
            ca_file: raw.ca_file.map(PathBuf::from),
            proxy_env: !raw.no_proxy_env,
            versions,
            paths: Paths {
                token_file: app_dir.join("github_token"),
                app_dir,
            },
            poll_scale,
            web_search,
            log_format,
            tls,
            shutdown_grace,
            traffic,
        })
    }
}

/// `IMAGE_CONTEXT_TRIMMING_ENABLED` and `IMAGE_CONTEXT_TRIMMING_BEFORE_MESSAGES` (default 6).
fn trimming_from_env(env: &dyn Fn(&str) -> Option<String>) -> Option<usize> {
    let on = env("IMAGE_CONTEXT_TRIMMING_ENABLED").is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    });
    let before = env("IMAGE_CONTEXT_TRIMMING_BEFORE_MESSAGES")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(6);
    on.then_some(before)
}

#[cfg(test)]
mod tests;
