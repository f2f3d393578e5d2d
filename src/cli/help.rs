//! The help texts: the overview, one page per command, and the network flags every
//! command but `health` and `completions` shares. Apart from the parser because they are
//! data, not logic: `flags.rs` parses them into the flag table behind the shell completions
//! and the `COPILOT_API_<FLAG>` variables, so each flag is written once, here.

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
