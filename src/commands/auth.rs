//! `copilot-api auth`: always run the device flow, store the token, say who logged in.

use crate::config::Config;
use crate::upstream::client::Http;
use crate::upstream::github;

pub fn run(config: &Config) -> Result<(), String> {
    let http = Http::new(config)?;
    let token = github::login_and_store(&http, config).map_err(|e| e.0)?;
    match github::user_login(&http, config, &token) {
        Ok(login) => crate::info!("Logged in as {login}"),
        Err(e) => crate::warn!("token stored, but GitHub /user failed: {e}"),
    }
    Ok(())
}
