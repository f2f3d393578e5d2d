//! The model catalog: what `GET {copilot}/models` says, the client-facing model objects,
//! and the model id resolver every route uses.

use serde_json::{Value, json};
use std::sync::{Arc, RwLock};
use std::time::Instant;

/// The endpoint a model reaches when the catalog lists none (DESIGN.md §3).
pub const CHAT_ONLY: &str = "/chat/completions";

#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub id: String,
    pub name: String,
    pub vendor: String,
    pub kind: String,
    pub max_context: Option<u64>,
    pub max_prompt: Option<u64>,
    pub max_output: Option<u64>,
    pub supported_endpoints: Vec<String>,
    pub tokenizer: String,
    /// `capabilities.supports.reasoning_effort` lists levels (or is true): the model takes a
    /// `reasoning_effort` on `/chat/completions`.
    pub reasoning_effort: bool,
    /// The effort levels the catalog lists (`low`, `medium`, ...), in its order; empty when
    /// it lists none (then any effort is sent as asked).
    pub effort_levels: Vec<String>,
    /// `capabilities.supports.{min,max}_thinking_budget`: the thinking budget Copilot
    /// accepts for the model.
    pub thinking_budget: (Option<u64>, Option<u64>),
    /// `capabilities.supports.vision` and `parallel_tool_calls`, for Codex's catalog.
    pub vision: bool,
    pub parallel_tool_calls: bool,
    /// `billing.multiplier`: premium requests one user turn costs on legacy plans (the
    /// accounting counts it; the approval prompt shows it).
    pub multiplier: Option<f64>,
}

impl Model {
    pub fn from_upstream(v: &Value) -> Option<Model> {
        let id = v.get("id")?.as_str()?.to_string();
        let str_at = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
        let num_at = |p: &str| v.pointer(p).and_then(Value::as_u64);
        let supported_endpoints = match v.get("supported_endpoints").and_then(Value::as_array) {
            Some(list) => list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            None => vec![CHAT_ONLY.to_string()],
        };
        Some(Model {
            name: str_at("/name").unwrap_or_else(|| id.clone()),
            vendor: str_at("/vendor").unwrap_or_default(),
            kind: str_at("/capabilities/type").unwrap_or_else(|| "chat".into()),
            max_context: num_at("/capabilities/limits/max_context_window_tokens"),
            max_prompt: num_at("/capabilities/limits/max_prompt_tokens"),
            max_output: num_at("/capabilities/limits/max_output_tokens"),
            tokenizer: str_at("/capabilities/tokenizer").unwrap_or_else(|| "o200k_base".into()),
            supported_endpoints,
            reasoning_effort: match v.pointer("/capabilities/supports/reasoning_effort") {
                Some(Value::Array(levels)) => !levels.is_empty(),
                Some(Value::Bool(b)) => *b,
                _ => false,
            },
            effort_levels: v
                .pointer("/capabilities/supports/reasoning_effort")
                .and_then(Value::as_array)
                .map(|l| {
                    l.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            thinking_budget: (
                num_at("/capabilities/supports/min_thinking_budget"),
                num_at("/capabilities/supports/max_thinking_budget"),
            ),
            vision: v.pointer("/capabilities/supports/vision") == Some(&Value::Bool(true)),
            parallel_tool_calls: v.pointer("/capabilities/supports/parallel_tool_calls")
                == Some(&Value::Bool(true)),
            multiplier: v.pointer("/billing/multiplier").and_then(Value::as_f64),
            id,
        })
    }

    /// The input ceiling Copilot enforces: `max_prompt_tokens`, else the context window.
    pub fn max_input(&self) -> Option<u64> {
        self.max_prompt.or(self.max_context)
    }

    pub fn supports(&self, endpoint: &str) -> bool {
        self.supported_endpoints.iter().any(|e| e == endpoint)
    }

    /// The hybrid OpenAI/Anthropic model object of `GET /v1/models` (reference/platform.md
    /// §5.3), with the limits and endpoints clients use to size requests.
    pub fn to_client_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "object": "model",
            "type": "model",
            "created": 0,
            "created_at": "1970-01-01T00:00:00.000Z",
            "owned_by": self.vendor,
            "display_name": self.name,
            "supported_endpoints": self.supported_endpoints,
        });
        let limits = [
            ("max_input_tokens", self.max_input()),
            ("max_output_tokens", self.max_output),
            ("context_window", self.max_context),
        ];
        for (key, value) in limits {
            if let Some(n) = value {
                v[key] = json!(n);
            }
        }
        // What a user turn costs on legacy plans (`copilot-api setup` picks by it).
        if let Some(m) = self.multiplier {
            v["billing"] = json!({"multiplier": m});
        }
        v
    }

    /// `- id (total: 200k, in: 128k, out: 16k)` for the start-up log.
    pub fn summary(&self) -> String {
        let k = |n: u64| {
            if n >= 1000 {
                format!("{}k", (n + 500) / 1000)
            } else {
                n.to_string()
            }
        };
        let parts: Vec<String> = [
            ("total", self.max_context),
            ("in", self.max_input()),
            ("out", self.max_output),
        ]
        .iter()
        .filter_map(|(label, n)| n.map(|n| format!("{label}: {}", k(n))))
        .collect();
        let endpoints = self.supported_endpoints.join(" ");
        if parts.is_empty() {
            format!("- {} [{endpoints}]", self.id)
        } else {
            format!("- {} ({}) [{endpoints}]", self.id, parts.join(", "))
        }
    }
}

/// The cached catalog, replaced whole on every refresh.
#[derive(Default)]
pub struct Catalog {
    models: RwLock<Option<(Arc<Vec<Model>>, Instant)>>,
}

impl Catalog {
    pub fn set(&self, models: Vec<Model>) {
        *crate::sync::write(&self.models) = Some((Arc::new(models), Instant::now()));
    }

    pub fn get(&self) -> Option<Arc<Vec<Model>>> {
        crate::sync::read(&self.models)
            .as_ref()
            .map(|(m, _)| m.clone())
    }

    pub fn age(&self) -> Option<std::time::Duration> {
        crate::sync::read(&self.models)
            .as_ref()
            .map(|(_, t)| t.elapsed())
    }

    /// The catalog entry for a client's model id, if any.
    pub fn find(&self, requested: &str) -> Option<Model> {
        let models = self.get()?;
        resolve(&models, requested).cloned()
    }
}

pub fn parse_list(v: &Value) -> Vec<Model> {
    v.get("data")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Model::from_upstream).collect())
        .unwrap_or_default()
}

/// Maps a client's model id to a catalog entry: exact id, then ignoring case and `.`/`-`
/// (`claude-opus-4-8` → `claude-opus-4.8`), then without an Anthropic date stamp
/// (`-20251001`), then without a `[1m]`/`-1m` context suffix.
pub fn resolve<'a>(models: &'a [Model], requested: &str) -> Option<&'a Model> {
    let no_1m = strip_1m(requested);
    let candidates = [
        Some(requested),
        strip_date(requested),
        no_1m,
        no_1m.and_then(strip_date),
    ];
    candidates.into_iter().flatten().find_map(|id| {
        models
            .iter()
            .find(|m| m.id == id)
            .or_else(|| models.iter().find(|m| canonical(&m.id) == canonical(id)))
    })
}

fn canonical(id: &str) -> String {
    id.to_ascii_lowercase().replace('.', "-")
}

fn strip_date(id: &str) -> Option<&str> {
    let (head, tail) = id.rsplit_once('-')?;
    (tail.len() == 8 && tail.bytes().all(|b| b.is_ascii_digit())).then_some(head)
}

fn strip_1m(id: &str) -> Option<&str> {
    id.strip_suffix("[1m]")
        .or_else(|| id.strip_suffix("[1M]"))
        .or_else(|| id.strip_suffix("-1m"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Vec<Model> {
        let v = json!({"data": [
            {"id": "claude-sonnet-4.5", "name": "Claude Sonnet 4.5", "vendor": "Anthropic",
             "supported_endpoints": ["/chat/completions", "/v1/messages"],
             "capabilities": {"type": "chat", "limits": {"max_context_window_tokens": 200000,
                "max_prompt_tokens": 128000, "max_output_tokens": 16000}}},
            {"id": "claude-opus-4.8", "capabilities": {"limits": {"max_context_window_tokens": 1000000}}},
            {"id": "claude-haiku-4.5"},
            {"id": "gpt-4.1"},
            {"id": "GPT-5"},
            {"no_id": true}
        ]});
        parse_list(&v)
    }

    #[test]
    fn resolver_cases() {
        let m = catalog();
        let r = |id: &str| resolve(&m, id).map(|m| m.id.as_str());
        let cases = [
            ("claude-sonnet-4.5", Some("claude-sonnet-4.5")),
            ("claude-sonnet-4-5", Some("claude-sonnet-4.5")),
            ("Claude-Sonnet-4-5", Some("claude-sonnet-4.5")),
            ("claude-haiku-4-5-20251001", Some("claude-haiku-4.5")),
            ("claude-opus-4-8[1m]", Some("claude-opus-4.8")),
            ("claude-opus-4.8-1m", Some("claude-opus-4.8")),
            ("claude-sonnet-4-5-20250929[1m]", Some("claude-sonnet-4.5")),
            ("gpt-5", Some("GPT-5")),
            ("gpt-4-1", Some("gpt-4.1")),
            ("gpt-4.1-mini", None),
            ("claude-sonnet-4-5-2025092", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(r(input), want, "{input}");
        }
    }

    #[test]
    fn entries_parse_limits_and_default_endpoints() {
        let m = catalog();
        assert_eq!(m.len(), 5);
        assert_eq!(m[0].max_input(), Some(128000));
        assert_eq!(m[1].max_input(), Some(1000000));
        assert_eq!(m[2].supported_endpoints, [CHAT_ONLY]);
        assert!(m[0].supports("/v1/messages"));
        let j = m[0].to_client_json();
        assert_eq!(j["max_input_tokens"], 128000);
        assert_eq!(j["max_output_tokens"], 16000);
        assert_eq!(j["context_window"], 200000);
        assert_eq!(j["owned_by"], "Anthropic");
        assert!(m[2].to_client_json().get("max_output_tokens").is_none());
        assert_eq!(
            m[0].summary(),
            "- claude-sonnet-4.5 (total: 200k, in: 128k, out: 16k) [/chat/completions /v1/messages]"
        );
    }
}
