//! Issue #11, the context-overflow switch on each API: a prompt over the requested model's
//! input limit goes to the largest catalog model that holds it (the same vendor only on
//! Messages), nothing moves when it fits or when nothing fits, and `--no-auto-switch` is
//! honoured. Run against a catalog of small limits so that prompts stay small.

use super::{assert_anthropic_error, post_json};
use crate::support::{Fake, Proxy, Recorded, model};
use serde_json::{Value, json};

/// Limits in tokens; `big-gemini` and `big-codex` tie, so the first in the catalog wins.
fn small_catalog() -> Value {
    let limits = |n: u64| json!({"max_prompt_tokens": n, "max_context_window_tokens": n * 2, "max_output_tokens": 1000});
    let claude = &["/chat/completions", "/v1/messages"][..];
    json!({"object": "list", "data": [
        model("tiny-gpt", "Tiny GPT", "OpenAI", "chat", Some(&["/chat/completions"]), limits(60)),
        model("tiny-claude", "Tiny Claude", "Anthropic", "chat", Some(claude), limits(60)),
        model("mid-claude", "Mid Claude", "Anthropic", "chat", Some(claude), limits(600)),
        model("big-gemini", "Big Gemini", "Google", "chat", None, limits(3000)),
        model("big-codex", "Big Codex", "OpenAI", "chat", Some(&["/responses"]), limits(3000)),
        model("embed", "Embed", "OpenAI", "embeddings", Some(&["/embeddings"]), limits(90000)),
    ]})
}

fn words(n: usize) -> String {
    "word ".repeat(n)
}

fn start(args: &[&str]) -> (Fake, Proxy) {
    let fake = Fake::start();
    fake.set_catalog(small_catalog());
    let proxy = Proxy::start(&fake, args, &[]);
    (fake, proxy)
}

/// The one completion request Copilot received: its path and model.
fn sent(fake: &Fake) -> (String, String) {
    let got: Vec<Recorded> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(got.len(), 1, "one upstream call: {got:?}");
    let model = got[0].json()["model"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (got[0].path.clone(), model)
}

fn chat(proxy: &Proxy, model: &str, text: &str) -> Value {
    let body = json!({"model": model, "messages": [{"role": "user", "content": text}]});
    let resp = post_json(proxy, "/v1/chat/completions", &[], &body);
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.json()
}

#[test]
fn chat_over_the_limit_switches_to_the_largest_model_that_fits() {
    let (fake, proxy) = start(&[]);
    let answer = chat(&proxy, "tiny-gpt", &words(300));
    assert_eq!(
        sent(&fake),
        ("/chat/completions".into(), "big-gemini".into())
    );
    assert_eq!(
        answer["model"], "big-gemini",
        "the answer names the model used"
    );
    let log = proxy.output().join("\n");
    assert!(
        log.contains("context overflow: ~") && log.contains("> 60 for tiny-gpt, using big-gemini"),
        "{log}"
    );
}

#[test]
fn responses_switch_and_take_the_new_models_route() {
    let (fake, proxy) = start(&[]);
    let body = json!({"model": "tiny-gpt", "input": words(300)});
    let resp = post_json(&proxy, "/v1/responses", &[], &body);
    assert_eq!(resp.status, 200, "{}", resp.text());
    // big-gemini is served on /chat/completions only: translated there.
    assert_eq!(
        sent(&fake),
        ("/chat/completions".into(), "big-gemini".into())
    );
    assert_eq!(resp.json()["model"], "big-gemini");
}

fn message(model: &str, text: &str) -> Value {
    json!({"model": model, "max_tokens": 100, "messages": [{"role": "user", "content": text}]})
}

#[test]
fn messages_switch_within_the_vendor_only() {
    let (fake, proxy) = start(&[]);
    let resp = post_json(
        &proxy,
        "/v1/messages",
        &[],
        &message("tiny-claude", &words(300)),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    // mid-claude, not the larger big-gemini of another vendor.
    assert_eq!(sent(&fake), ("/v1/messages".into(), "mid-claude".into()));
    assert_eq!(resp.json()["model"], "mid-claude");
}

#[test]
fn messages_with_nothing_in_the_vendor_large_enough_get_prompt_is_too_long() {
    let (fake, proxy) = start(&[]);
    let text = format!("scenario:context-window {}", words(1000));
    let resp = post_json(&proxy, "/v1/messages", &[], &message("tiny-claude", &text));
    assert_eq!(sent(&fake).1, "tiny-claude", "no switch to another vendor");
    assert_anthropic_error(&resp, 400, Some("invalid_request_error"));
    let m = resp.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        m.starts_with("prompt is too long: ")
            && m.contains(" tokens > ")
            && m.ends_with(" maximum"),
        "{m}"
    );
}

/// A request of `n` words to `model` on `path`, in that API's shape.
fn request(path: &str, model: &str, n: usize) -> Value {
    match path {
        "/v1/messages" => message(model, &words(n)),
        "/v1/responses" => json!({"model": model, "input": words(n)}),
        _ => json!({"model": model, "messages": [{"role": "user", "content": words(n)}]}),
    }
}

/// The model of the latest completion request Copilot received.
fn last_sent_model(fake: &Fake) -> String {
    let posts: Vec<Recorded> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    let last = posts.last().expect("an upstream call");
    last.json()["model"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn every_api_keeps_its_model_when_under_when_nothing_fits_and_with_no_auto_switch() {
    // (path, model, words with nothing large enough: past 3000, or past the vendor's 600)
    let apis = [
        ("/v1/chat/completions", "tiny-gpt", 5000),
        ("/v1/responses", "tiny-gpt", 5000),
        ("/v1/messages", "tiny-claude", 1000),
    ];
    let (fake, proxy) = start(&[]);
    let (fake_off, proxy_off) = start(&["--no-auto-switch"]);
    for (path, model, too_many) in apis {
        for (n, fake, proxy) in [
            (5, &fake, &proxy),
            (too_many, &fake, &proxy),
            (300, &fake_off, &proxy_off),
        ] {
            let resp = post_json(proxy, path, &[], &request(path, model, n));
            assert_eq!(resp.status, 200, "{path} {n}: {}", resp.text());
            assert_eq!(last_sent_model(fake), model, "{path} with {n} words");
        }
    }
    assert!(!proxy.output().join("\n").contains("context overflow"));
}
