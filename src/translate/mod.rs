//! Protocol translation through one pivot format, OpenAI Chat Completions: each module
//! converts one direction of one message kind, as pure functions over JSON values.

mod anthropic_messages;
pub(crate) use anthropic_messages::thousands;
pub mod anthropic_request;
pub mod anthropic_response;
pub mod anthropic_stream;
mod chat_repair;
pub mod chat_responses;
pub(crate) mod json_repair;
mod json_scan;
pub mod responses_request;
pub mod responses_response;
pub mod responses_stream;
pub mod tool_names;
