//! `--web-search-custom-tools`: a client function named like a search is served by the
//! proxy only when a small model says the user's last message needs the web (the
//! reference's preflight, reference/platform.md §9.2 path 2), sent as the agent's call.

use crate::app::App;
use crate::routing::Api;
use crate::upstream::catalog::Model;
use serde_json::{Map, Value, json};

const SYSTEM: &str = "You are a classifier. Answer only \"yes\" or \"no\". No explanation.";

/// Whether the last user message asks for current information from the web. Any failure
/// means no (the client's own tool then does the work).
pub fn needs_search(app: &App, body: &Map<String, Value>, requested: &str) -> bool {
    let text = crate::features::billing::latest_user_text(body.get("messages"));
    if text.trim().is_empty() {
        return false;
    }
    let models = app.catalog.get().unwrap_or_default();
    let model = classifier(&models, requested);
    let mut request = json!({
        "model": model,
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": format!(
                "Does this message require searching the web for current or real-time information?\n<message>{text}</message>")}
        ],
        "stream": false,
    });
    let key = if model.starts_with("gpt-5") || model.starts_with('o') {
        "max_completion_tokens"
    } else {
        "max_tokens"
    };
    request[key] = json!(5);
    let answer = app
        .upstream
        .post(
            Api::Chat.path(),
            request.to_string().as_bytes(),
            &[("x-initiator", "agent".to_string())],
            &app.metrics,
        )
        .and_then(|opened| opened.read_all())
        .map_err(crate::http::ApiError::from);
    match answer {
        Ok(bytes) => {
            let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let reply = v
                .pointer("/choices/0/message/content")
                .and_then(Value::as_str)
                .unwrap_or("");
            let yes = reply.trim().eq_ignore_ascii_case("yes");
            crate::debug!(
                "web search preflight on {model}: {:?} -> search: {yes}",
                reply.trim()
            );
            yes
        }
        Err(e) => {
            crate::warn!(
                "Web search preflight classification failed, treating as no-search-needed: {e}"
            );
            false
        }
    }
}

/// The first small chat model (`mini`, `flash`, `haiku`, `small` in its id), else another
/// chat model, else the requested one. Embedding models are never picked (the reference
/// could pick `text-embedding-3-small`).
fn classifier(models: &[Model], requested: &str) -> String {
    let chat = || {
        models
            .iter()
            .filter(|m| m.kind == "chat" && m.supports(Api::Chat.path()))
    };
    chat()
        .find(|m| {
            ["mini", "flash", "haiku", "small"]
                .iter()
                .any(|s| m.id.contains(s))
        })
        .or_else(|| chat().find(|m| m.id != requested))
        .map_or_else(|| requested.to_string(), |m| m.id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifier_skips_embeddings_and_prefers_small_chat_models() {
        let m = |id: &str, kind: &str| {
            Model::from_upstream(&json!({"id": id, "capabilities": {"type": kind}})).unwrap()
        };
        let models = vec![
            m("text-embedding-3-small", "embeddings"),
            m("gpt-4.1", "chat"),
            m("gpt-5-mini", "chat"),
        ];
        assert_eq!(classifier(&models, "claude"), "gpt-5-mini");
        assert_eq!(classifier(&models[..2], "claude"), "gpt-4.1");
        assert_eq!(classifier(&[], "claude"), "claude");
    }

    #[test]
    fn last_user_text_joins_text_blocks() {
        let body = json!({"messages": [
            {"role": "user", "content": "old"},
            {"role": "assistant", "content": "a"},
            {"role": "user", "content": [{"type": "text", "text": "news"}, {"type": "image"}, {"type": "text", "text": "today?"}]}
        ]});
        assert_eq!(
            crate::features::billing::latest_user_text(body.get("messages")),
            "news today?"
        );
    }
}
