//! `copilot-api start`: obtain the tokens, load the catalog, listen, and keep both fresh.
//!
//! Order matters for start-up time and for honest exit codes: no network call happens
//! before the token exchange, which is the one call that decides whether we can serve at
//! all; a rejected GitHub token exits 1, anything transient only delays readiness.

use crate::app::App;
use crate::commands::{banner, github_token, interactive, setup};
use crate::config::Config;
use crate::upstream::Upstream;
use crate::upstream::client::Http;
use crate::upstream::github::{self, FROM_FILE};
use crate::upstream::token::ExchangeError;
use crate::{info, log, server, warn};
use std::sync::Arc;

pub fn run(config: Config) -> Result<(), String> {
    // Before anything else: a TLS misconfiguration must not wait for a login to surface.
    let tls = server::tls::load(config.tls.0.as_ref(), config.tls.1.as_ref())?;
    let http = Http::new(&config)?;
    log_network(&http, &config);
    let (token, source) = github_token(&http, &config)?;
    info!("using the GitHub token from {source}");
    if config.show_token && source == FROM_FILE {
        info!("GitHub token: {token}");
    }
    let mut upstream = Upstream::new(&config, http, token);
    if let Err(e) = upstream.tokens.get(&upstream.http) {
        match e {
            ExchangeError::Rejected(m) if source == FROM_FILE && interactive() => {
                warn!("{m}");
                info!("starting a new GitHub login");
                let token = github::login_and_store(&upstream.http, &config).map_err(|e| e.0)?;
                upstream = Upstream::new(&config, upstream.http, token);
                upstream
                    .tokens
                    .get(&upstream.http)
                    .map_err(|e| e.message().to_string())?;
            }
            ExchangeError::Rejected(m) => return Err(m),
            ExchangeError::Transient(m) => {
                warn!("no Copilot token yet ({m}); retrying in the background")
            }
        }
    }
    let app = Arc::new(App::new(config, upstream));
    if app.upstream.tokens.valid().is_some() {
        match app.refresh_catalog() {
            Ok(_) => app.log_models(),
            Err(e) => warn!("could not load the model list ({e}); retrying in the background"),
        }
    }
    let addr = std::net::SocketAddr::new(app.config.host, app.config.port);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let listener = server::bind(addr, tls, &app.config)?;
    let bound = listener.addr;
    let base = banner::base_url(scheme, bound);
    if app.config.claude_code {
        let models = app.catalog.get().ok_or(
            "--claude-code needs the model list, which could not be loaded; see the log above",
        )?;
        setup::wizard::run(&app.config, &models, &base)?;
    }
    spawn("token-refresh", {
        let app = app.clone();
        move || app.upstream.tokens.run_refresher(&app.upstream.http)
    });
    spawn("catalog-refresh", {
        let app = app.clone();
        move || app.run_catalog_refresher()
    });
    if app.config.no_auth && !app.config.host.is_loopback() {
        warn!("--no-auth: anyone who can reach {bound} can use this Copilot subscription");
    }
    if !app.config.api_keys.is_empty() {
        info!(
            "API key required ({} configured)",
            app.config.api_keys.len()
        );
    }
    if let Some(before) = app.config.image_trimming {
        info!("image trimming on: answered images older than {before} message(s) are replaced");
    }
    if app.config.no_native_messages {
        info!("--no-native-messages: /v1/messages is translated for every model");
    }
    for line in app.traffic.describe() {
        info!("{line}");
    }
    info!("{}", app.config.web_search.describe());
    if scheme == "https" {
        info!("TLS enabled: serving HTTPS");
    }
    info!("listening on {scheme}://{bound}");
    for line in banner::lines(&base, !app.config.api_keys.is_empty()) {
        info!("{line}");
    }
    server::serve(app, listener);
    Ok(())
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new().name(name.into()).spawn(f) {
        warn!("could not start the {name} thread: {e}");
    }
}

fn log_network(http: &Http, config: &Config) {
    let t = &http.trust;
    crate::debug!(
        "trust: {} system roots{}; proxy: {}",
        t.native_roots,
        t.extra_file
            .as_ref()
            .map(|f| format!(" + {} from {f}", t.extra_roots))
            .unwrap_or_default(),
        http.proxy.as_deref().unwrap_or("none")
    );
    for e in &t.native_errors {
        warn!("reading system roots: {e}");
    }
    if log::verbose() {
        crate::debug!(
            "GitHub API {}, Copilot fallback {}",
            config.endpoints.github_api,
            config.endpoints.copilot_fallback
        );
    }
}
