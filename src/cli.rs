//! Command-line parsing, stage one: pico-args turns argv into a `RawArgs` of strings, and
//! leftovers (unknown flags, stray words) are rejected. `config/` is stage two.

use pico_args::Arguments;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub const MAIN_HELP: &str = "\
copilot-api: GitHub Copilot as OpenAI- and Anthropic-compatible HTTP endpoints

Usage: copilot-api <COMMAND> [FLAGS]

Commands:
  start         Log in if needed and serve the API (default port 4141, 127.0.0.1)
  auth          Log in to GitHub with the device flow and store the token
  check-usage   Print the Copilot plan, quotas and usage limits
  debug         Print version, paths, endpoints and network settings (--json for JSON)
  setup         Print or write the settings of Claude Code, Codex or opencode for this proxy
  health        Exit 0 if a running proxy is ready (GET /readyz answers 200), else 1
  completions   Print a shell completion script: completions bash|zsh|fish

Flags:
  -h, --help    Print help (also after a command: `copilot-api start --help`)
  --version     Print the version

Run `copilot-api <COMMAND> --help` for the flags of each command.
";

const NETWORK_FLAGS: &str = "\
Upstream and network:
  -a, --account-type TYPE     individual (default), business or enterprise
      --enterprise-url DOMAIN GitHub Enterprise Cloud with data residency (e.g. acme.ghe.com)
      --ca-file PATH          Extra PEM roots to trust (also SSL_CERT_FILE), e.g. a corporate proxy CA
      --no-proxy-env          Ignore HTTPS_PROXY/HTTP_PROXY/ALL_PROXY/NO_PROXY (honoured by default)
      --proxy-env             Honour the proxy variables (the default; kept for compatibility)
      --editor-version V      editor-version header (env COPILOT_EDITOR_VERSION)
      --editor-plugin-version V  editor-plugin-version header (env COPILOT_EDITOR_PLUGIN_VERSION)
      --user-agent V          user-agent header (env COPILOT_USER_AGENT)
      --github-api-version V  x-github-api-version header on Copilot calls (env COPILOT_GITHUB_API_VERSION)
      --integration-id V      copilot-integration-id header (env COPILOT_INTEGRATION_ID)
  -v, --verbose               Log more detail (secrets stay redacted)

Configuration:
      --env-file PATH         Read KEY=VALUE lines from PATH instead of ./.env (variables already
                              set win); every start flag is also COPILOT_API_<FLAG>
      --no-env-file           Do not read ./.env
      --log-format text|json  Log lines as text (default) or one JSON object per line
";

pub fn start_help() -> String {
    format!(
        "\
Usage: copilot-api start [FLAGS]

Serve the API. Logs in first if no GitHub token is found (GH_TOKEN, GITHUB_TOKEN, the token file).

Server:
  -p, --port PORT             Port to listen on (default 4141; 0 picks a free port)
      --host ADDR             Address to bind (default 127.0.0.1). A non-loopback address needs
                              an API key, or --no-auth
      --api-key KEY           Require this key (Authorization: Bearer KEY or x-api-key: KEY);
                              repeatable; also COPILOT_API_KEY=K1,K2
      --no-auth               Allow a non-loopback --host without an API key (prints a warning)
      --cors-origin ORIGIN    Allow browser requests from ORIGIN (repeatable; off by default)
      --max-body-mb N         Largest request body in MiB (default 64)
      --max-inflight N        Requests served at once; above it 503 + Retry-After (default 256)
      --max-connections N     Open client connections; the excess is refused at once (default 1024)
      --header-timeout SECS   Close a connection whose request head is not complete in time (default 30)
      --idle-timeout SECS     Close a keep-alive connection idle this long between requests (default 120)
      --expose-token          Serve GET /token (the Copilot token); needs an API key
      --tls-cert PATH         Serve HTTPS with this certificate chain (a PEM file, or the PEM text
                              itself); also TLS_CERT. Needs --tls-key
      --tls-key PATH          The certificate's private key, PKCS#8, PKCS#1 or SEC1 PEM (file
                              or text); also TLS_KEY

Routing:
      --no-native-messages    Translate /v1/messages for Claude models through /chat/completions
                              instead of Copilot's native /v1/messages (for plans without it)
      --response-store-size N Translated responses kept for previous_response_id (default 1000)
      --response-store-ttl SECS  ...and for how long (default 3600)

Web search (Anthropic's server web_search tool, served by the proxy):
      --web-search MODE       auto (default: Tavily if TAVILY_API_KEY is set, else Brave if
                              BRAVE_API_KEY is set, else Copilot's own search), tavily, brave,
                              copilot or off. Each search costs extra upstream calls
      --web-search-model ID   Model for Copilot's own search (default: the cheapest model
                              served on /responses)
      --web-search-custom-tools  Also serve client tools named web_search, google_search, ...
                              (after a classification call); off by default
      --web-search-timeout SECS  Tavily/Brave answer time limit (default 5)

Streams:
      --keepalive SECS        Send a keepalive to the client after this much silence (default 10)
      --stall-timeout SECS    End a stream whose upstream goes silent this long (default 90)
      --first-byte-timeout SECS  ...or sends nothing at all for this long (default 300)
      --shutdown-grace SECS   On SIGTERM/SIGINT, let requests and streams in flight finish for
                              this long, then end streams with their error event (default 30)

Codex:
      --no-websocket          Answer Codex's Responses WebSocket (GET /v1/responses) with 426, so
                              it falls back to HTTP at once
      --websocket-max-age SECS  Longest life of a Responses WebSocket (default 3600)
Traffic control (limits are per instance; they count client completion requests only):
      --rate-limit SECS       Admit at most one request per SECS seconds (decimals allowed);
                              a request that comes too early gets 429 + Retry-After
      --wait                  With --rate-limit: queue early requests (first in, first out)
                              instead of answering 429
      --burst-count N         At most N requests in any sliding --burst-window (queued FIFO)
      --burst-window SECS     The burst window's length in seconds (with --burst-count)
      --min-spacing MS        With a burst window: at least MS milliseconds between requests
      --burst-scope SCOPE     global (default): one window; model: one per resolved model
      --max-wait SECS         Longest a request may queue; a longer wait is refused at once
                              with 429 + Retry-After (default 300)
      --manual                Approve each request on the terminal (y/Enter, n, a = all);
                              needs an interactive terminal
      --manual-timeout SECS   No answer in this long rejects the request with 403 (default 300)
      --no-auto-switch        Never switch a prompt too large for its model to a larger model

Login:
  -g, --github-token TOKEN    GitHub token to use (prefer the GH_TOKEN variable: argv is visible)
      --show-token            Print the GitHub and Copilot tokens when obtained (off by default)

Clients:
  -c, --claude-code           Before serving, pick Claude Code's models in a terminal menu and
                              print (and copy) the command that starts Claude Code on this proxy
      --shell SHELL           Shell of that command: bash, zsh, fish, powershell or cmd
                              (default: detected)

{NETWORK_FLAGS}"
    )
}

pub fn auth_help() -> String {
    format!(
        "\
Usage: copilot-api auth [FLAGS]

Log in to GitHub with the device flow (always, even if a token is stored) and write the token to
~/.local/share/copilot-api/github_token (mode 0600).

      --show-token            Print the GitHub token once obtained

{NETWORK_FLAGS}"
    )
}

pub fn check_usage_help() -> String {
    format!(
        "\
Usage: copilot-api check-usage [FLAGS]

Print the Copilot plan, the quota reset date, each quota as used / entitlement with a bar,
and the session and weekly usage limits when Copilot reports them.

  -g, --github-token TOKEN    GitHub token to use (else GH_TOKEN, GITHUB_TOKEN, the token file)

{NETWORK_FLAGS}"
    )
}

pub fn debug_help() -> String {
    format!(
        "\
Usage: copilot-api debug [--json] [FLAGS]

Print version, paths, whether a token is present, resolved base URLs, proxy and trust
settings. Never prints a secret. Makes no network call unless --models is given.

      --json                  Print JSON instead of text
      --models                Also log in, fetch the model catalog and print, for each model,
                              where each inbound API is routed (this makes network calls)
  -g, --github-token TOKEN    GitHub token for --models (else GH_TOKEN, GITHUB_TOKEN, the file)

{NETWORK_FLAGS}"
    )
}

pub const SETUP_HELP: &str = "\
Usage: copilot-api setup claude-code|codex|opencode [FLAGS]

Read the model list from a running proxy and print the client's settings for it: what a
program reads goes to stdout, messages to stderr. With --write, merge them into the
client's config file, keeping its other settings.

  claude-code   The command that starts Claude Code on the proxy (for --shell);
                --write merges its `env` block into ./.claude/settings.json
  codex         The ~/.codex/config.toml provider block (wire_api = \"responses\");
                --write merges it into $CODEX_HOME/config.toml (default ~/.codex)
  opencode      The provider entry of opencode's config; --write merges it into
                $XDG_CONFIG_HOME/opencode/opencode.json (default ~/.config/opencode)

      --url URL               The proxy (default http://127.0.0.1:4141)
      --api-key KEY           The proxy's API key, if it has one (also COPILOT_API_KEY)
      --model ID              The model (default: the best Claude model for claude-code, the
                              best Codex model for codex, else the catalog's first)
      --small-model ID        claude-code: the small/fast model (default: the cheapest)
      --shell SHELL           claude-code: bash, zsh, fish, powershell or cmd (default: detected)
      --write                 Write the settings into the client's config file
";

pub fn health_help() -> String {
    "\
Usage: copilot-api health [--url URL]

Exit 0 if GET URL/readyz answers 200, else 1 (one line on stderr says why). No output on
success. For container health checks, where no curl exists. The default URL is this machine's
proxy: https when TLS_CERT (or COPILOT_API_TLS_CERT) is set, port COPILOT_API_PORT or 4141.

      --url URL               Base URL of the proxy (e.g. http://127.0.0.1:4141)
"
    .to_string()
}

pub fn completions_help() -> String {
    "\
Usage: copilot-api completions bash|zsh|fish

Print a completion script for every command and flag. For example:
  bash: copilot-api completions bash > ~/.local/share/bash-completion/completions/copilot-api
  zsh:  copilot-api completions zsh > ~/.zfunc/_copilot-api   (with ~/.zfunc in fpath)
  fish: copilot-api completions fish > ~/.config/fish/completions/copilot-api.fish
"
    .to_string()
}

/// The help text of each command, by name, in `MAIN_HELP` order; `None` for a word that is
/// not a command. Completions and the `COPILOT_API_<FLAG>` variables are generated from these.
pub fn help_for(command: &str) -> Option<String> {
    Some(match command {
        "start" => start_help(),
        "auth" => auth_help(),
        "check-usage" => check_usage_help(),
        "debug" => debug_help(),
        "health" => health_help(),
        "completions" => completions_help(),
        "setup" => SETUP_HELP.to_string(),
        _ => return None,
    })
}

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
