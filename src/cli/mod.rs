//! Command-line parsing, stage one: pico-args turns argv into a `RawArgs` of strings, and
//! leftovers (unknown flags, stray words) are rejected. `config/` is stage two. The help
//! texts live in `help.rs`.

mod help;

use pico_args::Arguments;

pub use help::{MAIN_HELP, help_for, start_help};
use help::{SETUP_HELP, auth_help, check_usage_help, completions_help, debug_help, health_help};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Which command, and its flags as given (unvalidated strings).
#[derive(Debug)]
pub enum Parsed {
    Help(String),
    Version,
    Command(Box<RawArgs>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandName {
    Start,
    Auth,
    CheckUsage,
    Debug,
    Setup,
    Health,
    Completions,
}

/// Flags as strings, before validation. Flags a command does not take stay `None`/empty,
/// because the parser for that command never asked for them (so they end up as leftovers).
#[derive(Debug, Default)]
pub struct RawArgs {
    pub command: Option<CommandName>,
    pub port: Option<String>,
    pub host: Option<String>,
    pub api_keys: Vec<String>,
    pub no_auth: bool,
    pub cors_origins: Vec<String>,
    pub max_body_mb: Option<String>,
    pub max_inflight: Option<String>,
    pub max_connections: Option<String>,
    pub header_timeout: Option<String>,
    pub idle_timeout: Option<String>,
    pub expose_token: bool,
    pub no_native_messages: bool,
    pub response_store_size: Option<String>,
    pub response_store_ttl: Option<String>,
    pub keepalive: Option<String>,
    pub stall_timeout: Option<String>,
    pub first_byte_timeout: Option<String>,
    pub no_websocket: bool,
    pub websocket_max_age: Option<String>,
    pub github_token: Option<String>,
    pub show_token: bool,
    pub json: bool,
    pub models: bool,
    pub verbose: bool,
    pub account_type: Option<String>,
    pub enterprise_url: Option<String>,
    pub ca_file: Option<String>,
    pub proxy_env: bool,
    pub no_proxy_env: bool,
    pub editor_version: Option<String>,
    pub editor_plugin_version: Option<String>,
    pub user_agent: Option<String>,
    pub github_api_version: Option<String>,
    pub integration_id: Option<String>,
    /// `start -c`: the Claude Code wizard.
    pub claude_code: bool,
    /// `setup`: the client, and its flags.
    pub setup_target: Option<String>,
    pub setup_model: Option<String>,
    pub setup_small_model: Option<String>,
    pub setup_write: bool,
    pub web_search: WebSearchFlags,
    pub env_file: Option<String>,
    pub no_env_file: bool,
    pub log_format: Option<String>,
    /// `health --url` and `setup --url`.
    pub url: Option<String>,
    /// `completions SHELL`, and `--shell` of `start -c` and `setup`.
    pub shell: Option<String>,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    pub shutdown_grace: Option<String>,
    // Traffic control (validated in `config::traffic`).
    pub rate_limit: Option<String>,
    pub wait: bool,
    pub burst_count: Option<String>,
    pub burst_window: Option<String>,
    pub min_spacing: Option<String>,
    pub burst_scope: Option<String>,
    pub max_wait: Option<String>,
    pub manual: bool,
    pub manual_timeout: Option<String>,
    pub no_auto_switch: bool,
}

/// The raw `--web-search*` flag values (`config::web_search::Settings` resolves them).
#[derive(Debug, Default)]
pub struct WebSearchFlags {
    pub mode: Option<String>,
    pub model: Option<String>,
    pub custom_tools: bool,
    pub timeout: Option<String>,
}

/// A usage error: one line, exit code 2.
#[derive(Debug, PartialEq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn parse(mut args: Arguments) -> Result<Parsed, UsageError> {
    let sub = args.subcommand().map_err(pico_error)?;
    let command = match sub.as_deref() {
        None => {
            if args.contains("--version") {
                return finish(args).map(|_| Parsed::Version);
            }
            if args.contains(["-h", "--help"]) {
                return finish(args).map(|_| Parsed::Help(MAIN_HELP.to_string()));
            }
            return Err(UsageError(
                "no command given; run `copilot-api --help` (commands: start, auth, check-usage, debug, setup, health, completions)".into(),
            ));
        }
        Some("start") => CommandName::Start,
        Some("auth") => CommandName::Auth,
        Some("check-usage") => CommandName::CheckUsage,
        Some("debug") => CommandName::Debug,
        Some("setup") => CommandName::Setup,
        Some("health") => CommandName::Health,
        Some("completions") => CommandName::Completions,
        Some("help") => return Ok(Parsed::Help(MAIN_HELP.to_string())),
        Some(other) => {
            return Err(UsageError(format!(
                "unknown command `{other}`; commands are start, auth, check-usage, debug, setup, health, completions"
            )));
        }
    };
    if args.contains(["-h", "--help"]) {
        let text = match command {
            CommandName::Start => start_help(),
            CommandName::Auth => auth_help(),
            CommandName::CheckUsage => check_usage_help(),
            CommandName::Debug => debug_help(),
            CommandName::Setup => SETUP_HELP.to_string(),
            CommandName::Health => health_help(),
            CommandName::Completions => completions_help(),
        };
        return Ok(Parsed::Help(text));
    }
    let mut raw = RawArgs {
        command: Some(command),
        ..RawArgs::default()
    };
    match command {
        CommandName::Health => {
            raw.url = opt(&mut args, "--url")?;
            return finish(args).map(|_| Parsed::Command(Box::new(raw)));
        }
        CommandName::Completions => {
            raw.shell = args.opt_free_from_str().map_err(pico_error)?;
            return finish(args).map(|_| Parsed::Command(Box::new(raw)));
        }
        _ => {}
    }
    parse_network(&mut args, &mut raw)?;
    match command {
        CommandName::Start => {
            raw.port = opt(&mut args, ["-p", "--port"])?;
            raw.host = opt(&mut args, "--host")?;
            raw.api_keys = many(&mut args, "--api-key")?;
            raw.no_auth = args.contains("--no-auth");
            raw.cors_origins = many(&mut args, "--cors-origin")?;
            raw.max_body_mb = opt(&mut args, "--max-body-mb")?;
            raw.max_inflight = opt(&mut args, "--max-inflight")?;
            raw.max_connections = opt(&mut args, "--max-connections")?;
            raw.header_timeout = opt(&mut args, "--header-timeout")?;
            raw.idle_timeout = opt(&mut args, "--idle-timeout")?;
            raw.expose_token = args.contains("--expose-token");
            raw.no_native_messages = args.contains("--no-native-messages");
            raw.response_store_size = opt(&mut args, "--response-store-size")?;
            raw.response_store_ttl = opt(&mut args, "--response-store-ttl")?;
            raw.keepalive = opt(&mut args, "--keepalive")?;
            raw.stall_timeout = opt(&mut args, "--stall-timeout")?;
            raw.first_byte_timeout = opt(&mut args, "--first-byte-timeout")?;
            raw.no_websocket = args.contains("--no-websocket");
            raw.websocket_max_age = opt(&mut args, "--websocket-max-age")?;
            raw.github_token = opt(&mut args, ["-g", "--github-token"])?;
            raw.show_token = args.contains("--show-token");
            raw.web_search.mode = opt(&mut args, "--web-search")?;
            raw.web_search.model = opt(&mut args, "--web-search-model")?;
            raw.web_search.custom_tools = args.contains("--web-search-custom-tools");
            raw.web_search.timeout = opt(&mut args, "--web-search-timeout")?;
            raw.tls_cert = opt(&mut args, "--tls-cert")?;
            raw.tls_key = opt(&mut args, "--tls-key")?;
            raw.shutdown_grace = opt(&mut args, "--shutdown-grace")?;
            raw.rate_limit = opt(&mut args, "--rate-limit")?;
            raw.wait = args.contains("--wait");
            raw.burst_count = opt(&mut args, "--burst-count")?;
            raw.burst_window = opt(&mut args, "--burst-window")?;
            raw.min_spacing = opt(&mut args, "--min-spacing")?;
            raw.burst_scope = opt(&mut args, "--burst-scope")?;
            raw.max_wait = opt(&mut args, "--max-wait")?;
            raw.manual = args.contains("--manual");
            raw.manual_timeout = opt(&mut args, "--manual-timeout")?;
            raw.no_auto_switch = args.contains("--no-auto-switch");
            raw.claude_code = args.contains(["-c", "--claude-code"]);
            raw.shell = opt(&mut args, "--shell")?;
        }
        CommandName::Setup => {
            raw.url = opt(&mut args, "--url")?;
            raw.api_keys = many(&mut args, "--api-key")?;
            raw.setup_model = opt(&mut args, "--model")?;
            raw.setup_small_model = opt(&mut args, "--small-model")?;
            raw.shell = opt(&mut args, "--shell")?;
            raw.setup_write = args.contains("--write");
            raw.setup_target = args.opt_free_from_str().map_err(pico_error)?;
        }
        CommandName::Auth => raw.show_token = args.contains("--show-token"),
        CommandName::CheckUsage => raw.github_token = opt(&mut args, ["-g", "--github-token"])?,
        CommandName::Debug => {
            raw.json = args.contains("--json");
            raw.models = args.contains("--models");
            raw.github_token = opt(&mut args, ["-g", "--github-token"])?;
        }
        CommandName::Health | CommandName::Completions => {}
    }
    finish(args).map(|_| Parsed::Command(Box::new(raw)))
}

fn parse_network(args: &mut Arguments, raw: &mut RawArgs) -> Result<(), UsageError> {
    raw.verbose = args.contains(["-v", "--verbose"]);
    raw.account_type = opt(args, ["-a", "--account-type"])?;
    raw.enterprise_url = opt(args, "--enterprise-url")?;
    raw.ca_file = opt(args, "--ca-file")?;
    raw.proxy_env = args.contains("--proxy-env");
    raw.no_proxy_env = args.contains("--no-proxy-env");
    raw.editor_version = opt(args, "--editor-version")?;
    raw.editor_plugin_version = opt(args, "--editor-plugin-version")?;
    raw.user_agent = opt(args, "--user-agent")?;
    raw.github_api_version = opt(args, "--github-api-version")?;
    raw.integration_id = opt(args, "--integration-id")?;
    raw.env_file = opt(args, "--env-file")?;
    raw.no_env_file = args.contains("--no-env-file");
    raw.log_format = opt(args, "--log-format")?;
    Ok(())
}

fn opt<K: Into<pico_args::Keys>>(
    args: &mut Arguments,
    keys: K,
) -> Result<Option<String>, UsageError> {
    args.opt_value_from_str(keys).map_err(pico_error)
}

fn many<K: Into<pico_args::Keys> + Copy>(
    args: &mut Arguments,
    keys: K,
) -> Result<Vec<String>, UsageError> {
    args.values_from_str(keys).map_err(pico_error)
}

fn pico_error(e: pico_args::Error) -> UsageError {
    UsageError(e.to_string())
}

/// Anything the command did not ask for is an error, never silently ignored.
fn finish(args: Arguments) -> Result<(), UsageError> {
    let rest = args.finish();
    match rest.first() {
        None => Ok(()),
        Some(arg) => {
            let arg = arg.to_string_lossy();
            Err(UsageError(if arg.starts_with('-') {
                format!("unknown flag `{arg}`; see `--help`")
            } else {
                format!("unexpected argument `{arg}`; see `--help`")
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Parsed, UsageError> {
        parse(Arguments::from_vec(
            line.split_whitespace().map(Into::into).collect(),
        ))
    }

    fn raw(line: &str) -> RawArgs {
        match parse_str(line) {
            Ok(Parsed::Command(raw)) => *raw,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn start_flags_with_space_and_equals() {
        let r = raw("start -p 8080 --host=0.0.0.0 --api-key a --api-key=b -v --ca-file=/x.pem");
        assert_eq!(r.port.as_deref(), Some("8080"));
        assert_eq!(r.host.as_deref(), Some("0.0.0.0"));
        assert_eq!(r.api_keys, ["a", "b"]);
        assert!(r.verbose);
        assert_eq!(r.ca_file.as_deref(), Some("/x.pem"));
    }

    #[test]
    fn unknown_flags_and_words_are_errors() {
        let e = parse_str("start --bogus").unwrap_err();
        assert!(e.0.contains("--bogus"), "{e}");
        assert!(parse_str("start extra").unwrap_err().0.contains("extra"));
        // A start-only flag is unknown to another command.
        assert!(
            parse_str("debug --port 1")
                .unwrap_err()
                .0
                .contains("--port")
        );
        assert!(
            parse_str("frobnicate")
                .unwrap_err()
                .0
                .contains("frobnicate")
        );
        assert!(parse_str("").is_err());
    }

    #[test]
    fn help_and_version() {
        assert!(matches!(parse_str("--version"), Ok(Parsed::Version)));
        assert!(matches!(parse_str("--help"), Ok(Parsed::Help(h)) if h.contains("check-usage")));
        assert!(
            matches!(parse_str("start --help"), Ok(Parsed::Help(h)) if h.contains("--max-inflight"))
        );
        assert!(matches!(parse_str("debug -h"), Ok(Parsed::Help(h)) if h.contains("--json")));
    }
}
