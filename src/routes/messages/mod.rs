//! `POST /v1/messages`: Anthropic Messages for every Copilot model. Models that Copilot
//! serves on its native `/v1/messages` get the body passed through (`native.rs`: thinking
//! signatures, `cache_control` and betas survive); the others are translated through the
//! Chat pivot (`translated.rs`). Both send through the 413 image cascade (`images.rs`). A
//! request with Anthropic's server `web_search` tool runs the proxy's search loop over
//! either route (`web_search/`).

pub(crate) mod images;
pub(crate) mod native;
pub(crate) mod translated;
mod web_search;

use crate::app::App;
use crate::features::admission;
use crate::features::billing::anthropic_user_turn;
use crate::features::images as image_rules;
use crate::features::web_search as search_rules;
use crate::http::{ApiError, Incoming, Outgoing};
use crate::routes::fields::{self, initiator_header};
use crate::routing::Api;
use crate::upstream::catalog::Model;
use serde_json::{Map, Value};
use std::sync::Arc;

pub fn create(app: &Arc<App>, rq: &Incoming) -> Result<Outgoing, ApiError> {
    let mut body = rq.json_object()?;
    let requested = fields::model(&body)?;
    validate(&body)?;
    crate::routes::shapes::anthropic(&body)?;
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
    let extra = vec![initiator_header(anthropic_user_turn(messages))];
    let search = search_rules::prepare_messages(app, &mut body, &requested);

    let result = match (route, model, search) {
        // The proxy serves the search tool, on whichever route (`web_search/`).
        (route, model, Some(plan)) => {
            web_search::serve(app, rq, body, &requested, model, route, stream, extra, plan)
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

/// `N` and `M` from "... N exceeds the limit of M" (thousands separators allowed: comma,
/// no-break space, narrow no-break space).
fn exceeds_numbers(text: &str) -> Option<(u64, u64)> {
    let lower = text.to_ascii_lowercase();
    let at = lower.find("exceeds the limit of")?;
    let separator = |c: char| matches!(c, ',' | '\u{a0}' | '\u{202f}');
    let in_number = |c: char| c.is_ascii_digit() || separator(c);
    let number = |s: &str| -> Option<u64> {
        let digits: String = s.chars().filter(|c| !separator(*c)).collect();
        digits.parse().ok()
    };
    let before = lower[..at].trim_end();
    // Copilot's wording is not ours: the character before the number may be multi-byte,
    // so step over it by its UTF-8 length, never by one byte.
    let start = before
        .char_indices()
        .rev()
        .find(|(_, c)| !in_number(*c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let after = lower[at + "exceeds the limit of".len()..].trim_start();
    let end = after
        .char_indices()
        .find(|(_, c)| !in_number(*c))
        .map_or(after.len(), |(i, _)| i);
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
    // Anthropic's API requires it, and clients rely on the 400 to find their mistake.
    match body.get("max_tokens") {
        None | Some(Value::Null) => {
            return Err(ApiError::BadRequest("`max_tokens` is required".into()));
        }
        Some(v) if v.as_u64().is_some_and(|n| n >= 1) => {}
        Some(v) if v.is_i64() || v.is_u64() => {
            return Err(ApiError::BadRequest(
                "`max_tokens` must be at least 1".into(),
            ));
        }
        Some(_) => {}
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

    /// Regression (review §3): a multi-byte character before the number made the byte
    /// slicing panic, and Claude Code got a 500 instead of the answer that makes it compact.
    #[test]
    fn non_ascii_context_error_is_prompt_too_long_not_a_panic() {
        let text = |m: &str| {
            let e = ApiError::ContextWindow {
                message: m.into(),
                too_large: false,
            };
            anthropic_context_error(e, Some(128_000)).to_string()
        };
        assert_eq!(
            text("prompt token count of 140\u{202f}000 exceeds the limit of 128\u{202f}000"),
            "prompt is too long: 140000 tokens > 128000 maximum"
        );
        assert_eq!(
            text("Anzahl der Tokens: 140\u{a0}000 exceeds the limit of 128\u{a0}000 ü"),
            "prompt is too long: 140000 tokens > 128000 maximum"
        );
        assert_eq!(
            text("längé—140000 exceeds the limit of 128000…"),
            "prompt is too long: 140000 tokens > 128000 maximum"
        );
        assert_eq!(exceeds_numbers("ü exceeds the limit of ü"), None);
        assert_eq!(exceeds_numbers("é"), None);
    }

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
