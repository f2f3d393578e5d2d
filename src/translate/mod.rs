//! Protocol translation through one pivot format, OpenAI Chat Completions: each module
//! converts one direction of one message kind, as pure functions over JSON values.

// Until the /v1/messages route is wired.
#![allow(dead_code)]

mod anthropic_messages;
pub mod anthropic_request;
pub mod anthropic_response;
pub mod anthropic_stream;
mod chat_repair;
pub mod tool_names;
pub mod chat_responses;
mod json_repair;
pub mod responses_request;
pub mod responses_response;
pub mod responses_stream;
