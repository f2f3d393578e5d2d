//! The three wire protocols the proxy speaks (Chat Completions, Anthropic Messages,
//! Responses): what each one's stream looks like at its edges. Every protocol's terminal
//! events (the error that ends a stream, the keepalive sent during silence) are built
//! here and nowhere else, so the relay's adapters and the translators' state machines
//! end a stream in the same words. Imports nothing from the crate but `sse`.

pub mod anthropic;
pub mod anthropic_request;
pub mod chat;
pub mod chat_chunk;
pub mod chat_request;
mod json_out;
pub mod responses;
pub mod responses_request;
