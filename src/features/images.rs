//! Images in Anthropic requests: the tiny-PNG guard, proactive trimming of images the model
//! has already answered (`IMAGE_CONTEXT_TRIMMING_ENABLED`), and the stripping steps used
//! when Copilot answers 413 to a body that is too large.

use serde_json::{Map, Value, json};

pub const TRIMMED: &str = "[Processed image trimmed to reduce request size]";
pub const REMOVED: &str = "[Image removed to reduce request size]";

/// Where one base64 image block sits: message index and the path of block indices.
#[derive(Debug, Clone, PartialEq)]
struct ImageRef {
    message: usize,
    block: usize,
    /// The index inside a `tool_result`'s content, when nested.
    nested: Option<usize>,
}

fn messages(body: &Map<String, Value>) -> &[Value] {
    body.get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn is_base64_image(block: &Value) -> bool {
    block.get("type").and_then(Value::as_str) == Some("image")
        && block.pointer("/source/type").and_then(Value::as_str) == Some("base64")
}

/// Base64 image blocks of user messages, top level or inside tool results, in order.
fn image_refs(body: &Map<String, Value>) -> Vec<ImageRef> {
    let mut refs = Vec::new();
    for (m, message) in messages(body).iter().enumerate() {
        if message.get("role").and_then(Value::as_str) != Some("user") {
            continue;
        }
        let Some(blocks) = message.get("content").and_then(Value::as_array) else {
            continue;
        };
        for (b, block) in blocks.iter().enumerate() {
            if is_base64_image(block) {
                refs.push(ImageRef {
                    message: m,
                    block: b,
                    nested: None,
                });
            }
            if let Some(inner) = block.get("content").and_then(Value::as_array) {
                for (n, item) in inner.iter().enumerate() {
                    if is_base64_image(item) {
                        refs.push(ImageRef {
                            message: m,
                            block: b,
                            nested: Some(n),
                        });
                    }
                }
            }
        }
    }
    refs
}

/// Replaces one image with a text block; returns the base64 length removed.
fn replace(body: &mut Map<String, Value>, r: &ImageRef, text: &str) -> usize {
    let Some(block) = body
        .get_mut("messages")
        .and_then(|m| m.get_mut(r.message))
        .and_then(|m| m.get_mut("content"))
        .and_then(|c| c.get_mut(r.block))
    else {
        return 0;
    };
    let target = match r.nested {
        None => block,
        Some(n) => match block.get_mut("content").and_then(|c| c.get_mut(n)) {
            Some(t) => t,
            None => return 0,
        },
    };
    let removed = target
        .pointer("/source/data")
        .and_then(Value::as_str)
        .map_or(0, str::len);
    *target = json!({"type": "text", "text": text});
    removed
}

/// A 400 message for a base64 PNG under 4x4 pixels (Copilot fails on such placeholders
/// with an unhelpful error), or None.
pub fn tiny_png(body: &Map<String, Value>) -> Option<String> {
    for r in image_refs(body) {
        let message = &messages(body)[r.message]["content"][r.block];
        let block = match r.nested {
            None => message,
            Some(n) => &message["content"][n],
        };
        if block.pointer("/source/media_type").and_then(Value::as_str) != Some("image/png") {
            continue;
        }
        let data = block
            .pointer("/source/data")
            .and_then(Value::as_str)
            .unwrap_or("");
        let Some(head) = decode_prefix(data, 24) else {
            continue;
        };
        if head.len() < 24 || head[..8] != [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a] {
            continue;
        }
        let width = u32::from_be_bytes([head[16], head[17], head[18], head[19]]);
        let height = u32::from_be_bytes([head[20], head[21], head[22], head[23]]);
        if width < 4 || height < 4 {
            return Some(format!(
                "Embedded image/png image is too small to process reliably ({width}x{height}). This guard only blocks \
                 tiny placeholder-style images and does not affect normal screenshots or UI attachments. Use an \
                 image at least 4x4 pixels."
            ));
        }
    }
    None
}

/// The first `n` bytes of standard base64 data (whitespace ignored), or None if invalid.
fn decode_prefix(data: &str, n: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(n + 3);
    let (mut acc, mut bits) = (0u32, 0);
    for c in data.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            if out.len() >= n {
                break;
            }
        }
    }
    Some(out)
}

/// Replaces images that a later assistant message has already answered (with text) and
/// that lie at least `before` messages back. Returns how many were trimmed.
pub fn trim_processed(body: &mut Map<String, Value>, before: usize) -> usize {
    let last = messages(body).len().saturating_sub(1);
    let answered_after = |i: usize, msgs: &[Value]| {
        msgs[i + 1..]
            .iter()
            .any(|m| m.get("role").and_then(Value::as_str) == Some("assistant") && has_text(m))
    };
    let targets: Vec<ImageRef> = image_refs(body)
        .into_iter()
        .filter(|r| last - r.message >= before && answered_after(r.message, messages(body)))
        .collect();
    for r in &targets {
        replace(body, r, TRIMMED);
    }
    targets.len()
}

fn has_text(message: &Value) -> bool {
    match message.get("content") {
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(Value::Array(blocks)) => blocks.iter().any(|b| {
            b.get("type").and_then(Value::as_str) == Some("text")
                && b.get("text")
                    .and_then(Value::as_str)
                    .is_some_and(|t| !t.trim().is_empty())
        }),
        _ => false,
    }
}

/// Removes images after a 413: all but the most recent one (`keep_last`), or all. Returns
/// the number removed.
pub fn strip(body: &mut Map<String, Value>, keep_last: bool) -> usize {
    let mut refs = image_refs(body);
    if keep_last {
        refs.pop();
    }
    for r in &refs {
        replace(body, r, REMOVED);
    }
    refs.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG header of the given size, base64-encoded (bytes 0..24 are what the guard reads).
    fn png(w: u32, h: u32) -> Value {
        let mut bytes = vec![
            0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, b'I', b'H', b'D', b'R',
        ];
        bytes.extend(w.to_be_bytes());
        bytes.extend(h.to_be_bytes());
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let data: String = bytes
            .chunks(3)
            .flat_map(|c| {
                let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
                (0..4)
                    .rev()
                    .map(move |i| A[((n >> (6 * i)) & 63) as usize] as char)
            })
            .collect();
        json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}})
    }

    fn body(messages: Value) -> Map<String, Value> {
        json!({"messages": messages}).as_object().unwrap().clone()
    }

    #[test]
    fn tiny_pngs_are_refused_with_their_size() {
        let b = body(
            json!([{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [png(1, 1)]}]}]),
        );
        assert!(tiny_png(&b).unwrap().contains("(1x1)"));
        assert_eq!(
            tiny_png(&body(json!([{"role": "user", "content": [png(800, 600)]}]))),
            None
        );
    }

    #[test]
    fn trimming_replaces_only_answered_old_images() {
        let mut b = body(json!([
            {"role": "user", "content": [png(10, 10)]},
            {"role": "assistant", "content": "I see a cat."},
            {"role": "user", "content": [png(10, 10)]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "x", "name": "n", "input": {}}]},
            {"role": "user", "content": "more"},
        ]));
        assert_eq!(trim_processed(&mut b, 2), 1);
        assert_eq!(b["messages"][0]["content"][0]["text"], TRIMMED);
        assert_eq!(b["messages"][2]["content"][0]["type"], "image");
    }

    #[test]
    fn stripping_keeps_the_last_image_then_removes_all() {
        let mut b = body(json!([
            {"role": "user", "content": [png(10, 10), png(10, 10)]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [png(10, 10)]}]},
        ]));
        assert_eq!(strip(&mut b, true), 2);
        assert_eq!(
            b["messages"][1]["content"][0]["content"][0]["type"],
            "image"
        );
        assert_eq!(strip(&mut b, false), 1);
        assert_eq!(
            b["messages"][1]["content"][0]["content"][0]["text"],
            REMOVED
        );
        assert_eq!(strip(&mut b, false), 0);
    }
}
