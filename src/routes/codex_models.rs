//! `GET /v1/models` for Codex CLI: the `{"models": [...]}` catalog in the shape codex-rs
//! deserializes (`ModelsResponse` / `ModelInfo` in codex-rs/protocol/src/openai_models.rs).
//!
//! Codex knows only OpenAI's own model ids; for any other id it falls back to guessed
//! metadata: no `apply_patch` tool, a guessed context window, no effort. Served here for
//! every Copilot chat model, it gets the real limits, the efforts Copilot takes and the
//! freeform `apply_patch`. Both Codex's model discovery (it sends its `client_version` in the
//! query and its own user agent) and `-c model_catalog_json=FILE` read this shape.

use crate::http::Incoming;
use crate::upstream::catalog::Model;
use serde_json::{Value, json};

/// The efforts Codex's `ReasoningEffort` enum knows; one unknown value would make Codex
/// reject the whole catalog, so Copilot's other levels (Anthropic's `max`) are left out.
const CODEX_EFFORTS: [(&str, &str); 6] = [
    ("none", "No reasoning: fastest answers"),
    ("minimal", "Very little reasoning"),
    ("low", "Fast responses with lighter reasoning"),
    ("medium", "Balances speed and reasoning depth"),
    ("high", "More reasoning for complex problems"),
    ("xhigh", "The most reasoning the model offers"),
];

/// The instructions Codex sends as the model's base prompt. Codex's built-in prompts belong
/// to its own models; this one is ours, model-neutral, and says what Codex's tools expect.
const INSTRUCTIONS: &str = "You are Codex, a coding agent working in the user's terminal and \
workspace through GitHub Copilot. Help the user finish their software task: read the code, \
make the change, check it, and report.

# How you work
- Keep going until the task is done or you need a decision only the user can make.
- Look before you change: search with `rg` (or `grep` when it is missing) and read the \
relevant files.
- Edit files with the `apply_patch` tool; do not write files through shell redirection or \
scripts. Keep changes focused and in the style of the surrounding code.
- Run the project's tests or build when they exist and are relevant, and fix what you broke.
- The worktree may hold the user's own changes: leave them alone. Never run destructive \
commands (`git reset --hard`, `rm -rf` on broad paths) unless the user asked for them.

# Talking to the user
- Before a group of tool calls, say in one short sentence what you are about to do.
- End with a concise summary: what changed, where (file paths), and anything left to do.
- Use plain GitHub-flavoured Markdown, sparingly.";

/// Codex announces itself by its user agent (`codex_cli_rs/…`, `codex_exec/…`,
/// `codex-tui/…`), its `originator` header, or the `client_version` of its `/models` query
/// (codex-rs/codex-api/src/endpoint/models.rs).
pub fn is_codex(rq: &Incoming) -> bool {
    let starts_codex = |v: Option<&str>| {
        v.is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("codex"))
    };
    starts_codex(rq.header("user-agent"))
        || starts_codex(rq.header("originator"))
        || rq
            .query
            .split('&')
            .any(|pair| pair.split('=').next() == Some("client_version"))
}

/// Every chat model of the catalog as a Codex `ModelInfo`, in catalog order.
pub fn catalog(models: &[Model]) -> Value {
    let entries: Vec<Value> = models
        .iter()
        .filter(|m| m.kind == "chat")
        .enumerate()
        .map(|(i, m)| model_info(m, i))
        .collect();
    json!({"models": entries})
}

fn model_info(m: &Model, priority: usize) -> Value {
    let levels: Vec<Value> = CODEX_EFFORTS
        .iter()
        .filter(|(effort, _)| m.effort_levels.iter().any(|l| l == effort))
        .map(|(effort, description)| json!({"effort": effort, "description": description}))
        .collect();
    let default_level = ["medium", "low", "high"]
        .into_iter()
        .find(|l| m.effort_levels.iter().any(|x| x == l))
        .or_else(|| levels.first().and_then(|l| l["effort"].as_str()));
    // Summaries and verbosity are Responses features of OpenAI's models; elsewhere Copilot
    // would reject (or the translation would drop) them.
    let openai_responses = m.supports("/responses") && m.id.starts_with("gpt-");
    let window = m.max_input().map(|n| n as i64);
    let modalities = if m.vision {
        json!(["text", "image"])
    } else {
        json!(["text"])
    };
    json!({
        "slug": m.id,
        "display_name": m.name,
        "description": format!("{} ({}) through GitHub Copilot", m.name, m.vendor),
        "default_reasoning_level": default_level,
        "supported_reasoning_levels": levels,
        "shell_type": "shell_command",
        "visibility": "list",
        "supported_in_api": true,
        "priority": priority,
        "additional_speed_tiers": [],
        "service_tiers": [],
        "availability_nux": null,
        "upgrade": null,
        // Older Codex releases read `base_instructions`, newer ones the template.
        "base_instructions": INSTRUCTIONS,
        "model_messages": {"instructions_template": INSTRUCTIONS, "instructions_variables": null},
        "supports_reasoning_summaries": openai_responses && !levels.is_empty(),
        "default_reasoning_summary": if openai_responses && !levels.is_empty() { "auto" } else { "none" },
        "support_verbosity": openai_responses,
        "default_verbosity": null,
        "apply_patch_tool_type": "freeform",
        "web_search_tool_type": "text",
        "truncation_policy": {"mode": "tokens", "limit": 10000},
        "supports_parallel_tool_calls": m.parallel_tool_calls,
        "supports_image_detail_original": false,
        // Copilot enforces the prompt limit, not the whole window: Codex compacts at 90 %
        // of what it is told, so it must be told the input ceiling.
        "context_window": window,
        "max_context_window": window,
        "effective_context_window_percent": 95,
        "experimental_supported_tools": [],
        "input_modalities": modalities,
        "supports_search_tool": false,
        "use_responses_lite": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codex_is_recognised_by_agent_originator_or_query() {
        let rq = |headers: &[(&str, &str)], query: &str| Incoming {
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            query: query.into(),
            ..Incoming::default()
        };
        assert!(is_codex(&rq(
            &[("user-agent", "codex_exec/0.169.0 (Debian 12.0.0; x86_64)")],
            ""
        )));
        assert!(is_codex(&rq(&[("originator", "codex_cli_rs")], "")));
        assert!(is_codex(&rq(&[], "client_version=0.169.0")));
        assert!(!is_codex(&rq(&[("user-agent", "OpenAI/Python 2.1")], "")));
        assert!(!is_codex(&rq(&[], "version=1")));
    }

    #[test]
    fn entries_carry_what_codex_needs() {
        let v = json!({"id": "claude-sonnet-4.5", "name": "Claude Sonnet 4.5", "vendor": "Anthropic",
            "supported_endpoints": ["/chat/completions", "/v1/messages"],
            "capabilities": {"type": "chat", "limits": {"max_context_window_tokens": 200000,
                "max_prompt_tokens": 128000},
                "supports": {"vision": true, "parallel_tool_calls": true,
                             "reasoning_effort": ["low", "medium", "high", "max"]}}});
        let embed = json!({"id": "e", "capabilities": {"type": "embeddings"}});
        let models = vec![
            Model::from_upstream(&v).unwrap(),
            Model::from_upstream(&embed).unwrap(),
        ];
        let c = catalog(&models);
        let list = c["models"].as_array().unwrap();
        assert_eq!(list.len(), 1);
        let m = &list[0];
        assert_eq!(m["slug"], "claude-sonnet-4.5");
        assert_eq!(m["apply_patch_tool_type"], "freeform");
        assert_eq!(m["context_window"], 128000);
        assert_eq!(m["default_reasoning_level"], "medium");
        let efforts: Vec<&str> = m["supported_reasoning_levels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["effort"].as_str().unwrap())
            .collect();
        assert_eq!(efforts, ["low", "medium", "high"]);
        assert_eq!(m["input_modalities"], json!(["text", "image"]));
        assert_eq!(m["support_verbosity"], false);
    }
}
