//! The three wire protocols the proxy speaks (Chat Completions, Anthropic Messages,
//! Responses) as typed values: the requests the translators read (`anthropic_request`,
//! `responses_request`) and the Chat request they build (`chat_request`); the upstream
//! Chat chunk (`chat_chunk`) and the borrowed event heads the pass-through relays read;
//! the stream events the proxy writes (`anthropic`, `responses`, `chat`). Every protocol's
//! terminal events (the error that ends a stream, the keepalive sent during silence) are
//! built here and nowhere else, so the relay's adapters and the translators' state
//! machines end a stream in the same words. Imports nothing from the crate but the leaves
//! `sse` and `ids`.

pub mod anthropic;
pub mod anthropic_request;
pub mod chat;
pub mod chat_body;
pub mod chat_chunk;
pub mod chat_client;
pub mod chat_request;
mod json_out;
pub mod lenient;
pub mod responses;
pub mod responses_request;
