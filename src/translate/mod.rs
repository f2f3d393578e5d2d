//! Protocol translation through one pivot format, OpenAI Chat Completions: each module
//! converts one direction of one message kind. Requests to Chat are read as `protocol`'s
//! typed requests and built as its typed `chat_request::ChatRequest`; the stream translators
//! into Anthropic and Responses are state machines that read borrowed
//! `protocol::chat_chunk::Chunk`s and write `protocol`'s typed stream events as SSE events;
//! the Chat <-> Responses bridge (`chat_responses`) reads Responses events and answers
//! through `protocol::responses`' borrowed readers and writes typed Chat chunks, but takes
//! and builds its request as a `serde_json::Value` tree. Non-stream answers into Anthropic
//! and Responses work on `Value` trees. Nothing here touches a socket (only the log), so
//! every module is tested without one.

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
