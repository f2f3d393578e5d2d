//! `copilot-api setup <client>` and `--shell`: which client to configure, against which
//! proxy, for which shell. Apart from `mod.rs` because these flags describe a client of the
//! proxy, not the proxy itself, and are read by `commands::setup` alone.

use crate::cli::{CommandName, RawArgs, UsageError};

/// `copilot-api setup <client>`: which client and which proxy.
#[derive(Debug, Clone)]
pub struct SetupArgs {
    pub target: SetupTarget,
    /// The proxy's base URL, without a trailing `/`.
    pub url: String,
    pub model: Option<String>,
    pub small_model: Option<String>,
    pub write: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupTarget {
    ClaudeCode,
    Codex,
    OpenCode,
}

/// Shells `--shell` names.
const SHELLS: [&str; 7] = ["bash", "sh", "zsh", "fish", "powershell", "pwsh", "cmd"];

/// `--shell` (of `start -c` and `setup claude-code`), when given, names a known shell.
pub(super) fn check_shell(shell: Option<&str>) -> Result<(), UsageError> {
    if let Some(shell) = shell {
        if !SHELLS.contains(&shell.to_ascii_lowercase().as_str()) {
            return Err(UsageError(format!(
                "--shell: `{shell}` is not one of bash, zsh, fish, powershell, cmd"
            )));
        }
    }
    Ok(())
}

pub(super) fn setup_args(raw: &RawArgs) -> Result<Option<SetupArgs>, UsageError> {
    if raw.command != Some(CommandName::Setup) {
        return Ok(None);
    }
    let target = match raw.setup_target.as_deref() {
        Some("claude-code") => SetupTarget::ClaudeCode,
        Some("codex") => SetupTarget::Codex,
        Some("opencode") => SetupTarget::OpenCode,
        Some(other) => {
            return Err(UsageError(format!(
                "setup: unknown client `{other}`; use claude-code, codex or opencode"
            )));
        }
        None => {
            return Err(UsageError(
                "setup needs a client: claude-code, codex or opencode".into(),
            ));
        }
    };
    if target != SetupTarget::ClaudeCode && (raw.setup_small_model.is_some() || raw.shell.is_some())
    {
        return Err(UsageError(
            "--small-model and --shell are for `setup claude-code`".into(),
        ));
    }
    let url = raw
        .url
        .as_deref()
        .unwrap_or("http://127.0.0.1:4141")
        .trim_end_matches('/')
        .to_string();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(UsageError(format!(
            "--url: `{url}` must start with http:// or https://"
        )));
    }
    Ok(Some(SetupArgs {
        target,
        url,
        model: raw.setup_model.clone(),
        small_model: raw.setup_small_model.clone(),
        write: raw.setup_write,
    }))
}
