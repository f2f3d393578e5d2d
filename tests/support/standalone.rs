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
//! With `FAKE_DUMP=DIR` set, every request is also written to `DIR/NNN.json` (method, path,
//! query, headers, body) and summarised on stdout, for driving real clients.
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
#[path = "search.rs"]
mod search;
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
    let Some(dir) = std::env::var_os("FAKE_DUMP") else {
        loop {
            std::thread::park();
        }
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("FAKE_DUMP: create the directory");
    let mut seen = 0;
    loop {
        let requests = fake.requests();
        for rq in &requests[seen..] {
            let body = rq.json();
            let headers: serde_json::Map<String, serde_json::Value> = rq
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            let record = serde_json::json!({"id": rq.id, "method": rq.method, "path": rq.path,
                "query": rq.query, "headers": headers, "body": body});
            let file = dir.join(format!("{:03}.json", rq.id));
            let _ = std::fs::write(&file, serde_json::to_string_pretty(&record).unwrap());
            println!(
                "fake: #{} {} {} model={} stream={} marker={:?} tool_output_last={}",
                rq.id,
                rq.method,
                rq.path,
                body["model"],
                body["stream"],
                scenarios::marker(&body),
                scenarios::ends_with_tool_output(&body)
            );
        }
        seen = requests.len();
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
