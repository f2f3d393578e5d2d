//! `copilot-api setup claude-code|codex|opencode`: a client's settings for a running proxy,
//! without questions (for scripts and CI), and the `start --claude-code` wizard. The model
//! list comes from the proxy itself (`GET /v1/models`), so what is offered is what it
//! serves. What another program reads goes to stdout; messages go to stderr.

mod clipboard;
mod files;
pub mod menu;
pub mod models;
pub mod shell;
pub mod wizard;

use crate::config::{Config, SetupArgs, SetupTarget};
use crate::routing::Api;
use crate::upstream::client::Http;
use models::Choice;
use serde_json::{Value, json};
use shell::Shell;
use std::path::PathBuf;

/// The provider id written into Codex's and opencode's configs.
const PROVIDER: &str = "copilot-api";
/// The variable Codex reads the proxy's key from.
const CODEX_KEY_VAR: &str = "COPILOT_API_KEY";

pub fn run(config: &Config) -> Result<(), String> {
    let Some(args) = &config.setup else {
        return Err("setup: no client given".into());
    };
    let key = config.api_keys.first().map(String::as_str);
    let http = Http::new(config)?;
    let list = fetch(&http, &format!("{}/v1/models", args.url), key, &[])?;
    let choices: Vec<Choice> = list
        .get("data")
        .and_then(Value::as_array)
        .map(|d| d.iter().filter_map(Choice::from_client_json).collect())
        .unwrap_or_default();
    if choices.is_empty() {
        return Err(format!("{} listed no models", args.url));
    }
    match args.target {
        SetupTarget::ClaudeCode => claude_code(config, args, key, &choices),
        SetupTarget::Codex => codex(&http, args, key, &choices),
        SetupTarget::OpenCode => opencode(args, key, &choices),
    }
}

/// A GET to the proxy, as JSON.
fn fetch(
    http: &Http,
    url: &str,
    key: Option<&str>,
    extra: &[(&str, String)],
) -> Result<Value, String> {
    let mut headers: Vec<(&str, String)> = extra.to_vec();
    if let Some(k) = key {
        headers.push(("authorization", format!("Bearer {k}")));
    }
    let reply = http.call("GET", url, &headers, None).map_err(|e| {
        format!("cannot reach the proxy at {url} ({e}); is `copilot-api start` running? (--url)")
    })?;
    match reply.status {
        200 => serde_json::from_slice(&reply.body)
            .map_err(|_| format!("{url} did not answer with JSON")),
        401 => Err(format!(
            "the proxy at {url} needs its API key: pass --api-key or set COPILOT_API_KEY"
        )),
        s => Err(format!("the proxy at {url} answered HTTP {s}")),
    }
}

/// `--model` if it is in the catalog (else a warning: it may be enabled later), or the
/// default.
fn pick<'a>(
    wanted: Option<&str>,
    choices: &'a [Choice],
    default: Option<&'a Choice>,
) -> Result<String, String> {
    match wanted {
        Some(id) => {
            if !choices.iter().any(|c| c.id == id) {
                crate::warn!("model `{id}` is not in the proxy's model list; using it anyway");
            }
            Ok(id.to_string())
        }
        None => default
            .map(|c| c.id.clone())
            .ok_or_else(|| "no model can serve this client".to_string()),
    }
}

/// The shell of the printed command: `--shell`, else the user's.
pub fn shell_of(config: &Config) -> Shell {
    config
        .shell
        .as_deref()
        .and_then(Shell::parse)
        .unwrap_or_else(|| Shell::detect(&|k| std::env::var(k).ok(), cfg!(windows)))
}

/// Prints the command (always) and copies it (when a clipboard program is present).
pub fn print_command(command: &str) {
    println!("{command}");
    match clipboard::copy(command) {
        Some(program) => eprintln!("Copied to the clipboard ({program})."),
        None => eprintln!("(no clipboard program found; copy the command above)"),
    }
}

fn claude_code(
    config: &Config,
    args: &SetupArgs,
    key: Option<&str>,
    choices: &[Choice],
) -> Result<(), String> {
    let usable: Vec<Choice> = choices
        .iter()
        .filter(|c| c.serves(Api::Messages))
        .cloned()
        .collect();
    let main = pick(
        args.model.as_deref(),
        &usable,
        models::default_main(&usable),
    )?;
    let small = pick(
        args.small_model.as_deref(),
        &usable,
        models::default_small(&usable),
    )?;
    let vars = models::claude_code_vars(&args.url, key, &main, &small);
    print_command(&shell_of(config).command(&vars, "claude"));
    if args.write {
        let env: serde_json::Map<String, Value> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(v.as_str())))
            .collect();
        let path = PathBuf::from(".claude").join("settings.json");
        files::write_json(&path, &json!({ "env": env }))?;
        eprintln!("Wrote the env block to {}.", path.display());
    }
    Ok(())
}

/// Codex speaks Responses; its default is the best Codex model the proxy serves there.
fn default_codex(choices: &[Choice]) -> Option<&Choice> {
    let native: Vec<&Choice> = choices
        .iter()
        .filter(|c| c.endpoints.iter().any(|e| e == "/responses"))
        .collect();
    native
        .iter()
        .find(|c| c.id.contains("codex"))
        .or_else(|| native.first())
        .copied()
        .or_else(|| choices.iter().find(|c| c.serves(Api::Responses)))
}

fn codex_home() -> PathBuf {
    match std::env::var_os("CODEX_HOME") {
        Some(h) if !h.is_empty() => PathBuf::from(h),
        _ => home().join(".codex"),
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn codex(
    http: &Http,
    args: &SetupArgs,
    key: Option<&str>,
    choices: &[Choice],
) -> Result<(), String> {
    let model = pick(args.model.as_deref(), choices, default_codex(choices))?;
    let home = codex_home();
    // Codex knows OpenAI's own models; for any other id it needs the metadata (context
    // window, efforts, the freeform apply_patch tool) from a model catalog file, which
    // the proxy serves in Codex's shape when asked as Codex asks.
    let metadata = if model.starts_with("gpt-") {
        None
    } else {
        let url = format!("{}/v1/models?client_version=copilot-api-setup", args.url);
        let v = fetch(http, &url, key, &[("originator", "codex_cli_rs".into())])?;
        match v.get("models").and_then(Value::as_array) {
            Some(list) if list.iter().any(|m| m["slug"] == model.as_str()) => Some(v.clone()),
            _ => {
                eprintln!(
                    "Note: this proxy does not serve Codex model metadata for `{model}`; Codex will \
                     use generic metadata (without apply_patch)."
                );
                None
            }
        }
    };
    let catalog_path = home.join("copilot-api-models.json");
    let mut top = vec![
        ("model", files::toml_string(&model)),
        ("model_provider", files::toml_string(PROVIDER)),
    ];
    if metadata.is_some() {
        top.push((
            "model_catalog_json",
            files::toml_string(&catalog_path.display().to_string()),
        ));
    }
    let table = format!("model_providers.{PROVIDER}");
    let body = [
        format!(
            "name = {}",
            files::toml_string("copilot-api (GitHub Copilot)")
        ),
        format!(
            "base_url = {}",
            files::toml_string(&format!("{}/v1", args.url))
        ),
        "wire_api = \"responses\"".to_string(),
        format!("env_key = {}", files::toml_string(CODEX_KEY_VAR)),
    ]
    .join("\n");
    print!("{}", files::merge_toml("", &top, &table, &body));
    eprintln!(
        "Codex reads the proxy's key from {CODEX_KEY_VAR}: export {CODEX_KEY_VAR}={} before `codex`.",
        if key.is_some() {
            "<the API key>"
        } else {
            "anything (this proxy has no key)"
        }
    );
    if metadata.is_some() {
        eprintln!("Model metadata for `{model}`: {}", catalog_path.display());
    }
    if args.write {
        let path = home.join("config.toml");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        files::write_file(&path, &files::merge_toml(&text, &top, &table, &body))?;
        eprintln!("Wrote {}.", path.display());
        if let Some(metadata) = &metadata {
            let text = serde_json::to_string_pretty(metadata).map_err(|e| e.to_string())? + "\n";
            files::write_file(&catalog_path, &text)?;
            eprintln!("Wrote {}.", catalog_path.display());
        }
    } else if metadata.is_some() {
        eprintln!("Run with --write to save it there.");
    }
    Ok(())
}

fn opencode(args: &SetupArgs, key: Option<&str>, choices: &[Choice]) -> Result<(), String> {
    let usable: Vec<&Choice> = choices.iter().filter(|c| c.serves(Api::Chat)).collect();
    let first = usable.first().map(|c| (*c).clone());
    let model = pick(args.model.as_deref(), choices, first.as_ref())?;
    let models: serde_json::Map<String, Value> = usable
        .iter()
        .map(|c| {
            let mut entry = json!({"name": if c.name.is_empty() { &c.id } else { &c.name }});
            if let (Some(context), Some(output)) = (c.context, c.max_output) {
                entry["limit"] = json!({"context": context, "output": output});
            }
            (c.id.clone(), entry)
        })
        .collect();
    let config = json!({
        "$schema": "https://opencode.ai/config.json",
        "provider": {PROVIDER: {
            "npm": "@ai-sdk/openai-compatible",
            "name": "copilot-api (GitHub Copilot)",
            "options": {"baseURL": format!("{}/v1", args.url), "apiKey": key.unwrap_or("dummy")},
            "models": models,
        }},
        "model": format!("{PROVIDER}/{model}"),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&config).map_err(|e| e.to_string())?
    );
    if args.write {
        let dir = match std::env::var_os("XDG_CONFIG_HOME") {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => home().join(".config"),
        };
        let path = dir.join("opencode").join("opencode.json");
        files::write_json(&path, &config)?;
        eprintln!("Wrote {}.", path.display());
    }
    Ok(())
}
