//! One error type for everything a route can answer with, mapped to the wire in one place:
//! the Anthropic shape on `/v1/messages*`, the OpenAI shape everywhere else.

use super::Outgoing;
use serde_json::{Value, json};

/// Which error shape a path speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    OpenAi,
    Anthropic,
}

impl Family {
    pub fn for_path(path: &str) -> Family {
        if path == "/v1/messages" || path.starts_with("/v1/messages/") {
            Family::Anthropic
        } else {
            Family::OpenAi
        }
    }
}

#[derive(Debug)]
pub enum ApiError {
    /// The client's request is malformed or names something invalid (400).
    BadRequest(String),
    /// No API key, or a wrong one (401).
    Unauthorized,
    /// No such route or resource (404).
    NotFound(String),
    /// The path exists but not for this method (405).
    MethodNotAllowed(&'static str),
    /// The body is larger than `--max-body-mb` (413).
    TooLarge(usize),
    /// The proxy cannot serve yet: no Copilot token or no catalog (503).
    NotReady(String),
    /// An upstream answered with an error; forwarded with its status. A JSON body is
    /// passed on as is (never double-encoded); anything else becomes a message.
    Upstream {
        status: u16,
        body: Vec<u8>,
        content_type: String,
        retry_after: Option<String>,
    },
    /// Copilot refused our editor version headers as too old (its HTTP 466).
    VersionRejected,
    /// The request does not fit the model's context window (400, with
    /// `code: context_length_exceeded` on OpenAI routes so clients can compact).
    /// `too_large` marks Copilot's 413 (body over its size limit), which the Messages route
    /// answers by removing images before giving up.
    ContextWindow { message: String, too_large: bool },
    /// The upstream could not be reached or answered nonsense (502).
    BadGateway(String),
    /// The upstream accepted the request but sent no answer in time (504).
    GatewayTimeout(String),
    /// A bug: a handler panicked (500). Never used for client mistakes.
    Internal(String),
    /// A rate limit (`--rate-limit`, `--burst-count`) refused the request; the client may
    /// come back after `retry_after` whole seconds (429 with `Retry-After`).
    RateLimited { message: String, retry_after: u64 },
    /// The operator rejected the request at the `--manual` prompt, or did not answer (403).
    Rejected(String),
    /// The client went away while its request waited; nothing was sent upstream (499, for
    /// the access log only: no one reads the answer).
    ClientGone,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            ApiError::BadRequest(m) | ApiError::NotFound(m) | ApiError::NotReady(m) => {
                f.write_str(m)
            }
            ApiError::BadGateway(m) | ApiError::GatewayTimeout(m) | ApiError::Internal(m) => {
                f.write_str(m)
            }
            ApiError::ContextWindow { message, .. } => f.write_str(message),
            ApiError::RateLimited { message, .. } | ApiError::Rejected(message) => {
                f.write_str(message)
            }
            ApiError::ClientGone => f.write_str("the client went away while the request waited"),
            ApiError::VersionRejected => f.write_str(
                "Copilot rejected the editor version headers as too old (HTTP 466). Update \
                 copilot-api, or override them with --editor-version, --editor-plugin-version \
                 and --user-agent (or COPILOT_EDITOR_VERSION, COPILOT_EDITOR_PLUGIN_VERSION, \
                 COPILOT_USER_AGENT)",
            ),
            ApiError::Unauthorized => f.write_str("missing or invalid API key"),
            ApiError::MethodNotAllowed(allowed) => write!(f, "method not allowed; use {allowed}"),
            ApiError::TooLarge(limit) => write!(
                f,
                "request body is larger than the limit of {} MiB (--max-body-mb)",
                limit / (1024 * 1024)
            ),
            ApiError::Upstream {
                status,
                body,
                content_type,
                ..
            } => f.write_str(&upstream_message(*status, body, content_type)),
        }
    }
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest(_) => 400,
            ApiError::Unauthorized => 401,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed(_) => 405,
            ApiError::TooLarge(_) => 413,
            ApiError::NotReady(_) => 503,
            // Copilot's own 500 is relayed as 502: a 500 would say the proxy failed, and
            // clients and monitors tell the two apart (issue 10's fault matrix).
            ApiError::Upstream { status: 500, .. } => 502,
            ApiError::Upstream { status, .. } => *status,
            ApiError::VersionRejected => 466,
            ApiError::ContextWindow { .. } => 400,
            ApiError::BadGateway(_) => 502,
            ApiError::GatewayTimeout(_) => 504,
            ApiError::Internal(_) => 500,
            ApiError::RateLimited { .. } => 429,
            ApiError::Rejected(_) => 403,
            ApiError::ClientGone => 499,
        }
    }

    pub fn to_response(&self, family: Family) -> Outgoing {
        let mut out = Outgoing::json(self.status(), &self.body(family));
        if let ApiError::MethodNotAllowed(allowed) = self {
            out.headers.push(("Allow".into(), (*allowed).into()));
        }
        if matches!(self, ApiError::NotReady(_)) {
            out.headers.push(("Retry-After".into(), "5".into()));
        }
        // Clients that retry on their own (Claude Code retries even a 401 ten times) stop at
        // once on a mistake that another try cannot fix.
        if (400..500).contains(&self.status()) && !matches!(self.status(), 408 | 409 | 429) {
            out.headers.push(("x-should-retry".into(), "false".into()));
        }
        if let ApiError::Upstream {
            retry_after: Some(r),
            ..
        } = self
        {
            out.headers.push(("Retry-After".into(), r.clone()));
        }
        if let ApiError::RateLimited { retry_after, .. } = self {
            out.headers
                .push(("Retry-After".into(), (*retry_after).max(1).to_string()));
        }
        out
    }

    fn body(&self, family: Family) -> Value {
        if let ApiError::Upstream { body, .. } = self {
            // An upstream error already in this family's shape is passed through as it is.
            if let Ok(v @ Value::Object(_)) = serde_json::from_slice::<Value>(body) {
                let native = match family {
                    Family::Anthropic => v.get("type").and_then(Value::as_str) == Some("error"),
                    Family::OpenAi => v.get("error").is_some_and(Value::is_object),
                };
                if native {
                    return v;
                }
            }
        }
        let status = self.status();
        let message = self.to_string();
        match family {
            Family::Anthropic => json!({
                "type": "error",
                "error": {"type": anthropic_type(status), "message": message},
            }),
            Family::OpenAi => json!({
                "error": {
                    "message": message,
                    "type": openai_type(status),
                    "param": null,
                    "code": self.openai_code(),
                },
            }),
        }
    }

    fn openai_code(&self) -> Value {
        let code = match self {
            ApiError::Unauthorized => "invalid_api_key",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::TooLarge(_) => "request_too_large",
            ApiError::NotReady(_) => "not_ready",
            ApiError::ContextWindow { .. } => "context_length_exceeded",
            ApiError::VersionRejected => "client_version_rejected",
            ApiError::RateLimited { .. } => "rate_limit_exceeded",
            ApiError::Rejected(_) => "request_rejected",
            _ => return Value::Null,
        };
        Value::from(code)
    }
}

fn anthropic_type(status: u16) -> &'static str {
    match status {
        400 | 405 | 422 | 466 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        _ => "api_error",
    }
}

fn openai_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        503 => "service_unavailable",
        _ => "api_error",
    }
}

/// A readable message for an upstream error body that is not a JSON object.
fn upstream_message(status: u16, body: &[u8], content_type: &str) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        for pointer in ["/error/message", "/message"] {
            if let Some(m) = v.pointer(pointer).and_then(Value::as_str) {
                return m.to_string();
            }
        }
    }
    let lower = text.to_ascii_lowercase();
    if text.is_empty() {
        format!("upstream request failed with HTTP {status} and an empty body")
    } else if content_type.contains("text/html")
        || lower.starts_with("<!doctype html")
        || lower.starts_with("<html")
    {
        format!(
            "upstream returned an HTML error page (HTTP {status}): {}",
            html_summary(text)
        )
    } else {
        text.chars().take(500).collect()
    }
}

/// The `<title>` of an HTML page, tags stripped.
fn html_summary(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let title = lower
        .find("<title>")
        .and_then(|s| {
            lower[s + 7..]
                .find("</title>")
                .map(|e| &html[s + 7..s + 7 + e])
        })
        .unwrap_or("no title");
    title.trim().chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(e: &ApiError, family: Family) -> Value {
        serde_json::from_slice(e.to_response(family).body()).unwrap()
    }

    #[test]
    fn family_by_path() {
        assert_eq!(Family::for_path("/v1/messages"), Family::Anthropic);
        assert_eq!(
            Family::for_path("/v1/messages/count_tokens"),
            Family::Anthropic
        );
        assert_eq!(Family::for_path("/v1/messagesx"), Family::OpenAi);
        assert_eq!(Family::for_path("/v1/chat/completions"), Family::OpenAi);
    }

    #[test]
    fn shapes_per_family() {
        let e = ApiError::Unauthorized;
        assert_eq!(
            body(&e, Family::OpenAi)["error"]["type"],
            "authentication_error"
        );
        assert_eq!(body(&e, Family::OpenAi)["error"]["code"], "invalid_api_key");
        let a = body(&e, Family::Anthropic);
        assert_eq!(
            (a["type"].as_str(), a["error"]["type"].as_str()),
            (Some("error"), Some("authentication_error"))
        );
        assert_eq!(
            body(&ApiError::TooLarge(1 << 20), Family::Anthropic)["error"]["type"],
            "request_too_large"
        );
        assert_eq!(
            body(&ApiError::NotFound("x".into()), Family::Anthropic)["error"]["type"],
            "not_found_error"
        );
    }

    #[test]
    fn upstream_errors_are_reshaped_for_the_other_family() {
        let openai = br#"{"error":{"message":"model not found","code":"model_not_supported"}}"#;
        let e = ApiError::Upstream {
            status: 400,
            body: openai.to_vec(),
            content_type: "application/json".into(),
            retry_after: None,
        };
        let a = body(&e, Family::Anthropic);
        assert_eq!(a["type"], "error");
        assert_eq!(a["error"]["message"], "model not found");
        assert_eq!(a["error"]["type"], "invalid_request_error");
    }

    #[test]
    fn upstream_errors_are_forwarded_not_double_encoded() {
        let json_body =
            br#"{"error":{"message":"bad","code":"model_max_prompt_tokens_exceeded"}}"#.to_vec();
        let e = ApiError::Upstream {
            status: 400,
            body: json_body,
            content_type: "application/json".into(),
            retry_after: None,
        };
        assert_eq!(
            body(&e, Family::OpenAi)["error"]["code"],
            "model_max_prompt_tokens_exceeded"
        );
        let html =
            b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head></html>".to_vec();
        let e = ApiError::Upstream {
            status: 502,
            body: html,
            content_type: "text/html".into(),
            retry_after: None,
        };
        let m = body(&e, Family::OpenAi)["error"]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(m.contains("HTML") && m.contains("502 Bad Gateway"), "{m}");
        let e = ApiError::Upstream {
            status: 500,
            body: vec![],
            content_type: String::new(),
            retry_after: None,
        };
        assert!(e.to_string().contains("empty body"));
    }
}
