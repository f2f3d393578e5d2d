//! The fake upstream as a process of its own, for the SDK conformance suite and the
//! benchmark, so that they drive the very same fake as the Rust tests:
//!
//! ```text
//! cargo run --example fake-upstream -- [--port N]
//! ```
//!
//! It prints `fake upstream listening on http://127.0.0.1:PORT` and serves until killed.
//! Scenarios are chosen per request by a `scenario:NAME` marker in the last user message
//! (see `scenarios.rs`). The recording and scripting API of `Fake` is for in-process tests.
#![allow(dead_code)]

#[path = "catalog.rs"]
mod catalog;
#[path = "chat_answers.rs"]
mod chat_answers;
#[path = "fake.rs"]
mod fake;
#[path = "messages_answers.rs"]
mod messages_answers;
#[path = "responses_answers.rs"]
mod responses_answers;
#[path = "scenarios.rs"]
mod scenarios;
#[path = "wire.rs"]
mod wire;

fn main() {
    let mut args = pico_args::Arguments::from_env();
    let port: u16 = args
        .opt_value_from_str("--port")
        .unwrap_or(None)
        .unwrap_or(0);
    let fake = fake::Fake::start_on(port);
    println!("fake upstream listening on {}", fake.url);
    loop {
        std::thread::park();
    }
}
