//! Shared test support: the fake upstream (`fake`; its sockets in `wire`, its canned data in
//! `catalog`, its completion answers in `scenarios`, `chat_answers`, `messages_answers` and
//! `responses_answers`),
//! the helpers that run the real binary and talk HTTP to it (`proc`), and the client side
//! of event streams (`sse`).

pub mod catalog;
pub mod chat_answers;
pub mod fake;
pub mod messages_answers;
pub mod proc;
pub mod responses_answers;
pub mod scenarios;
pub mod search;
pub mod sse;
pub mod wire;
pub mod ws;

pub use catalog::*;
pub use fake::*;
pub use proc::*;
pub use scenarios::{ErrorBody, Scenario};
pub use sse::*;
pub use wire::StreamEnd;
