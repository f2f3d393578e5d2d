//! What the Messages route does about images on the way up: the vision header when a
//! request carries one, and the 413 cascade that removes older images, then all, before
//! giving up with the context-window error.

use crate::features::images;
use crate::http::ApiError;
use crate::routes::fields::vision_header;
use serde_json::{Map, Value};

/// Sends, and when Copilot answers 413 (body too large) sends again without the older
/// images, then without any; after that the client gets the context-window error that
/// makes Claude Code compact.
pub fn send_with_image_fallback<T>(
    body: &mut Map<String, Value>,
    mut send: impl FnMut(&Map<String, Value>) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let too_large = |r: &Result<T, ApiError>| {
        matches!(
            r,
            Err(ApiError::ContextWindow {
                too_large: true,
                ..
            })
        )
    };
    let first = send(body);
    if !too_large(&first) {
        return first;
    }
    for keep_last in [true, false] {
        let removed = images::strip(body, keep_last);
        if removed == 0 {
            continue;
        }
        crate::warn!("Copilot answered 413; removed {removed} image(s) and sending again");
        let again = send(body);
        if !too_large(&again) {
            return again;
        }
    }
    first
}

/// The route's headers plus the vision header when this body (after any image removal)
/// still carries an image.
pub fn with_vision(
    extra: &[(&'static str, String)],
    body: &Map<String, Value>,
) -> Vec<(&'static str, String)> {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut headers = extra.to_vec();
    headers.extend(vision_header(messages.iter().any(has_image)));
    headers
}

/// Any image block, also inside tool results.
pub fn has_image(message: &Value) -> bool {
    fn in_blocks(v: &Value) -> bool {
        v.as_array().is_some_and(|blocks| {
            blocks.iter().any(|b| {
                b.get("type").and_then(Value::as_str) == Some("image")
                    || b.get("content").is_some_and(in_blocks)
            })
        })
    }
    message.get("content").is_some_and(in_blocks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn images_found_in_tool_results_too() {
        let img = json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "x"}});
        assert!(has_image(
            &json!({"role": "user", "content": [img.clone()]})
        ));
        assert!(has_image(
            &json!({"role": "user", "content": [{"type": "tool_result", "content": [img]}]})
        ));
        assert!(!has_image(&json!({"role": "user", "content": "no"})));
    }

    #[test]
    fn image_fallback_strips_older_then_all() {
        let img = json!({"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "AAAA"}});
        let mut body = json!({"messages": [{"role": "user", "content": [img.clone(), img]}]})
            .as_object()
            .unwrap()
            .clone();
        let mut seen = Vec::new();
        let result: Result<(), ApiError> = send_with_image_fallback(&mut body, |b| {
            seen.push(
                b["messages"][0]["content"]
                    .to_string()
                    .matches("\"image\"")
                    .count(),
            );
            Err(ApiError::ContextWindow {
                message: "413".into(),
                too_large: true,
            })
        });
        assert_eq!(seen, [2, 1, 0]);
        assert!(result.is_err());
    }
}
