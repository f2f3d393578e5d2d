//! Reasoning effort per model. Copilot answers `invalid_reasoning_effort` when a model does
//! not take the effort sent (some take only `medium`), so every route clamps the effort to
//! the nearest level the catalog lists for the model (`capabilities.supports.reasoning_effort`)
//! and a thinking budget into the model's `min/max_thinking_budget`; when Copilot still
//! rejects the effort, the upstream call is retried once without it (`strip`).
//!
//! The effort sits in a different field per API: `reasoning.effort` (Responses),
//! `reasoning_effort` (Chat), `output_config.effort` (Anthropic Messages); budgets in
//! `thinking.budget_tokens` (Messages) and `thinking_budget` (Copilot's Chat dialect).

use super::catalog::Model;
use serde_json::{Map, Value};

/// Effort levels from least to most, as OpenAI and Anthropic name them (Codex's own scale,
/// `ReasoningEffort` in codex-rs/protocol/src/openai_models.rs, plus Anthropic's `max`).
const SCALE: [&str; 7] = ["none", "minimal", "low", "medium", "high", "xhigh", "max"];

fn rank(level: &str) -> Option<usize> {
    SCALE.iter().position(|l| l.eq_ignore_ascii_case(level))
}

/// The listed level nearest to `wanted`; on a tie the lower one (cheaper and faster). None
/// when `wanted` is already listed, or cannot be placed on the scale.
pub fn nearest<'a>(wanted: &str, listed: &'a [String]) -> Option<&'a str> {
    if listed.iter().any(|l| l.eq_ignore_ascii_case(wanted)) {
        return None;
    }
    let want = rank(wanted)?;
    listed
        .iter()
        .filter_map(|l| rank(l).map(|r| (r.abs_diff(want), r, l.as_str())))
        .min_by_key(|(distance, r, _)| (*distance, *r))
        .map(|(_, _, l)| l)
}

/// Fits every effort and thinking budget of an upstream-bound body to what the model takes.
pub fn clamp(body: &mut Map<String, Value>, model: Option<&Model>) {
    let Some(model) = model else {
        return;
    };
    if !model.effort_levels.is_empty() {
        let slots: [(&str, Option<&str>); 3] = [
            ("reasoning_effort", None),
            ("reasoning", Some("effort")),
            ("output_config", Some("effort")),
        ];
        for (field, inner) in slots {
            let slot = match inner {
                None => body.get_mut(field),
                Some(key) => body.get_mut(field).and_then(|o| o.get_mut(key)),
            };
            let Some(slot) = slot else { continue };
            let Some(wanted) = slot.as_str() else {
                continue;
            };
            if let Some(level) = nearest(wanted, &model.effort_levels) {
                crate::debug!(
                    "{}: effort `{wanted}` clamped to `{level}` (the model takes {})",
                    model.id,
                    model.effort_levels.join(", ")
                );
                *slot = Value::from(level);
            }
        }
    }
    let (min, max) = model.thinking_budget;
    for path in [&["thinking_budget"][..], &["thinking", "budget_tokens"][..]] {
        let slot = match path {
            [one] => body.get_mut(*one),
            [outer, inner] => body.get_mut(*outer).and_then(|o| o.get_mut(*inner)),
            _ => None,
        };
        let Some(slot) = slot else { continue };
        let Some(budget) = slot.as_u64() else {
            continue;
        };
        let fitted = budget.max(min.unwrap_or(0)).min(max.unwrap_or(u64::MAX));
        if fitted != budget {
            crate::debug!(
                "{}: thinking budget {budget} fitted to {fitted} (the model takes {min:?}..{max:?})",
                model.id
            );
            *slot = Value::from(fitted);
        }
    }
}

/// The error Copilot gives for an effort the model does not take.
pub fn rejects_effort(status: u16, body: &[u8]) -> bool {
    if status != 400 {
        return false;
    }
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    text.contains("invalid_reasoning_effort")
        || (text.contains("effort")
            && [
                "not supported",
                "unsupported",
                "invalid",
                "does not support",
            ]
            .iter()
            .any(|p| text.contains(p)))
}

/// The JSON payload without any reasoning effort, or None when it carried none.
pub fn strip(payload: &[u8]) -> Option<Vec<u8>> {
    let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(payload) else {
        return None;
    };
    let mut removed = body.remove("reasoning_effort").is_some();
    for field in ["reasoning", "output_config"] {
        if let Some(Value::Object(o)) = body.get_mut(field) {
            removed |= o.remove("effort").is_some();
            if o.is_empty() {
                body.remove(field);
            }
        }
    }
    removed.then(|| Value::Object(body).to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn model(levels: &[&str], budget: (Option<u64>, Option<u64>)) -> Model {
        Model {
            effort_levels: levels.iter().map(|s| s.to_string()).collect(),
            thinking_budget: budget,
            ..Model::from_upstream(&json!({"id": "m"})).unwrap()
        }
    }

    #[test]
    fn nearest_level_on_the_scale() {
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases: [(&str, &[&str], Option<&str>); 7] = [
            ("xhigh", &["low", "medium", "high"], Some("high")),
            ("minimal", &["low", "medium", "high"], Some("low")),
            ("high", &["medium"], Some("medium")),
            ("medium", &["low", "high"], Some("low")),
            ("max", &["low", "medium", "high"], Some("high")),
            ("medium", &["low", "medium"], None),
            ("turbo", &["low"], None),
        ];
        for (wanted, listed, want) in cases {
            assert_eq!(nearest(wanted, &l(listed)), want, "{wanted} in {listed:?}");
        }
    }

    #[test]
    fn every_api_field_is_clamped() {
        let m = model(&["medium"], (Some(1024), Some(32000)));
        let mut b = json!({
            "reasoning_effort": "high",
            "reasoning": {"effort": "low", "summary": "auto"},
            "output_config": {"effort": "max"},
            "thinking": {"type": "enabled", "budget_tokens": 64000},
            "thinking_budget": 10
        })
        .as_object()
        .unwrap()
        .clone();
        clamp(&mut b, Some(&m));
        assert_eq!(b["reasoning_effort"], "medium");
        assert_eq!(
            b["reasoning"],
            json!({"effort": "medium", "summary": "auto"})
        );
        assert_eq!(b["output_config"]["effort"], "medium");
        assert_eq!(b["thinking"]["budget_tokens"], 32000);
        assert_eq!(b["thinking_budget"], 1024);
        // No catalog entry, or no levels listed: left as sent.
        let mut b = json!({"reasoning_effort": "xhigh"})
            .as_object()
            .unwrap()
            .clone();
        clamp(&mut b, None);
        clamp(&mut b, Some(&model(&[], (None, None))));
        assert_eq!(b["reasoning_effort"], "xhigh");
    }

    #[test]
    fn rejection_is_recognised_and_effort_stripped() {
        let body = br#"{"error":{"message":"Reasoning effort 'high' is not supported by this model","code":"invalid_reasoning_effort"}}"#;
        assert!(rejects_effort(400, body));
        assert!(!rejects_effort(500, body));
        assert!(!rejects_effort(
            400,
            br#"{"error":{"code":"invalid_request_body"}}"#
        ));
        let stripped = strip(
            br#"{"model":"m","reasoning":{"effort":"high"},"output_config":{"effort":"low","format":{}},"reasoning_effort":"x"}"#,
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&stripped).unwrap();
        assert_eq!(v, json!({"model": "m", "output_config": {"format": {}}}));
        assert!(strip(br#"{"model":"m"}"#).is_none());
    }
}
