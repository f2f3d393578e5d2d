//! `start` with a GitHub token from the environment: readiness, the model list, the usage
//! pass-through and the headers of the start-up upstream calls.

use crate::assert_openai_error;
use crate::support::*;
use serde_json::{Value, json};
use std::time::Duration;

/// Waits for `/readyz` to answer 200 and returns its body.
fn ready(proxy: &Proxy) -> Value {
    let mut last = None;
    let ok = wait_until(Duration::from_secs(5), || {
        let r = get(&proxy.at("/readyz"), &[]);
        let done = r.status == 200;
        last = Some(r);
        done
    });
    let last = last.unwrap();
    assert!(ok, "/readyz never 200: {} {}", last.status, last.text());
    last.json()
}

fn model<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["data"]
        .as_array()
        .expect("data is an array")
        .iter()
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("{id} missing from {list}"))
}

#[test]
fn start_with_gh_token_is_ready_and_healthy() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);

    let health = get(&proxy.at("/healthz"), &[]);
    assert_eq!(health.status, 200);

    let ready = ready(&proxy);
    assert_eq!(ready["ready"], true, "{ready}");

    let root = get(&proxy.at("/"), &[]);
    assert_eq!(root.status, 200);
    let content_type = root.header("content-type").unwrap_or_default();
    assert!(content_type.starts_with("text/plain"), "{content_type}");

    assert_eq!(fake.issued_tokens().len(), 1, "one exchange at start-up");
    assert!(!fake.requests_to("/models").is_empty(), "catalog fetched");
}

#[test]
fn models_list_has_limits_and_endpoints() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    ready(&proxy);

    let resp = get(&proxy.at("/v1/models"), &[]);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let list = resp.json();
    assert_eq!(list["object"], "list");
    assert_eq!(list["has_more"], false);
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        6,
        "every catalog model"
    );

    let gpt41 = model(&list, "gpt-4.1");
    assert_eq!(gpt41["object"], "model");
    assert_eq!(gpt41["type"], "model");
    assert_eq!(gpt41["created"], 0);
    assert!(gpt41["created_at"].is_string(), "{gpt41}");
    assert_eq!(gpt41["owned_by"], "Azure OpenAI");
    assert_eq!(gpt41["display_name"], "GPT-4.1");
    assert_eq!(gpt41["max_input_tokens"], 128000);
    assert_eq!(gpt41["max_output_tokens"], 16384);
    assert_eq!(gpt41["context_window"], 128000);
    assert_eq!(gpt41["supported_endpoints"], json!(["/chat/completions"]));

    let codex = model(&list, "gpt-5.2-codex");
    assert_eq!(codex["max_input_tokens"], 272000);
    assert_eq!(codex["max_output_tokens"], 128000);
    assert_eq!(codex["context_window"], 400000);
    assert_eq!(codex["supported_endpoints"], json!(["/responses"]));

    let sonnet = model(&list, "claude-sonnet-4.5");
    assert_eq!(sonnet["owned_by"], "Anthropic");
    assert_eq!(sonnet["max_input_tokens"], 128000);
    assert_eq!(sonnet["context_window"], 200000);
    assert_eq!(
        sonnet["supported_endpoints"],
        json!(["/chat/completions", "/v1/messages"])
    );

    let opus = model(&list, "claude-opus-4.8");
    assert_eq!(opus["max_input_tokens"], 935000);
    assert_eq!(opus["context_window"], 1000000);
    assert_eq!(opus["max_output_tokens"], 64000);

    // No `supported_endpoints` upstream: treated as chat only (DESIGN.md §3).
    let gemini = model(&list, "gemini-2.5-pro");
    assert_eq!(gemini["supported_endpoints"], json!(["/chat/completions"]));

    let embedding = model(&list, "text-embedding-3-small");
    assert!(
        embedding.get("max_output_tokens").is_none(),
        "absent limit is omitted, not null: {embedding}"
    );
    assert_eq!(embedding["supported_endpoints"], json!(["/embeddings"]));

    // The unprefixed route serves the same list.
    let bare = get(&proxy.at("/models"), &[]);
    assert_eq!(bare.status, 200);
    assert_eq!(bare.json(), list);
}

#[test]
fn start_up_calls_carry_editor_headers() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    ready(&proxy);

    let exchanges = fake.requests_to("/copilot_internal/v2/token");
    let first = exchanges.first().expect("a token exchange");
    assert_eq!(first.method, "GET");
    let want_auth = format!("token {GITHUB_TOKEN}");
    assert_eq!(first.header("authorization"), Some(want_auth.as_str()));
    let editor = first.header("editor-version").unwrap_or_default();
    assert!(editor.starts_with("vscode/"), "editor-version {editor:?}");
    for name in [
        "editor-plugin-version",
        "user-agent",
        "x-github-api-version",
    ] {
        assert!(
            first.header(name).is_some_and(|v| !v.is_empty()),
            "{name} missing on the exchange: {:?}",
            first.headers
        );
    }

    let catalog = fake.requests_to("/models");
    let first = catalog.first().expect("a catalog fetch");
    let want_bearer = format!("Bearer {}", fake.issued_tokens()[0]);
    assert_eq!(first.header("authorization"), Some(want_bearer.as_str()));
    let editor = first.header("editor-version").unwrap_or_default();
    assert!(editor.starts_with("vscode/"), "editor-version {editor:?}");
    for name in ["copilot-integration-id", "x-request-id"] {
        assert!(
            first.header(name).is_some_and(|v| !v.is_empty()),
            "{name} missing on /models: {:?}",
            first.headers
        );
    }
}

#[test]
fn model_lookup_goes_through_the_resolver() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    ready(&proxy);

    let exact = get(&proxy.at("/v1/models/gpt-4.1"), &[]);
    assert_eq!(exact.status, 200, "{}", exact.text());
    assert_eq!(exact.json()["id"], "gpt-4.1");
    assert_eq!(exact.json()["max_output_tokens"], 16384);

    // Claude Code's dated Anthropic id.
    let dated = get(&proxy.at("/v1/models/claude-sonnet-4-5-20250929"), &[]);
    assert_eq!(dated.status, 200, "{}", dated.text());
    assert_eq!(dated.json()["id"], "claude-sonnet-4.5");
    assert_eq!(dated.json()["max_input_tokens"], 128000);

    // Claude Code's 1M-context suffix, sent literally (brackets unescaped).
    let port = proxy.url.rsplit(':').next().unwrap();
    let raw = raw_request(
        &proxy.url,
        format!(
            "GET /v1/models/claude-opus-4-8[1m] HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    let one_m = parse_raw(&raw);
    assert_eq!(one_m.status, 200, "{raw}");
    assert_eq!(one_m.json()["id"], "claude-opus-4.8");

    let unknown = get(&proxy.at("/v1/models/no-such-model"), &[]);
    assert_openai_error(&unknown, 404, None);
}

#[test]
fn usage_is_passed_through_verbatim_and_cached() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    ready(&proxy);

    let first = get(&proxy.at("/usage"), &[]);
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.json(), usage_json());
    let second = get(&proxy.at("/usage"), &[]);
    assert_eq!(second.status, 200);
    assert_eq!(second.json(), usage_json());

    let upstream = fake.requests_to("/copilot_internal/user");
    assert_eq!(upstream.len(), 1, "second call served from the 30 s cache");
    let want_auth = format!("token {GITHUB_TOKEN}");
    assert_eq!(
        upstream[0].header("authorization"),
        Some(want_auth.as_str())
    );
}

#[test]
fn token_without_endpoints_still_serves() {
    let fake = Fake::start();
    fake.set_endpoints_api(None);
    let proxy = Proxy::start(&fake, &[], &[]);
    ready(&proxy);
    let resp = get(&proxy.at("/v1/models"), &[]);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["data"].as_array().map(Vec::len), Some(6));
}

#[test]
fn rejected_github_token_at_start_exits_1() {
    let fake = Fake::start();
    fake.reject_github_token(true);
    let home = TempDir::new();
    let mut env = upstream_env(&fake);
    env.push(("GH_TOKEN", GITHUB_TOKEN));
    let (code, _out, err) = run_cli(&["start", "--port", "0"], &env, home.path());
    assert_eq!(code, 1, "stderr: {err}");
    assert!(err.contains("copilot-api auth"), "stderr: {err}");
    assert!(!err.contains(GITHUB_TOKEN), "token leaked to stderr: {err}");
    assert!(fake.issued_tokens().is_empty());
}

/// A proxy from the environment never carries loopback traffic: it could not reach this
/// machine's loopback (here the fake upstream) anyway.
#[test]
fn loopback_upstreams_bypass_an_environment_proxy() {
    let fake = Fake::start();
    let proxy = Proxy::start(
        &fake,
        &[],
        &[
            ("HTTPS_PROXY", "http://127.0.0.9:1"),
            ("ALL_PROXY", "http://127.0.0.9:1"),
        ],
    );
    let resp = get(&proxy.at("/v1/models"), &[]);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(!fake.requests_to("/copilot_internal/v2/token").is_empty());
}

/// Review finding (code-review.md §3, "catalog refresh ... without single-flight"): every
/// request that found the catalog stale fetched it, all at once, so a burst of requests
/// before the catalog loaded (or naming unknown models) sent a burst of `GET /models`.
/// Now callers that find a refresh in flight wait for it and take its outcome.
#[test]
fn a_burst_before_the_catalog_loads_fetches_it_once() {
    let fake = Fake::start();
    // Every fetch fails (an empty list), so the catalog stays unloaded, hence stale.
    fake.set_catalog(json!({"data": []}));
    let proxy = Proxy::start(&fake, &[], &[]);
    let at_start = fake.requests_to("/models").len();
    fake.set_catalog_delay(Duration::from_millis(600));
    let proxy = &proxy;
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let burst: Vec<_> = (0..8)
            .map(|_| s.spawn(|| get(&proxy.at("/v1/models"), &[]).status))
            .collect();
        burst.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|s| *s == 503), "{statuses:?}");
    let fetched = fake.requests_to("/models").len() - at_start;
    // One for the burst; a second only if a request arrived after the first had failed
    // (or the background refresher's first retry, 5 s after start, fell inside).
    assert!(
        (1..=2).contains(&fetched),
        "{fetched} catalog fetches for 8 requests at once"
    );
}
