//! Chat Completions stream events the proxy writes itself.

/// The OpenAI keepalive (an SSE comment), sent during upstream silence on the Chat and
/// Responses APIs.
pub const KEEPALIVE: &[u8] = b": keepalive\n\n";

/// The last event of every Chat stream.
pub const DONE: &[u8] = b"data: [DONE]\n\n";

/// The chunk that reports a fault mid-stream (`kind` like `upstream_error`), sent before
/// `[DONE]`: the shape OpenAI's SDKs raise as an `APIError`.
pub fn error_chunk(message: &str, kind: &str) -> String {
    let body = serde_json::json!({
        "error": {"message": message, "type": kind, "param": null, "code": null},
    });
    format!("data: {body}\n\n")
}
