//! Copilot's canned account data as the fake serves it: the model catalog (one model per
//! routing case) and the quota JSON of `/copilot_internal/user`.

use serde_json::{Value, json};

/// The `/copilot_internal/user` body of reference/platform.md §6.1.
pub fn usage_json() -> Value {
    let unlimited = |id: &str| {
        json!({"entitlement": 0, "overage_count": 0, "overage_permitted": false,
               "percent_remaining": 100, "quota_id": id, "quota_remaining": 0,
               "remaining": 0, "unlimited": true})
    };
    json!({
        "access_type_sku": "free_educational_quota",
        "analytics_tracking_id": "0123456789abcdef",
        "assigned_date": "2026-01-15T10:00:00+01:00",
        "can_signup_for_limited": false,
        "chat_enabled": true,
        "copilot_plan": "individual",
        "organization_login_list": [],
        "organization_list": [],
        "quota_reset_date": "2026-12-01",
        "quota_snapshots": {
            "chat": unlimited("chat"),
            "completions": unlimited("completions"),
            "premium_interactions": {
                "entitlement": 300, "overage_count": 0, "overage_permitted": false,
                "percent_remaining": 87.3, "quota_id": "premium_interactions",
                "quota_remaining": 262, "remaining": 262, "unlimited": false
            }
        }
    })
}

/// A catalog in the shape of reference/platform.md §5.2 covering each routing case:
/// chat only, Responses only, Anthropic-native, 1M context, no `supported_endpoints`
/// at all, and an embeddings model without an output limit.
pub fn catalog_json() -> Value {
    let data = vec![
        model(
            "gpt-4.1",
            "GPT-4.1",
            "Azure OpenAI",
            "chat",
            Some(&["/chat/completions"]),
            json!({"max_context_window_tokens": 128000, "max_prompt_tokens": 128000,
                   "max_output_tokens": 16384}),
        ),
        model(
            "gpt-5.2-codex",
            "GPT-5.2-Codex",
            "OpenAI",
            "chat",
            Some(&["/responses"]),
            json!({"max_context_window_tokens": 400000, "max_prompt_tokens": 272000,
                   "max_output_tokens": 128000}),
        ),
        model(
            "claude-sonnet-4.5",
            "Claude Sonnet 4.5",
            "Anthropic",
            "chat",
            Some(&["/chat/completions", "/v1/messages"]),
            json!({"max_context_window_tokens": 200000, "max_prompt_tokens": 128000,
                   "max_output_tokens": 16000}),
        ),
        model(
            "claude-opus-4.8",
            "Claude Opus 4.8",
            "Anthropic",
            "chat",
            Some(&["/chat/completions", "/v1/messages"]),
            json!({"max_context_window_tokens": 1000000, "max_prompt_tokens": 935000,
                   "max_output_tokens": 64000}),
        ),
        model(
            "gemini-2.5-pro",
            "Gemini 2.5 Pro",
            "Google",
            "chat",
            None,
            json!({"max_context_window_tokens": 128000, "max_prompt_tokens": 128000,
                   "max_output_tokens": 64000}),
        ),
        model(
            "text-embedding-3-small",
            "Embedding V3 small",
            "Azure OpenAI",
            "embeddings",
            Some(&["/embeddings"]),
            json!({"max_context_window_tokens": 8191, "max_prompt_tokens": 8191,
                   "max_inputs": 512}),
        ),
    ];
    json!({"object": "list", "data": data})
}

pub fn model(
    id: &str,
    name: &str,
    vendor: &str,
    kind: &str,
    endpoints: Option<&[&str]>,
    limits: Value,
) -> Value {
    let chat = kind == "chat";
    let mut m = json!({
        "id": id,
        "name": name,
        "object": "model",
        "vendor": vendor,
        "version": id,
        "preview": false,
        "model_picker_enabled": chat,
        "policy": {"state": "enabled", "terms": "Enable access to the latest models."},
        "capabilities": {
            "object": "model_capabilities",
            "type": kind,
            "family": id,
            "tokenizer": if chat { "o200k_base" } else { "cl100k_base" },
            "limits": limits,
            "supports": if chat {
                json!({"streaming": true, "tool_calls": true, "parallel_tool_calls": true,
                       "vision": true, "structured_outputs": true})
            } else {
                json!({"dimensions": true})
            },
        },
    });
    if let Some(endpoints) = endpoints {
        m["supported_endpoints"] = json!(endpoints);
    }
    // Premium requests per user turn on legacy plans (gpt-4.1 is the included model).
    if chat {
        let multiplier = match id {
            "gpt-4.1" => 0.0,
            "claude-opus-4.8" => 3.0,
            _ => 1.0,
        };
        m["billing"] = json!({"is_premium": multiplier > 0.0, "multiplier": multiplier});
    }
    // Reasoning models list the efforts they take; gpt-4.1 and Gemini here do not.
    if id.starts_with("gpt-5") || id.starts_with("claude") {
        m["capabilities"]["supports"]["reasoning_effort"] = json!(["low", "medium", "high"]);
    }
    m
}
