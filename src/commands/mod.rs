//! One module per subcommand. Each `run` returns `Err(message)` for a runtime failure
//! (exit code 1); the message says what to do about it.

pub mod auth;
pub mod banner;
pub mod completions;
pub mod debug;
pub mod health;
pub mod setup;
pub mod start;
pub mod usage;

use crate::config::Config;
use crate::upstream::client::Http;
use crate::upstream::github::{self, Source};
use std::io::IsTerminal;

/// A GitHub token: stored or given, or, on a terminal, from the device flow.
pub fn github_token(http: &Http, config: &Config) -> Result<(String, Source), String> {
    if let Some(found) = github::stored_token(config) {
        return Ok(found);
    }
    if !interactive() {
        return Err(format!(
            "no GitHub token: run `copilot-api auth` on a terminal, or set GH_TOKEN (looked in {})",
            config.paths.token_file.display()
        ));
    }
    crate::info!("not logged in to GitHub yet");
    let token = github::login_and_store(http, config).map_err(|e| e.0)?;
    Ok((token, github::FROM_FILE))
}

/// Whether a person can answer the device flow: both stdin and stderr are terminals.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}
