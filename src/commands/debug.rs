//! `copilot-api debug [--json] [--models]`: what the proxy would use, without a secret;
//! without a network call unless `--models` asks for the catalog and its routing.

use crate::app::App;
use crate::cli::VERSION;
use crate::config::Config;
use crate::routing::{self, Api};
use crate::upstream::Upstream;
use crate::upstream::client::Http;
use serde_json::{Value, json};

pub fn run(config: &Config) -> Result<(), String> {
    let http = Http::new(config)?;
    let mut info = collect(config, &http);
    if config.debug_models {
        info["routes"] = routes(config, http)?;
    }
    if config.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&info).unwrap_or_default()
        );
    } else {
        print!("{}", as_text(&info));
    }
    Ok(())
}

fn collect(config: &Config, http: &Http) -> Value {
    let e = &config.endpoints;
    let token_file = &config.paths.token_file;
    let file_has_token = std::fs::read_to_string(token_file).is_ok_and(|t| !t.trim().is_empty());
    let env_present: Vec<&str> = ["GH_TOKEN", "GITHUB_TOKEN", "COPILOT_API_KEY"]
        .into_iter()
        .filter(|k| std::env::var_os(k).is_some())
        .collect();
    let (copilot, copilot_source) = match &e.copilot_override {
        Some(u) => (u.clone(), "COPILOT_API_BASE_URL"),
        None => (
            e.copilot_fallback.clone(),
            "the Copilot token's endpoints.api when allowed, else this",
        ),
    };
    let v = &config.versions;
    json!({
        "version": VERSION,
        "runtime": {"os": std::env::consts::OS, "arch": std::env::consts::ARCH},
        "paths": {"app_dir": config.paths.app_dir, "token_file": token_file},
        "token": {
            "file_has_token": file_has_token,
            "env_variables_set": env_present,
            "github_token_source": config.github_token.as_ref().map(|(_, s)| *s),
        },
        "endpoints": {
            "github": e.github_web,
            "github_api": e.github_api,
            "copilot": copilot,
            "copilot_source": copilot_source,
            "account_type": e.account_type,
            "enterprise": e.enterprise,
        },
        "network": {
            "proxy": http.proxy,
            "proxy_from_env": config.proxy_env,
            "system_roots": http.trust.native_roots,
            "ca_file": http.trust.extra_file,
            "ca_file_roots": http.trust.extra_roots,
            "ssl_cert_file": std::env::var("SSL_CERT_FILE").ok(),
        },
        "web_search": {
            "provider": config.web_search.provider.name(),
            "model": config.web_search.model,
            "custom_tools": config.web_search.custom_tools,
            "timeout_seconds": config.web_search.timeout.as_secs_f64(),
            "tavily_api_key_set": config.web_search.tavily_key.is_some(),
            "brave_api_key_set": config.web_search.brave_key.is_some(),
            "tavily_base_url": config.web_search.tavily_base,
            "brave_base_url": config.web_search.brave_base,
        },
        "headers": {
            "editor-version": v.editor_version,
            "editor-plugin-version": v.plugin_version,
            "user-agent": v.user_agent,
            "x-github-api-version": v.copilot_api_version,
            "copilot-integration-id": v.integration_id,
        },
    })
}

/// For each catalog model, where a request of each inbound API goes (DESIGN.md §3).
fn routes(config: &Config, http: Http) -> Result<Value, String> {
    let (token, _) = crate::commands::github_token(&http, config)?;
    let app = App::new(config.clone(), Upstream::new(config, http, token));
    app.upstream
        .tokens
        .get(&app.upstream.http)
        .map_err(|e| e.message().to_string())?;
    app.refresh_catalog()
        .map_err(|e| format!("could not fetch the model list: {e}"))?;
    let models = app.catalog.get().unwrap_or_default();
    let native = !config.no_native_messages;
    let mut routes = serde_json::Map::new();
    for m in models.iter() {
        let mut per_api = serde_json::Map::new();
        for (inbound, name) in [
            (Api::Chat, "/v1/chat/completions"),
            (Api::Messages, "/v1/messages"),
            (Api::Responses, "/v1/responses"),
        ] {
            let decision = match routing::decide(inbound, Some(m), native) {
                Ok(up) if up == inbound => format!("{} (pass-through)", up.path()),
                Ok(up) => format!("{} (translated)", up.path()),
                Err(why) => format!("unreachable: {why}"),
            };
            per_api.insert(name.into(), Value::from(decision));
        }
        routes.insert(m.id.clone(), Value::Object(per_api));
    }
    Ok(Value::Object(routes))
}

/// Nested JSON as indented `key: value` lines.
fn as_text(v: &Value) -> String {
    fn walk(v: &Value, indent: usize, out: &mut String) {
        if let Value::Object(map) = v {
            for (k, val) in map {
                match val {
                    Value::Object(_) => {
                        out.push_str(&format!("{:indent$}{k}:\n", ""));
                        walk(val, indent + 2, out);
                    }
                    Value::String(s) => out.push_str(&format!("{:indent$}{k}: {s}\n", "")),
                    Value::Null => out.push_str(&format!("{:indent$}{k}: (none)\n", "")),
                    other => out.push_str(&format!("{:indent$}{k}: {other}\n", "")),
                }
            }
        }
    }
    let mut out = String::from("copilot-api debug\n");
    walk(v, 0, &mut out);
    out
}
