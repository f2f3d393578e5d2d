//! How the fake's completion endpoints behave: the scenarios, how a request picks one, the
//! error answers they share, and `/embeddings`. The answers themselves are built in
//! `chat_answers.rs` (Copilot's `/chat/completions`), `messages_answers.rs` (its native
//! Anthropic `/v1/messages`) and `responses_answers.rs` (its `/responses`).
//!
//! A scenario is chosen per request by a marker `scenario:NAME` in the text of the last
//! user message (Chat and Anthropic `messages`, or the last user item of a Responses
//! `input`; it survives the proxy, which forwards bodies but not client headers), else
//! from a queue the test fills, else `text`. Every builder is pure: a request and a
//! scenario in, a `Reply` (a body, or a script of SSE steps) out.
//!
//! Marker names: `text`, `bare`, `usage-inline`, `prompt-filter`, `tools`, `reasoning`,
//! `status:CODE[:json|html|empty|binary][:retry=V]`, `context-window`, `fail:N:STATUS`, `hangup`,
//! `stall-head`, `stall-first`, `stall-mid`, `pause:MS`, `drop`, `malformed`, `error-event`,
//! `no-done`, `truncated`, `slow:MS:N`, `many:N`, `empty`, `images-413`, `call:NAME`,
//! `think-call:NAME`, `first-tool`, `custom-tool`, `tool-length`, `failed`, `agent:NAME`,
//! `think-agent:NAME`.

use super::wire::{Reply, Step};
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scenario {
    /// Complete OpenAI chunks, usage in a separate `choices: []` chunk, `[DONE]`.
    Text,
    /// As `Text`, without `object`, `created` or `id` anywhere (stream and completion).
    Bare,
    /// Usage on the finish chunk instead of a chunk of its own.
    UsageInline,
    /// An SSE comment, then a prompt-filter chunk with empty `choices`, as Azure-backed
    /// models send.
    PromptFilter,
    /// Two parallel tool calls: id and name first, argument fragments after.
    Tools,
    /// `reasoning_text` deltas and a `reasoning_opaque`, as Copilot sends for Claude.
    Reasoning,
    /// An error answer before any byte of a stream.
    Error {
        status: u16,
        body: ErrorBody,
        retry_after: Option<String>,
    },
    /// A 400 `model_max_prompt_tokens_exceeded`.
    ContextWindow,
    /// The first `times` requests with this marker answer `status` (`Retry-After: 0`),
    /// later ones `Text`. Resolved by the fake, which counts.
    FailThen { times: usize, status: u16 },
    /// The connection is closed without an answer.
    Hangup,
    /// Not even a response head.
    StallHead,
    /// The head, then silence.
    StallFirst,
    /// Two events, then silence.
    StallMid,
    /// Two events, silence for this many ms, then the rest.
    Pause(u64),
    /// Two events, then the socket is closed without the terminating chunk.
    Drop,
    /// Two events, then one that is not JSON.
    Malformed,
    /// Two events, then an upstream error event, then the end of the body.
    ErrorEvent,
    /// A finish reason, then the end of the body without `[DONE]`.
    NoDone,
    /// Two events, then the end of the body: no finish reason, no `[DONE]`.
    Truncated,
    /// `count` content events `interval_ms` apart, each stamped with its send time.
    Slow { interval_ms: u64, count: usize },
    /// `n` content events as fast as possible.
    Many(usize),
    /// An answer without any content: a finish reason and usage only.
    Empty,
    /// HTTP 413 while the request body holds an image, `Text` once none is left.
    /// Resolved by the fake, which sees the body.
    Images413,
    /// One call of the named tool, its arguments split over ten events (`exec_command`
    /// gets a command, `apply_patch` a patch, any other tool a small object). On
    /// `/responses` a tool the request declares as `custom` is called as a
    /// `custom_tool_call`.
    Call(String),
    /// Reasoning (`reasoning_text` and `reasoning_opaque` on Chat, a reasoning item on
    /// `/responses`), then one call as `Call`: a thinking model using a tool.
    ThinkCall(String),
    /// As `Call`, for the request's first tool under the name the fake received (so a
    /// test can see an alias come back restored).
    FirstTool,
    /// Codex's freeform `apply_patch`: a `custom_tool_call` on `/responses`, a function
    /// call with one `input` argument on `/chat/completions`, `Text` on `/v1/messages`.
    CustomTool,
    /// A tool call whose arguments are cut off by a `length` finish (`/chat/completions`;
    /// elsewhere `Text`).
    ToolLength,
    /// `/responses`: the stream opens, then `response.failed`. Elsewhere `Text`.
    Failed,
    /// A two-turn agent loop for real clients: `Call(NAME)` while the request does not end
    /// with a tool result, `Text` once it does (the marker stays in the prompt on Chat and
    /// Responses). Resolved by the fake, which sees the body.
    Agent(String),
    /// As `Agent`, with `ThinkCall(NAME)` on the first turn and `Reasoning` on the second.
    ThinkAgent(String),
    /// A 400 `invalid_reasoning_effort` while the request carries a reasoning effort, `Text`
    /// once it does not. Resolved by the fake, which sees the body.
    RejectEffort,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorBody {
    Json,
    Html,
    Empty,
    /// Bytes that are not UTF-8 (`\xff\xfe...`), as a broken gateway may send.
    Binary,
}

pub const TEXT_PARTS: [&str; 3] = ["Hello", " from", " the fake."];
pub const REASONING_PARTS: [&str; 2] = ["Let me think", " about it."];
pub const SIGNATURE: &str = "c2lnbmF0dXJlLWZyb20tdGhlLWZha2U=";
pub const ANSWER: &str = "The answer is 4.";
pub const HTML_ERROR: &str = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>";
pub const CONTEXT_MESSAGE: &str = "prompt token count of 140000 exceeds the limit of 128000";
/// The freeform input of the fake's `apply_patch` calls.
pub const PATCH: &str = "*** Begin Patch\n*** Add File: out.txt\n+hello\n*** End Patch\n";
/// The `encrypted_content` of the fake's Responses reasoning items.
pub const ENCRYPTED: &str = "gAAAAABfake-encrypted-reasoning==";
/// What the fake's Responses reasoning summary says.
pub const SUMMARY_PARTS: [&str; 2] = ["Planning", " the answer."];

/// The arguments the fake passes to a tool, by its name.
pub fn tool_arguments(name: &str) -> String {
    match name {
        "exec_command" => json!({"cmd": "ls -la", "workdir": "/tmp"}).to_string(),
        "Bash" => {
            json!({"command": "echo hello > out.txt", "description": "Write out.txt"}).to_string()
        }
        "apply_patch" => json!({"input": PATCH}).to_string(),
        // Claude Code's WebSearch schema is strict: an extra `limit` fails its validation.
        "WebSearch" => json!({"query": "fake query"}).to_string(),
        // Codex's standalone web search (`POST /v1/alpha/search` behind it).
        "web.run" => json!({"search_query": [{"q": "rust release"}]}).to_string(),
        _ => json!({"query": "fake query", "limit": 3}).to_string(),
    }
}

/// `text` cut into `n` pieces (fewer when it is shorter) of about the same length (ASCII
/// only).
pub fn split_in(text: &str, n: usize) -> Vec<String> {
    let n = n.clamp(1, text.len().max(1));
    let (base, extra) = (text.len() / n, text.len() % n);
    let mut pieces = Vec::with_capacity(n);
    let mut at = 0;
    for i in 0..n {
        let len = base + usize::from(i < extra);
        pieces.push(text[at..at + len].to_string());
        at += len;
    }
    pieces
}

impl Scenario {
    pub fn parse(marker: &str) -> Option<Scenario> {
        let parts: Vec<&str> = marker.split(':').collect();
        let num = |i: usize| parts.get(i).and_then(|p| p.parse::<u64>().ok());
        Some(match parts[0] {
            "text" => Scenario::Text,
            "bare" => Scenario::Bare,
            "usage-inline" => Scenario::UsageInline,
            "prompt-filter" => Scenario::PromptFilter,
            "tools" => Scenario::Tools,
            "reasoning" => Scenario::Reasoning,
            "status" => {
                let mut body = ErrorBody::Json;
                let mut retry_after = None;
                for p in &parts[2..] {
                    match *p {
                        "html" => body = ErrorBody::Html,
                        "empty" => body = ErrorBody::Empty,
                        "binary" => body = ErrorBody::Binary,
                        "json" => body = ErrorBody::Json,
                        _ => retry_after = p.strip_prefix("retry=").map(str::to_string),
                    }
                }
                Scenario::Error {
                    status: num(1)? as u16,
                    body,
                    retry_after,
                }
            }
            "context-window" => Scenario::ContextWindow,
            "fail" => Scenario::FailThen {
                times: num(1)? as usize,
                status: num(2)? as u16,
            },
            "hangup" => Scenario::Hangup,
            "stall-head" => Scenario::StallHead,
            "stall-first" => Scenario::StallFirst,
            "stall-mid" => Scenario::StallMid,
            "pause" => Scenario::Pause(num(1)?),
            "drop" => Scenario::Drop,
            "malformed" => Scenario::Malformed,
            "error-event" => Scenario::ErrorEvent,
            "no-done" => Scenario::NoDone,
            "truncated" => Scenario::Truncated,
            "slow" => Scenario::Slow {
                interval_ms: num(1)?,
                count: num(2)? as usize,
            },
            "many" => Scenario::Many(num(1)? as usize),
            "empty" => Scenario::Empty,
            "images-413" => Scenario::Images413,
            "call" => Scenario::Call(parts.get(1).filter(|n| !n.is_empty())?.to_string()),
            "think-call" => {
                Scenario::ThinkCall(parts.get(1).filter(|n| !n.is_empty())?.to_string())
            }
            "first-tool" => Scenario::FirstTool,
            "custom-tool" => Scenario::CustomTool,
            "tool-length" => Scenario::ToolLength,
            "failed" => Scenario::Failed,
            "agent" => Scenario::Agent(parts.get(1).filter(|n| !n.is_empty())?.to_string()),
            "think-agent" => {
                Scenario::ThinkAgent(parts.get(1).filter(|n| !n.is_empty())?.to_string())
            }
            "reject-effort" => Scenario::RejectEffort,
            _ => return None,
        })
    }

    /// A JSON error answer with `Retry-After: 0`, so retry tests do not wait.
    pub fn status(status: u16) -> Scenario {
        Scenario::Error {
            status,
            body: ErrorBody::Json,
            retry_after: Some("0".into()),
        }
    }
}

/// The `scenario:` marker in the last user message (chat and Anthropic bodies), in the
/// last user item of a Responses `input`, or anywhere in the `input` (embeddings, a
/// Responses string input), without its prefix.
pub fn marker(body: &Value) -> Option<String> {
    let is_user = |m: &&Value| m.get("role").and_then(Value::as_str) == Some("user");
    let text = match body.get("messages").and_then(Value::as_array) {
        Some(messages) => messages
            .iter()
            .rev()
            .find(is_user)?
            .get("content")?
            .to_string(),
        None => {
            let input = body.get("input")?;
            let last_user = input.as_array().and_then(|i| i.iter().rev().find(is_user));
            match last_user {
                Some(item) => item.get("content")?.to_string(),
                None => input.to_string(),
            }
        }
    };
    let start = text.find("scenario:")? + "scenario:".len();
    let name: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_' | '=' | '-'))
        .collect();
    Some(name.trim_end_matches([':', '.']).to_string())
}

/// Whether a completion request ends with a tool result: an Anthropic user message holding
/// a `tool_result` block, a Chat `tool` message, or a Responses `function_call_output` /
/// `custom_tool_call_output` item after the last user item.
pub fn ends_with_tool_output(body: &Value) -> bool {
    if let Some(last) = body
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| m.iter().rev().find(|m| m["role"] != "system"))
    {
        return last["role"] == "tool"
            || (last["role"] == "user"
                && last["content"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|b| b["type"] == "tool_result")));
    }
    let Some(input) = body.get("input").and_then(Value::as_array) else {
        return false;
    };
    for item in input.iter().rev() {
        match item["type"].as_str() {
            // After Codex compacted a tool loop, the loop's answer is owed (the agent
            // scenarios would otherwise call the tool again forever).
            Some("function_call_output" | "custom_tool_call_output" | "compaction") => {
                return true;
            }
            _ if item["role"] == "user" => return false,
            _ => {}
        }
    }
    false
}

/// Whether a request body holds an image anywhere: a Chat `image_url` part, an Anthropic
/// `image` block (also inside a tool result) or a Responses `input_image`.
pub fn has_image(v: &Value) -> bool {
    match v {
        Value::Object(o) => {
            matches!(
                o.get("type").and_then(Value::as_str),
                Some("image_url" | "image" | "input_image")
            ) || o.values().any(has_image)
        }
        Value::Array(a) => a.iter().any(has_image),
        _ => false,
    }
}

/// Which error shape an endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Chat,
    Messages,
}

/// The JSON error body the fake sends for `status` on this API.
pub fn error_json(api: Api, status: u16) -> Value {
    let (code, message) = match status {
        400 => ("invalid_request", "fake: the request is invalid"),
        401 => (
            "token_expired",
            "IDE token expired: unauthorized: token expired",
        ),
        413 => ("payload_too_large", "fake: request body too large"),
        429 => (
            "rate_limited",
            "Sorry, you have been rate-limited. Please wait a moment before trying again.",
        ),
        466 => ("client_version_rejected", "fake: client version rejected"),
        _ => ("upstream_error", "fake: the upstream failed"),
    };
    match api {
        Api::Chat => json!({"error": {"message": message, "code": code, "type": "fake_error"}}),
        Api::Messages => {
            json!({"type": "error", "error": {"type": anthropic_type(status), "message": message}})
        }
    }
}

fn anthropic_type(status: u16) -> &'static str {
    match status {
        400 | 413 => "invalid_request_error",
        401 => "authentication_error",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

pub fn error_reply(api: Api, status: u16, body: ErrorBody, retry_after: Option<&str>) -> Reply {
    let (content_type, bytes) = match body {
        ErrorBody::Json => (
            "application/json",
            error_json(api, status).to_string().into_bytes(),
        ),
        ErrorBody::Html => ("text/html; charset=utf-8", HTML_ERROR.as_bytes().to_vec()),
        ErrorBody::Empty => ("text/plain", Vec::new()),
        ErrorBody::Binary => (
            "application/json",
            b"{\"error\": \"\xff\xfe\xc3\x28\"}".to_vec(),
        ),
    };
    Reply::Body {
        status,
        content_type,
        headers: retry_after
            .map(|r| vec![("Retry-After".to_string(), r.to_string())])
            .unwrap_or_default(),
        body: bytes,
    }
}

/// Answers that do not depend on the API's format: errors and connection faults.
pub fn common(api: Api, scenario: &Scenario, stream: bool) -> Option<Reply> {
    Some(match scenario {
        Scenario::Error {
            status,
            body,
            retry_after,
        } => error_reply(api, *status, *body, retry_after.as_deref()),
        Scenario::ContextWindow => Reply::json(
            400,
            &json!({"error": {"message": CONTEXT_MESSAGE, "code": "model_max_prompt_tokens_exceeded"}}),
        ),
        Scenario::RejectEffort => Reply::json(
            400,
            &json!({"error": {"message": "fake: this reasoning effort is not supported by the model",
                              "code": "invalid_reasoning_effort"}}),
        ),
        Scenario::Hangup => Reply::Hangup,
        Scenario::StallHead => Reply::Silence,
        Scenario::StallFirst | Scenario::StallMid if !stream => Reply::Silence,
        Scenario::Drop if !stream => Reply::Hangup,
        _ => return None,
    })
}

/// Any reasoning effort, in the field of any API.
pub fn has_effort(body: &Value) -> bool {
    !body["reasoning_effort"].is_null()
        || !body["reasoning"]["effort"].is_null()
        || !body["output_config"]["effort"].is_null()
}

/// The vector the fake returns for input `index`: multiples of 1/64, exact in f32.
pub fn embedding(index: usize, dims: usize) -> Vec<f32> {
    (0..dims)
        .map(|j| ((index * 31 + j * 7) % 97) as f32 / 64.0 - 0.5)
        .collect()
}

/// `POST /embeddings`: one vector per input, `dimensions` honoured (default 1536), floats
/// or, with `encoding_format: base64`, little-endian f32 bytes in base64.
pub fn embeddings(request: &Value) -> Reply {
    let inputs = match &request["input"] {
        Value::Array(a) => a.len(),
        _ => 1,
    };
    let dims = request["dimensions"].as_u64().unwrap_or(1536) as usize;
    let base64 = request["encoding_format"] == "base64";
    let data: Vec<Value> = (0..inputs)
        .map(|i| {
            let v = embedding(i, dims);
            let encoded = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
                json!(base64_encode(&bytes))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": encoded})
        })
        .collect();
    Reply::json(
        200,
        &json!({"object": "list", "data": data, "model": request["model"],
                "usage": {"prompt_tokens": 4 * inputs, "total_tokens": 4 * inputs}}),
    )
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn base64_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|c| *c != b'=') {
        let Some(v) = B64.iter().position(|b| *b == c) else {
            continue;
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// The SSE text a streamed reply sends when it runs to its end (pauses, stalls and drops
/// left out), so a test can compare what its client got with what the fake sent.
pub fn script_text(reply: &Reply) -> String {
    match reply {
        Reply::Stream(steps) => steps
            .iter()
            .filter_map(|s| match s {
                Step::Send(text) => Some(text.as_str()),
                _ => None,
            })
            .collect(),
        _ => String::new(),
    }
}
