//! `POST /v1/messages`: Anthropic Messages for every Copilot model. Models that Copilot
//! serves on its native `/v1/messages` get the body passed through (`native.rs`: thinking
//! signatures, `cache_control` and betas survive); the others are translated through the
//! Chat pivot (`translated.rs`). Both send through the 413 image cascade (`images.rs`).

pub(crate) mod images;
pub(crate) mod native;
pub(crate) mod translated;

use crate::app::App;
use crate::features::admission;
use crate::features::images as image_rules;
use crate::features::web_search;
use crate::http::{ApiError, Incoming, Outgoing};
use crate::routes::fields::{self, initiator_header};
use crate::routing::Api;
use crate::translate::anthropic_request::user_turn;
use crate::upstream::catalog::Model;
use serde_json::{Map, Value};
use std::sync::Arc;

pub fn create(app: &Arc<App>, rq: &Incoming) -> Result<Outgoing, ApiError> {
    let mut body = rq.json_object()?;
    let requested = fields::model(&body)?;
    validate(&body)?;
    let stream = fields::stream_flag(&body)?;
    if let Some(message) = image_rules::tiny_png(&body) {
        return Err(ApiError::BadRequest(message));
    }
    if let Some(before) = app.config.image_trimming {
        let trimmed = image_rules::trim_processed(&mut body, before);
        if trimmed > 0 {
            crate::debug!("trimmed {trimmed} answered image(s) from the request");
        }
    }
    let admitted = admission::admit(app, rq, Api::Messages, &mut body, &requested)?;
    let (requested, model, route) = (admitted.requested, admitted.model, admitted.route);
    let limit = model.as_ref().and_then(Model::max_input);
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let extra = vec![initiator_header(user_turn(messages))];
    let search = web_search::prepare_messages(app, &mut body, &requested);

    let result = match (route, model, search) {
        // The proxy serves the search tool, on whichever route (features/web_search).
        (route, model, Some(plan)) => {
            web_search::turn::serve(app, rq, body, &requested, model, route, stream, extra, plan)
        }
        (Api::Messages, Some(m), None) => {
            native::create(app, rq, body, &requested, &m, stream, extra)
        }
        (Api::Chat | Api::Responses, model, None) => {
            translated::create(app, body, &requested, model.as_ref(), route, stream, extra)
        }
        (other, _, None) => Err(ApiError::Internal(format!(
            "no Messages route to {other:?}"
        ))),
    };
    result.map_err(|e| anthropic_context_error(e, limit))
}

/// Context-window errors in the words Claude Code reacts to by compacting:
/// `prompt is too long: N tokens > M maximum`, with Copilot's numbers when it gives them.
fn anthropic_context_error(e: ApiError, limit: Option<u64>) -> ApiError {
    let ApiError::ContextWindow { message, too_large } = e else {
        return e;
    };
    let message = match (exceeds_numbers(&message), limit) {
        (Some((n, m)), _) => format!("prompt is too long: {n} tokens > {m} maximum"),
        (None, Some(m)) => format!("prompt is too long: {} tokens > {m} maximum", m + m / 2),
        (None, None) => format!("prompt is too long: {message}"),
    };
    ApiError::ContextWindow { message, too_large }
}

/// `N` and `M` from "... N exceeds the limit of M" (thousands separators allowed).
fn exceeds_numbers(text: &str) -> Option<(u64, u64)> {
    let lower = text.to_ascii_lowercase();
    let at = lower.find("exceeds the limit of")?;
    let number = |s: &str| -> Option<u64> {
        let digits: String = s.chars().filter(|c| *c != ',').collect();
        digits.parse().ok()
    };
    let before = lower[..at].trim_end();
    let start = before
        .rfind(|c: char| !(c.is_ascii_digit() || c == ','))
        .map_or(0, |i| i + 1);
    let after = lower[at + "exceeds the limit of".len()..].trim_start();
    let end = after
        .find(|c: char| !(c.is_ascii_digit() || c == ','))
        .unwrap_or(after.len());
    Some((number(&before[start..])?, number(&after[..end])?))
}

fn validate(body: &Map<String, Value>) -> Result<(), ApiError> {
    match body.get("messages") {
        Some(Value::Array(m))
            if m.iter()
                .all(|m| m.get("role").and_then(Value::as_str).is_some()) => {}
        Some(Value::Array(_)) => {
            return Err(ApiError::BadRequest(
                "each of `messages` must be an object with a string `role`".into(),
            ));
        }
        Some(_) => return Err(ApiError::BadRequest("`messages` must be an array".into())),
        None => return Err(ApiError::BadRequest("`messages` is required".into())),
    }
    if body
        .get("system")
        .is_some_and(|s| !(s.is_string() || s.is_array() || s.is_null()))
    {
        return Err(ApiError::BadRequest(
            "`system` must be a string or an array of text blocks".into(),
        ));
    }
    fields::optional_types(
        body,
        &[
            ("max_tokens", fields::Kind::Integer),
            ("temperature", fields::Kind::Number),
            ("top_p", fields::Kind::Number),
            ("tools", fields::Kind::Array),
            ("stop_sequences", fields::Kind::Array),
            ("thinking", fields::Kind::Object),
            ("metadata", fields::Kind::Object),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_errors_become_prompt_too_long() {
        let e = |m: &str| ApiError::ContextWindow {
            message: m.into(),
            too_large: false,
        };
        let text = |e: ApiError| e.to_string();
        let real = e("prompt token count of 622,303 exceeds the limit of 168,000");
        assert_eq!(
            text(anthropic_context_error(real, None)),
            "prompt is too long: 622303 tokens > 168000 maximum"
        );
        assert_eq!(
            text(anthropic_context_error(e("too big"), Some(128_000))),
            "prompt is too long: 192000 tokens > 128000 maximum"
        );
        assert!(matches!(
            anthropic_context_error(ApiError::Unauthorized, None),
            ApiError::Unauthorized
        ));
    }
}
