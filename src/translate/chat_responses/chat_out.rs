//! The Chat Completions chunks and completion this translation writes, typed. Fields are
//! declared in sorted order, the order of the `Value` trees these replaced, so the
//! serialized bytes are the same either way.

use crate::protocol::responses::upstream::Usage;
use serde::Serialize;

/// One `chat.completion.chunk`: a single choice's delta, or (no choices) the usage.
#[derive(Serialize)]
pub struct ChatChunk<'a> {
    pub choices: Vec<ChunkChoice<'a>>,
    pub created: u64,
    pub id: &'a str,
    pub model: &'a str,
    pub object: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<ChatUsage>,
}

#[derive(Serialize)]
pub struct ChunkChoice<'a> {
    pub delta: Delta<'a>,
    pub finish_reason: Option<&'static str>,
    pub index: u32,
    /// Always `null`: the upstream gives no log probabilities.
    pub logprobs: (),
}

/// A chunk's delta; the empty delta (every field absent) is `{}`.
#[derive(Serialize, Default)]
pub struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_opaque: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<[CallDelta<'a>; 1]>,
}

/// One tool call's part of a delta: its identity first (`id`, `type`, name and an empty
/// argument string), then argument (or freeform input) fragments by `index` alone.
#[derive(Serialize)]
pub struct CallDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom: Option<Custom<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<Function<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    pub index: usize,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
}

#[derive(Serialize)]
pub struct Custom<'a> {
    pub input: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
}

#[derive(Serialize)]
pub struct Function<'a> {
    pub arguments: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
}

/// A whole `chat.completion`.
#[derive(Serialize)]
pub struct ChatCompletion<'a> {
    pub choices: [CompletionChoice<'a>; 1],
    pub created: u64,
    pub id: &'a str,
    pub model: &'a str,
    pub object: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<ChatUsage>,
}

#[derive(Serialize)]
pub struct CompletionChoice<'a> {
    pub finish_reason: &'static str,
    pub index: u32,
    pub logprobs: (),
    pub message: Message<'a>,
}

#[derive(Serialize)]
pub struct Message<'a> {
    /// `null` when the answer has no text.
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_opaque: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    pub role: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall<'a>>,
}

/// A whole tool call of a completion.
#[derive(Serialize)]
pub struct ToolCall<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom: Option<Custom<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<Function<'a>>,
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// Responses usage in Chat terms, cached and reasoning tokens included.
#[derive(Serialize)]
pub struct ChatUsage {
    pub completion_tokens: u64,
    pub completion_tokens_details: ReasoningTokens,
    pub prompt_tokens: u64,
    pub prompt_tokens_details: CachedTokens,
    pub total_tokens: u64,
}

#[derive(Serialize)]
pub struct ReasoningTokens {
    pub reasoning_tokens: u64,
}

#[derive(Serialize)]
pub struct CachedTokens {
    pub cached_tokens: u64,
}

impl ChatUsage {
    pub fn from_responses(u: &Usage) -> ChatUsage {
        let (input, output) = (
            u.input_tokens.0.unwrap_or(0),
            u.output_tokens.0.unwrap_or(0),
        );
        ChatUsage {
            completion_tokens: output,
            completion_tokens_details: ReasoningTokens {
                reasoning_tokens: u.output_tokens_details.0.reasoning_tokens.0.unwrap_or(0),
            },
            prompt_tokens: input,
            prompt_tokens_details: CachedTokens {
                cached_tokens: u.input_tokens_details.0.cached_tokens.0.unwrap_or(0),
            },
            total_tokens: u.total_tokens.0.unwrap_or(input.saturating_add(output)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serialized directly, a chunk has the bytes of its tree (sorted keys): the order
    /// the field declarations promise.
    #[test]
    fn typed_chunks_serialize_as_their_trees() {
        let call = CallDelta {
            custom: None,
            function: Some(Function {
                arguments: "",
                name: Some("f"),
            }),
            id: Some("call_1"),
            index: 0,
            kind: Some("function"),
        };
        let chunk = ChatChunk {
            choices: vec![ChunkChoice {
                delta: Delta {
                    content: Some("a"),
                    reasoning_text: Some("r"),
                    role: Some("assistant"),
                    tool_calls: Some([call]),
                    ..Delta::default()
                },
                finish_reason: Some("stop"),
                index: 0,
                logprobs: (),
            }],
            created: 1,
            id: "c",
            model: "m",
            object: "chat.completion.chunk",
            usage: Some(ChatUsage::from_responses(&Usage::default())),
        };
        let direct = serde_json::to_string(&chunk).unwrap();
        let tree = serde_json::to_value(&chunk).unwrap();
        assert_eq!(direct, tree.to_string());
        assert!(direct.contains(r#""logprobs":null"#), "{direct}");
        assert!(direct.contains(r#""delta":{"content":"a","reasoning_text":"r","role":"assistant","tool_calls":[{"function":{"arguments":"","name":"f"},"id":"call_1","index":0,"type":"function"}]}"#), "{direct}");
    }
}
