//! Issue 13 items 4 and 5: the Codex model catalog on `GET /v1/models` and the reasoning
//! effort clamped per model (the fake's catalog lists `low`, `medium`, `high` for its
//! reasoning models) on each API, with one retry without the effort when Copilot still
//! rejects it.

use crate::post_json;
use crate::support::*;
use serde_json::{Value, json};

#[test]
fn codex_gets_its_model_catalog_and_other_clients_keep_the_openai_list() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let codex_ua = "codex_exec/0.169.0 (Debian 12.0.0; x86_64) xterm (codex_exec; 0.169.0)";
    for (url, headers) in [
        (proxy.at("/v1/models"), vec![("user-agent", codex_ua)]),
        (proxy.at("/v1/models?client_version=0.169.0"), vec![]),
    ] {
        let resp = get(&url, &headers);
        assert_eq!(resp.status, 200, "{}", resp.text());
        let v = resp.json();
        assert!(v.get("data").is_none(), "{v}");
        let models = v["models"].as_array().unwrap();
        let slugs: Vec<&str> = models.iter().map(|m| m["slug"].as_str().unwrap()).collect();
        // Every chat model, not the embeddings one.
        assert_eq!(
            slugs,
            [
                "gpt-4.1",
                "gpt-5.2-codex",
                "claude-sonnet-4.5",
                "claude-opus-4.8",
                "gemini-2.5-pro"
            ]
        );
        let codex = &models[1];
        assert_eq!(codex["apply_patch_tool_type"], "freeform");
        assert_eq!(codex["context_window"], 272000);
        assert_eq!(codex["shell_type"], "shell_command");
        assert_eq!(codex["visibility"], "list");
        assert_eq!(codex["default_reasoning_level"], "medium");
        assert_eq!(
            codex["supported_reasoning_levels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["effort"].as_str().unwrap())
                .collect::<Vec<_>>(),
            ["low", "medium", "high"]
        );
        assert!(codex["truncation_policy"]["limit"].is_number());
        assert!(
            codex["model_messages"]["instructions_template"]
                .as_str()
                .unwrap()
                .contains("apply_patch")
        );
        // gpt-4.1 lists no effort: none offered.
        assert_eq!(models[0]["supported_reasoning_levels"], json!([]));
    }
    let plain = get(
        &proxy.at("/v1/models"),
        &[("user-agent", "OpenAI/Python 3.54.0")],
    )
    .json();
    assert_eq!(plain["object"], "list");
    assert!(plain["data"].as_array().unwrap().len() == 6 && plain.get("models").is_none());
}

fn last_body(fake: &Fake, path: &str) -> Value {
    fake.requests_to(path)
        .pop()
        .expect("an upstream request")
        .json()
}

#[test]
fn effort_is_clamped_to_the_models_levels_on_every_api() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    // Chat: `reasoning_effort`.
    let chat = json!({"model": "gpt-5.2-codex", "reasoning_effort": "xhigh",
                      "messages": [{"role": "user", "content": "hi"}]});
    let resp = post_json(&proxy, "/v1/chat/completions", &[], &chat);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let up = last_body(&fake, "/responses");
    assert_eq!(up["reasoning"]["effort"], "high", "{up}");
    // Responses, pass-through: `reasoning.effort`.
    let responses = json!({"model": "gpt-5.2-codex", "input": "hi",
                           "reasoning": {"effort": "minimal", "summary": "auto"}});
    let resp = post_json(&proxy, "/v1/responses", &[], &responses);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let up = last_body(&fake, "/responses");
    assert_eq!(up["reasoning"], json!({"effort": "low", "summary": "auto"}));
    // Responses translated to Chat.
    let translated = json!({"model": "claude-sonnet-4.5", "input": "hi",
                            "reasoning": {"effort": "xhigh"}});
    let resp = post_json(&proxy, "/v1/responses", &[], &translated);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        last_body(&fake, "/chat/completions")["reasoning_effort"],
        "high"
    );
    // Messages, native: `output_config.effort` (Anthropic's `max`).
    let messages = json!({"model": "claude-sonnet-4.5", "max_tokens": 100,
                          "output_config": {"effort": "max"},
                          "messages": [{"role": "user", "content": "hi"}]});
    let resp = post_json(&proxy, "/v1/messages", &[], &messages);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        last_body(&fake, "/v1/messages")["output_config"]["effort"],
        "high"
    );
    // A level the model lists goes as sent.
    let ok = json!({"model": "gpt-5.2-codex", "input": "hi", "reasoning": {"effort": "medium"}});
    post_json(&proxy, "/v1/responses", &[], &ok);
    assert_eq!(
        last_body(&fake, "/responses")["reasoning"]["effort"],
        "medium"
    );
}

#[test]
fn a_rejected_effort_is_retried_once_without_it() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let cases = [
        (
            "/v1/responses",
            "/responses",
            json!({"model": "gpt-5.2-codex", "input": "scenario:reject-effort",
                   "reasoning": {"effort": "high"}}),
        ),
        (
            "/v1/chat/completions",
            "/chat/completions",
            json!({"model": "gpt-4.1", "reasoning_effort": "high",
                   "messages": [{"role": "user", "content": "scenario:reject-effort"}]}),
        ),
        (
            "/v1/messages",
            "/v1/messages",
            json!({"model": "claude-sonnet-4.5", "max_tokens": 100,
                   "output_config": {"effort": "high"},
                   "messages": [{"role": "user", "content": "scenario:reject-effort"}]}),
        ),
    ];
    for (path, upstream, body) in cases {
        let before = fake.requests_to(upstream).len();
        let resp = post_json(&proxy, path, &[], &body);
        assert_eq!(resp.status, 200, "{path}: {}", resp.text());
        let sent = fake.requests_to(upstream);
        assert_eq!(sent.len(), before + 2, "{path}: one retry");
        let (first, second) = (sent[before].json(), sent[before + 1].json());
        assert!(
            first["reasoning"]["effort"].is_string()
                || first["reasoning_effort"].is_string()
                || first["output_config"]["effort"].is_string(),
            "{first}"
        );
        assert!(
            second["reasoning"]["effort"].is_null()
                && second["reasoning_effort"].is_null()
                && second["output_config"]["effort"].is_null(),
            "{second}"
        );
    }
}

/// The case: a model that takes only `medium`, and a thinking budget range.
#[test]
fn a_medium_only_model_gets_medium_on_every_api() {
    let fake = Fake::start();
    let mut catalog = catalog_json();
    for m in catalog["data"].as_array_mut().unwrap() {
        if m["id"] == "gpt-5.2-codex" || m["id"] == "claude-sonnet-4.5" {
            let supports = &mut m["capabilities"]["supports"];
            supports["reasoning_effort"] = json!(["medium"]);
            supports["min_thinking_budget"] = json!(1024);
            supports["max_thinking_budget"] = json!(8000);
        }
    }
    fake.set_catalog(catalog);
    let proxy = Proxy::start(&fake, &[], &[]);
    let cases = [
        (
            "/v1/responses",
            "/responses",
            json!({"model": "gpt-5.2-codex", "input": "hi", "reasoning": {"effort": "high"}}),
        ),
        (
            "/v1/chat/completions",
            "/chat/completions",
            json!({"model": "claude-sonnet-4.5", "reasoning_effort": "low",
                   "messages": [{"role": "user", "content": "hi"}]}),
        ),
        (
            "/v1/messages",
            "/v1/messages",
            json!({"model": "claude-sonnet-4.5", "max_tokens": 20000,
                   "thinking": {"type": "enabled", "budget_tokens": 16000},
                   "output_config": {"effort": "high"},
                   "messages": [{"role": "user", "content": "hi"}]}),
        ),
    ];
    for (path, upstream, body) in cases {
        let resp = post_json(&proxy, path, &[], &body);
        assert_eq!(resp.status, 200, "{path}: {}", resp.text());
        let sent = last_body(&fake, upstream);
        let effort = sent["reasoning"]["effort"]
            .as_str()
            .or(sent["reasoning_effort"].as_str())
            .or(sent["output_config"]["effort"].as_str());
        assert_eq!(effort, Some("medium"), "{path}: {sent}");
        if path == "/v1/messages" {
            assert_eq!(sent["thinking"]["budget_tokens"], 8000, "{sent}");
        }
    }
}
