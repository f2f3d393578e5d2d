//! The bad-input catalogue (issue 10): every kind of bad client input against every route
//! that takes a body. Each gets a 4xx in the route's own error shape (Anthropic under
//! `/v1/messages*`, OpenAI elsewhere), or a closed connection for a broken head; the
//! process stays up, nothing reaches the upstream, and memory stays bounded.

use crate::support::*;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Each route that takes a body, with a valid body for it.
fn routes() -> Vec<(&'static str, Value)> {
    vec![
        (
            "/v1/chat/completions",
            json!({"model": "gpt-4.1", "stream": false, "temperature": 0.5,
                   "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                   "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]}),
        ),
        (
            "/v1/messages",
            json!({"model": "claude-sonnet-4.5", "max_tokens": 64, "stream": false,
                   "system": [{"type": "text", "text": "s"}],
                   "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                   "tools": [{"name": "f", "input_schema": {"type": "object"}}]}),
        ),
        (
            "/v1/messages/count_tokens",
            json!({"model": "claude-sonnet-4.5",
                   "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}),
        ),
        (
            "/v1/responses",
            json!({"model": "gpt-5.2-codex", "stream": false, "instructions": "s",
                   "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
                   "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}]}),
        ),
        (
            "/v1/embeddings",
            json!({"model": "text-embedding-3-small", "input": ["hi"]}),
        ),
    ]
}

/// A value of a different JSON type than `v`.
fn wrong_type(v: &Value) -> Value {
    match v {
        Value::String(_) => json!({"not": "a string"}),
        Value::Number(_) => json!("not a number"),
        Value::Bool(_) => json!("yes"),
        Value::Array(_) => json!({"not": "an array"}),
        Value::Object(_) => json!(["not", "an object"]),
        Value::Null => json!([]),
    }
}

/// `body` with the value at each path (every key and element, at every level) replaced
/// by one of the wrong type, one at a time.
fn wrong_types(body: &Value) -> Vec<(String, Value)> {
    fn walk(root: &Value, at: &mut Vec<Value>, out: &mut Vec<(String, Value)>) {
        let here = at.iter().fold(root, |v, k| match k {
            Value::String(k) => &v[k.as_str()],
            Value::Number(i) => &v[i.as_u64().unwrap_or(0) as usize],
            _ => v,
        });
        let children: Vec<Value> = match here {
            Value::Object(m) => m.keys().map(|k| json!(k)).collect(),
            Value::Array(a) => (0..a.len()).map(|i| json!(i)).collect(),
            _ => Vec::new(),
        };
        for child in children {
            at.push(child);
            let mut mutated = root.clone();
            let slot = at.iter().fold(&mut mutated, |v, k| match k {
                Value::String(k) => &mut v[k.as_str()],
                Value::Number(i) => &mut v[i.as_u64().unwrap_or(0) as usize],
                _ => v,
            });
            *slot = wrong_type(slot);
            let path: Vec<String> = at
                .iter()
                .map(|k| k.to_string().trim_matches('"').to_string())
                .collect();
            out.push((path.join("."), mutated));
            walk(root, at, out);
            at.pop();
        }
    }
    let mut out = Vec::new();
    walk(body, &mut Vec::new(), &mut out);
    out
}

/// Sends raw bytes with a head; the raw answer (read until the server closes or 10 s).
fn send(proxy: &Proxy, path: &str, content_type: &str, body: &[u8]) -> Resp {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body);
    parse_raw(&raw_request(&proxy.url, &raw))
}

fn assert_shaped_4xx(path: &str, what: &str, resp: &Resp) -> Result<(), String> {
    let body = resp.json();
    let shaped = if path.starts_with("/v1/messages") {
        body["type"] == "error" && body["error"]["message"].is_string()
    } else {
        body["error"]["message"].is_string()
    };
    if (400..500).contains(&resp.status) && shaped {
        Ok(())
    } else {
        Err(format!(
            "{path} {what}: {} {}",
            resp.status,
            resp.text().chars().take(300).collect::<String>()
        ))
    }
}

#[test]
fn every_bad_input_gets_a_4xx_in_the_routes_shape() {
    let _heavy = crate::exclusive();
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--header-timeout", "1"], &[]);
    let mut problems = Vec::new();
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let huge_string = "a".repeat(10 << 20);
    for (path, valid) in routes() {
        let valid_text = valid.to_string();
        let mut cases: Vec<(String, &str, Vec<u8>)> = vec![
            (
                "invalid JSON".into(),
                "application/json",
                b"{\"model\": ".to_vec(),
            ),
            (
                "not an object".into(),
                "application/json",
                b"[1, 2]".to_vec(),
            ),
            ("empty body".into(), "application/json", Vec::new()),
            (
                "huge number".into(),
                "application/json",
                valid_text
                    .replacen('{', "{\"max_tokens\": 1e400, ", 1)
                    .into_bytes(),
            ),
            (
                "number past u64".into(),
                "application/json",
                valid_text
                    .replacen('{', "{\"temperature\": 184467440737095516160000, ", 1)
                    .into_bytes(),
            ),
            (
                "100,000 nested arrays".into(),
                "application/json",
                valid_text
                    .replacen('{', &format!("{{\"metadata\": {nested}, "), 1)
                    .into_bytes(),
            ),
            (
                "10 MB model name".into(),
                "application/json",
                json!({"model": huge_string, "max_tokens": 1, "messages": [], "input": "x"})
                    .to_string()
                    .into_bytes(),
            ),
            (
                "invalid UTF-8".into(),
                "application/json",
                valid_text
                    .replacen("hi", "h\u{1}", 1)
                    .bytes()
                    .map(|b| if b == 1 { 0xff } else { b })
                    .collect(),
            ),
            (
                "duplicate keys".into(),
                "application/json",
                valid_text
                    .replacen('{', "{\"model\": \"gpt-4.1\", ", 1)
                    .into_bytes(),
            ),
            (
                "wrong content type".into(),
                "text/xml",
                valid_text.clone().into_bytes(),
            ),
        ];
        for (at, body) in wrong_types(&valid) {
            cases.push((
                format!("wrong type at {at}"),
                "application/json",
                body.to_string().into_bytes(),
            ));
        }
        for (what, content_type, body) in &cases {
            let resp = send(&proxy, path, content_type, body);
            if let Err(e) = assert_shaped_4xx(path, what, &resp) {
                problems.push(e);
            }
        }
        // A truncated body: the client declares more than it sends, then stops sending.
        let mut c = TcpStream::connect(proxy.url.trim_start_matches("http://")).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let half = &valid_text.as_bytes()[..valid_text.len() / 2];
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            valid_text.len()
        );
        c.write_all(head.as_bytes()).unwrap();
        c.write_all(half).unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = String::new();
        let _ = c.read_to_string(&mut answer);
        if !answer.is_empty() {
            if let Err(e) = assert_shaped_4xx(path, "truncated body", &parse_raw(&answer)) {
                problems.push(e);
            }
        }
        // A chunked body whose sizes lie.
        let lying = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{valid_text}\r\n0\r\n\r\n"
        );
        let answer = raw_request(&proxy.url, lying.as_bytes());
        if let Err(e) = assert_shaped_4xx(path, "chunk sizes that lie", &parse_raw(&answer)) {
            problems.push(e);
        }
    }
    // Heads: a header flood and a slowloris head get a 431 or a closed connection.
    let flood: String = (0..5000)
        .map(|i| format!("X-F{i}: {}\r\n", "v".repeat(50)))
        .collect();
    let answer = raw_request(
        &proxy.url,
        format!("GET /healthz HTTP/1.1\r\n{flood}\r\n").as_bytes(),
    );
    assert!(
        answer.starts_with("HTTP/1.1 431") || answer.is_empty(),
        "{answer}"
    );
    let mut slow = TcpStream::connect(proxy.url.trim_start_matches("http://")).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost:").unwrap();
    let mut rest = String::new();
    let _ = slow.read_to_string(&mut rest);
    assert!(rest.is_empty(), "slowloris head answered: {rest}");
    // Nothing reached the upstream's completion endpoints, and the process is fine.
    let upstream: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| {
            format!(
                "{} {}",
                r.path,
                String::from_utf8_lossy(&r.body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            )
        })
        .collect();
    assert!(
        problems.is_empty(),
        "{} bad inputs not refused with a shaped 4xx:\n{}\nupstream saw:\n{}",
        problems.len(),
        problems.join("\n"),
        upstream.join("\n")
    );
    assert!(
        upstream.is_empty(),
        "bad input reached the upstream: {upstream:?}"
    );
    assert_eq!(get(&proxy.at("/healthz"), &[]).status, 200);
    let rss = proxy.rss_kib();
    assert!(rss < 256 * 1024, "RSS {rss} KiB after the catalogue");
}
