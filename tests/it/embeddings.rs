//! `POST /v1/embeddings` (README "Endpoints"): a pass-through in which floats and base64
//! (the OpenAI Python SDK's default) both survive, and `dimensions` reaches Copilot.

use crate::support::scenarios::{base64_decode, base64_encode, embedding};
use crate::support::*;
use crate::{assert_openai_error, post_json};
use serde_json::{Value, json};

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a float array: {v}"))
        .iter()
        .map(|f| f.as_f64().unwrap() as f32)
        .collect()
}

#[test]
fn float_embeddings_round_trip() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let body = json!({"model": "text-embedding-3-small", "input": ["first", "second"]});
    let resp = post_json(&proxy, "/v1/embeddings", &[], &body);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let v = resp.json();
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    for i in 0..2 {
        assert_eq!(v["data"][i]["index"], i);
        assert_eq!(floats(&v["data"][i]["embedding"]), embedding(i, 1536));
    }
    assert_eq!(v["usage"]["prompt_tokens"], 8);
    let upstream = fake.requests_to("/embeddings").pop().unwrap();
    assert_eq!(upstream.json(), body, "body passed through");
    assert!(
        upstream
            .header("authorization")
            .is_some_and(|a| a.starts_with("Bearer tid=fake")),
        "Copilot token upstream"
    );
}

#[test]
fn base64_embeddings_round_trip_and_dimensions_are_forwarded() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let body = json!({"model": "text-embedding-3-small", "input": "one text",
                      "encoding_format": "base64", "dimensions": 256});
    let resp = post_json(&proxy, "/embeddings", &[], &body);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let encoded = resp.json()["data"][0]["embedding"]
        .as_str()
        .unwrap_or_else(|| panic!("base64 string expected: {}", resp.text()))
        .to_string();
    // The fake's codec is the standard alphabet with padding (RFC 4648), as the SDK expects.
    assert_eq!(base64_encode(b"fake!"), "ZmFrZSE=");
    assert_eq!(base64_decode("ZmFrZSE="), b"fake!");
    let bytes = base64_decode(&encoded);
    assert_eq!(bytes.len(), 256 * 4);
    let decoded: Vec<f32> = bytes
        .chunks(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(decoded, embedding(0, 256));
    let upstream = fake.requests_to("/embeddings").pop().unwrap().json();
    assert_eq!(upstream["dimensions"], 256);
    assert_eq!(upstream["encoding_format"], "base64");

    // `dimensions` with floats too.
    let body = json!({"model": "text-embedding-3-small", "input": "x", "dimensions": 8});
    let resp = post_json(&proxy, "/v1/embeddings", &[], &body);
    assert_eq!(
        floats(&resp.json()["data"][0]["embedding"]),
        embedding(0, 8)
    );
}

#[test]
fn embeddings_input_errors_are_400_naming_the_field() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let cases = [
        (json!({"model": "text-embedding-3-small"}), "`input`"),
        (
            json!({"model": "text-embedding-3-small", "input": []}),
            "`input`",
        ),
        (json!({"input": "x"}), "`model`"),
        (
            json!({"model": "text-embedding-3-small", "input": "x", "dimensions": "8"}),
            "`dimensions`",
        ),
    ];
    for (body, field) in cases {
        let resp = post_json(&proxy, "/v1/embeddings", &[], &body);
        let e = assert_openai_error(&resp, 400, Some("invalid_request_error"));
        assert!(
            e["message"].as_str().unwrap().contains(field),
            "{body}: {e}"
        );
    }
    assert!(fake.requests_to("/embeddings").is_empty());
}
