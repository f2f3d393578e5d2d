//! The upstream layer's own error: what went wrong talking to GitHub or Copilot, in the
//! upstream's terms. It becomes the client-facing `ApiError` in one place, the `From`
//! below, so the upstream layer never decides HTTP answers and imports nothing above it.

use crate::http::ApiError;

#[derive(Debug)]
pub enum UpstreamError {
    /// No valid Copilot token: the exchange with GitHub failed (the proxy is not ready).
    NoToken(String),
    /// The upstream could not be reached, the connection broke, or it answered nonsense.
    Unreachable(String),
    /// The upstream accepted the request but sent no answer in time.
    Timeout(String),
    /// The upstream answered with an error status; its body is kept as it came.
    Status {
        status: u16,
        body: Vec<u8>,
        content_type: String,
        retry_after: Option<String>,
    },
    /// Copilot refused our editor version headers as too old (its HTTP 466).
    VersionRejected,
    /// The request does not fit the model's context window; `too_large` marks Copilot's
    /// 413 (body over its size limit).
    ContextWindow { message: String, too_large: bool },
}

impl From<UpstreamError> for ApiError {
    fn from(e: UpstreamError) -> ApiError {
        match e {
            UpstreamError::NoToken(m) => ApiError::NotReady(m),
            UpstreamError::Unreachable(m) => ApiError::BadGateway(m),
            UpstreamError::Timeout(m) => ApiError::GatewayTimeout(m),
            UpstreamError::Status {
                status,
                body,
                content_type,
                retry_after,
            } => ApiError::Upstream {
                status,
                body,
                content_type,
                retry_after,
            },
            UpstreamError::VersionRejected => ApiError::VersionRejected,
            UpstreamError::ContextWindow { message, too_large } => {
                ApiError::ContextWindow { message, too_large }
            }
        }
    }
}
