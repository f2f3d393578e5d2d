//! Request checks shared by the completion routes: required fields and their types, with a
//! 400 that names the field, and the billing and vision headers.

use crate::http::ApiError;
use crate::upstream::catalog::Model;
pub use crate::upstream::headers::{initiator_header, vision_header};
use serde_json::{Map, Value};

pub fn model(body: &Map<String, Value>) -> Result<String, ApiError> {
    match body.get("model") {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(Value::String(_)) => Err(ApiError::BadRequest("`model` must not be empty".into())),
        Some(_) => Err(ApiError::BadRequest("`model` must be a string".into())),
        None => Err(ApiError::BadRequest("`model` is required".into())),
    }
}

pub fn stream_flag(body: &Map<String, Value>) -> Result<bool, ApiError> {
    match body.get("stream") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::BadRequest("`stream` must be a boolean".into())),
    }
}

#[derive(Clone, Copy)]
pub enum Kind {
    Integer,
    Number,
    Array,
    Object,
}

/// Each listed field, when present and not null, has the given JSON type.
pub fn optional_types(body: &Map<String, Value>, fields: &[(&str, Kind)]) -> Result<(), ApiError> {
    for (name, kind) in fields {
        let Some(v) = body.get(*name).filter(|v| !v.is_null()) else {
            continue;
        };
        let (ok, what) = match kind {
            Kind::Integer => (v.as_i64().is_some() || v.as_u64().is_some(), "an integer"),
            Kind::Number => (v.is_number(), "a number"),
            Kind::Array => (v.is_array(), "an array"),
            Kind::Object => (v.is_object(), "an object"),
        };
        if !ok {
            return Err(ApiError::BadRequest(format!("`{name}` must be {what}")));
        }
    }
    Ok(())
}

/// Fits a request translated to Chat to the model it goes to: the output limit, an effort
/// the model does not take dropped, and an effort it does take clamped to its levels.
pub fn fit_translated(chat: &mut Map<String, Value>, model: Option<&Model>) {
    fit_output_limit(chat, model);
    drop_unsupported_effort(chat, model);
    crate::upstream::effort::clamp(chat, model);
}

/// Drops a `reasoning_effort` the translation derived (from Anthropic's
/// `output_config.effort` or Responses' `reasoning.effort`) when the catalog does not list
/// the model as taking one: OpenAI-style upstreams reject it for other models.
pub fn drop_unsupported_effort(chat: &mut Map<String, Value>, model: Option<&Model>) {
    if !model.is_some_and(|m| m.reasoning_effort) && chat.remove("reasoning_effort").is_some() {
        crate::debug!("reasoning_effort dropped: the model does not list it");
    }
}

/// GPT-5 and the o-series take `max_completion_tokens`; every model's output is capped at
/// its catalog `max_output_tokens`, so a client's too-large value is not a 400.
pub fn fit_output_limit(body: &mut Map<String, Value>, model: Option<&Model>) {
    let id = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    let reasoning = id.starts_with("gpt-5")
        || (id.starts_with('o') && id[1..].starts_with(|c: char| c.is_ascii_digit()));
    if reasoning {
        if let Some(v) = body.remove("max_tokens").filter(|v| !v.is_null()) {
            body.entry("max_completion_tokens").or_insert(v);
        }
    }
    if let Some(cap) = model.and_then(|m| m.max_output) {
        for key in ["max_tokens", "max_completion_tokens"] {
            if body
                .get(key)
                .and_then(Value::as_u64)
                .is_some_and(|n| n > cap)
            {
                body.insert(key.into(), Value::from(cap));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn field_errors_name_the_field() {
        let b = |v: Value| v.as_object().unwrap().clone();
        assert!(
            model(&b(json!({})))
                .unwrap_err()
                .to_string()
                .contains("`model` is required")
        );
        assert!(
            model(&b(json!({"model": 4})))
                .unwrap_err()
                .to_string()
                .contains("string")
        );
        assert_eq!(model(&b(json!({"model": " gpt-4.1 "}))).unwrap(), "gpt-4.1");
        assert!(stream_flag(&b(json!({"stream": "yes"}))).is_err());
        assert!(stream_flag(&b(json!({"stream": null}))).is_ok());
        let e = optional_types(
            &b(json!({"max_tokens": "10"})),
            &[("max_tokens", Kind::Integer)],
        )
        .unwrap_err();
        assert!(e.to_string().contains("`max_tokens` must be an integer"));
        assert!(
            optional_types(
                &b(json!({"temperature": 0.5})),
                &[("temperature", Kind::Number)]
            )
            .is_ok()
        );
    }

    #[test]
    fn output_limit_renamed_for_reasoning_models_and_capped() {
        let model = |out| Model {
            max_output: Some(out),
            ..Model::from_upstream(&json!({"id": "m"})).unwrap()
        };
        let mut b = body(json!({"model": "gpt-5.2", "max_tokens": 999_999}));
        fit_output_limit(&mut b, Some(&model(128_000)));
        assert_eq!(
            (b.get("max_tokens"), b["max_completion_tokens"].as_u64()),
            (None, Some(128_000))
        );
        let mut b =
            body(json!({"model": "o3-mini", "max_tokens": 10, "max_completion_tokens": 20}));
        fit_output_limit(&mut b, None);
        assert_eq!(
            (b.get("max_tokens"), b["max_completion_tokens"].as_u64()),
            (None, Some(20))
        );
        let mut b = body(json!({"model": "gpt-4.1", "max_tokens": 100}));
        fit_output_limit(&mut b, Some(&model(50)));
        assert_eq!(b["max_tokens"], 50);
        let mut b = body(json!({"model": "openchat", "max_tokens": 100}));
        fit_output_limit(&mut b, None);
        assert_eq!(b["max_tokens"], 100);
    }
}
