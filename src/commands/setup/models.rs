//! The models a client can be set up with, and the defaults: for Claude Code the best
//! Claude model as the main one and the cheapest as the small/fast one; model ids in the
//! form each client expects.

use crate::routing::{self, Api};
use crate::upstream::catalog::Model;
use serde_json::Value;

/// One model as a menu or a config file shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub id: String,
    pub name: String,
    pub context: Option<u64>,
    pub max_output: Option<u64>,
    /// Premium requests per user turn (legacy plans).
    pub multiplier: Option<f64>,
    pub endpoints: Vec<String>,
}

impl Choice {
    pub fn from_model(m: &Model) -> Choice {
        Choice {
            id: m.id.clone(),
            name: m.name.clone(),
            context: m.max_context.or(m.max_prompt),
            max_output: m.max_output,
            multiplier: m.multiplier,
            endpoints: m.supported_endpoints.clone(),
        }
    }

    /// From an entry of the proxy's `GET /v1/models`.
    pub fn from_client_json(v: &Value) -> Option<Choice> {
        let num = |k: &str| v.get(k).and_then(Value::as_u64);
        Some(Choice {
            id: v.get("id")?.as_str()?.to_string(),
            name: v
                .get("display_name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            context: num("context_window").or(num("max_input_tokens")),
            max_output: num("max_output_tokens"),
            multiplier: v.pointer("/billing/multiplier").and_then(Value::as_f64),
            endpoints: v
                .get("supported_endpoints")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_else(|| vec!["/chat/completions".into()]),
        })
    }

    /// Whether `inbound` can reach this model (natively or translated).
    pub fn serves(&self, inbound: Api) -> bool {
        let completion = ["/chat/completions", "/responses", "/v1/messages"];
        if !self
            .endpoints
            .iter()
            .any(|e| completion.contains(&e.as_str()))
        {
            return false;
        }
        let model = Model {
            supported_endpoints: self.endpoints.clone(),
            ..Model::from_upstream(&serde_json::json!({"id": self.id}))
                .unwrap_or_else(|| unreachable!("an object with a string id is always a model"))
        };
        routing::decide(inbound, Some(&model), true).is_ok()
    }

    /// `claude-sonnet-4.5  200k context  ×1`, for menus.
    pub fn label(&self) -> String {
        let context = self
            .context
            .map(|n| format!("{}k context", (n + 500) / 1000))
            .unwrap_or_else(|| "context ?".into());
        let cost = match self.multiplier {
            Some(0.0) => "included (×0)".to_string(),
            Some(m) => format!("×{m} premium"),
            None => "×? premium".to_string(),
        };
        format!("{:<28} {context:>13}  {cost}", self.id)
    }
}

/// Claude Code's dashed form of a Claude id (`claude-sonnet-4.5` → `claude-sonnet-4-5`):
/// its auto mode recognises only that form, and the proxy's resolver maps it back.
pub fn claude_code_id(id: &str) -> String {
    if id.starts_with("claude-") {
        id.replace('.', "-")
    } else {
        id.to_string()
    }
}

/// The best Claude model: Opus over Sonnet over Haiku, then the highest version; any
/// model at all when the catalog has no Claude.
pub fn default_main(models: &[Choice]) -> Option<&Choice> {
    let rank = |c: &Choice| {
        let tier = ["haiku", "sonnet", "opus"]
            .iter()
            .position(|t| c.id.contains(t))
            .map_or(0, |p| p + 1);
        let version: Vec<u64> =
            c.id.split(|ch: char| !ch.is_ascii_digit())
                .filter(|s| !s.is_empty() && s.len() < 4)
                .filter_map(|s| s.parse().ok())
                .collect();
        (c.id.starts_with("claude-"), tier, version)
    };
    models.iter().rev().max_by(|a, b| rank(a).cmp(&rank(b)))
}

/// The cheapest model (an included one, multiplier 0, where one exists); among equals a
/// small/fast family first, then catalog order.
pub fn default_small(models: &[Choice]) -> Option<&Choice> {
    let cost = |c: &Choice| c.multiplier.unwrap_or(f64::MAX);
    let fast = |c: &Choice| ["haiku", "mini", "flash"].iter().any(|t| c.id.contains(t));
    models
        .iter()
        .min_by(|a, b| cost(a).total_cmp(&cost(b)).then(fast(b).cmp(&fast(a))))
}

/// The variables Claude Code reads, in the order they are printed.
pub fn claude_code_vars(
    base_url: &str,
    key: Option<&str>,
    main: &str,
    small: &str,
) -> Vec<(&'static str, String)> {
    let (main, small) = (claude_code_id(main), claude_code_id(small));
    vec![
        ("ANTHROPIC_BASE_URL", base_url.to_string()),
        ("ANTHROPIC_AUTH_TOKEN", key.unwrap_or("dummy").to_string()),
        ("ANTHROPIC_MODEL", main.clone()),
        ("ANTHROPIC_DEFAULT_SONNET_MODEL", main.clone()),
        ("ANTHROPIC_DEFAULT_OPUS_MODEL", main),
        ("ANTHROPIC_SMALL_FAST_MODEL", small.clone()),
        ("ANTHROPIC_DEFAULT_HAIKU_MODEL", small),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(id: &str, multiplier: f64) -> Choice {
        Choice {
            id: id.into(),
            name: id.into(),
            context: Some(200_000),
            max_output: None,
            multiplier: Some(multiplier),
            endpoints: vec!["/chat/completions".into()],
        }
    }

    #[test]
    fn defaults_pick_the_best_claude_and_the_cheapest() {
        let models = vec![
            choice("gpt-4.1", 0.0),
            choice("claude-sonnet-4.5", 1.0),
            choice("claude-opus-4.8", 3.0),
            choice("claude-opus-4.6", 3.0),
            choice("claude-haiku-4.5", 0.33),
            choice("gpt-5-mini", 0.0),
        ];
        assert_eq!(default_main(&models).unwrap().id, "claude-opus-4.8");
        assert_eq!(default_small(&models).unwrap().id, "gpt-5-mini");
        assert_eq!(default_main(&models[..1]).unwrap().id, "gpt-4.1");
        assert_eq!(claude_code_id("claude-opus-4.8"), "claude-opus-4-8");
        assert_eq!(claude_code_id("gpt-4.1"), "gpt-4.1");
        let vars = claude_code_vars("http://h:1", None, "claude-opus-4.8", "gpt-4.1");
        assert_eq!(vars[1].1, "dummy");
        assert_eq!(
            vars[4],
            ("ANTHROPIC_DEFAULT_OPUS_MODEL", "claude-opus-4-8".into())
        );
        assert_eq!(vars[6], ("ANTHROPIC_DEFAULT_HAIKU_MODEL", "gpt-4.1".into()));
        assert!(
            choice("claude-opus-4.8", 3.0)
                .label()
                .contains("200k context")
        );
    }
}
