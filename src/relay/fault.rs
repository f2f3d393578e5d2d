//! Why a relayed stream ended before its answer was complete: one type for every
//! protocol, so how each fault is worded, typed and counted is decided here once.

use crate::http::Outcome;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// An upstream event that is not valid JSON (the parser's words).
    Malformed(String),
    /// The upstream reported an error in its stream (its words); the adapter writes the
    /// protocol's terminal error.
    Upstream(String),
    /// The upstream reported an error and the adapter already relayed the protocol's own
    /// terminal event for it (Anthropic `error`, Responses `response.failed`): nothing
    /// more is written.
    Relayed,
    /// A further upstream call made inside the stream (a retry) was refused with this
    /// HTTP status.
    Refused { status: u16, message: String },
    /// Reading the upstream failed (reset, TLS error); the message says how.
    Dropped(String),
    /// The upstream body ended before the answer was complete.
    ClosedEarly,
    /// The upstream went silent past the stall limit.
    Stalled,
    /// The client went away; nothing can be written any more.
    ClientGone,
    /// The proxy is shutting down and ends every open stream (`relay::Shutdown`).
    Shutdown,
}

impl Fault {
    /// What the client is told.
    pub fn message(&self) -> String {
        match self {
            Fault::Malformed(e) => format!("Copilot sent a malformed stream event: {e}"),
            Fault::Upstream(m) | Fault::Dropped(m) => m.clone(),
            Fault::Refused { message, .. } => message.clone(),
            Fault::Relayed => "Copilot reported an error".into(),
            Fault::ClosedEarly => {
                "Copilot closed the stream before the response was complete".into()
            }
            Fault::Stalled => {
                "Copilot stopped sending data (stall timeout); the response is incomplete".into()
            }
            Fault::ClientGone => "the client went away".into(),
            Fault::Shutdown => "the proxy is shutting down; the response is incomplete".into(),
        }
    }

    /// How the stream is counted (a shutdown counts with the upstream errors: the answer
    /// is cut short all the same).
    pub fn outcome(&self) -> Outcome {
        match self {
            Fault::Stalled => Outcome::Stalled,
            Fault::ClientGone => Outcome::ClientGone,
            _ => Outcome::UpstreamError,
        }
    }

    /// The error `type` of a Chat error chunk, and the `code` of a Responses
    /// `response.failed`.
    pub fn openai_code(&self) -> &'static str {
        match self {
            Fault::Stalled => "upstream_timeout",
            Fault::Shutdown => "server_shutdown",
            _ => "upstream_error",
        }
    }

    /// The error `type` of an Anthropic `error` event.
    pub fn anthropic_type(&self) -> &'static str {
        match self {
            Fault::Stalled | Fault::Shutdown => "overloaded_error",
            Fault::Refused { status, .. } => crate::protocol::anthropic::error_type(*status),
            _ => "api_error",
        }
    }
}
