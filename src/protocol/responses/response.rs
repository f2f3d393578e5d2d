//! The Responses `response` object and its output items, typed: what a translated answer
//! returns, what each terminal stream event carries, and what the hosted web search
//! edits (items inserted, text annotated) before it is written. Keys serialize in sorted
//! order, the bytes of the `Value` trees these types replaced.

use super::events::SummaryText;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Value, json};
use std::borrow::Cow;

/// A `response` object.
pub struct Response<'a> {
    pub created_at: u64,
    pub error: Option<ErrorBody>,
    pub id: Cow<'a, str>,
    /// Why an `incomplete` response stopped.
    reason: Option<&'static str>,
    echo: Cow<'a, Echo>,
    pub output: Vec<OutputItem>,
    status: &'static str,
    pub usage: Option<Usage>,
}

impl<'a> Response<'a> {
    /// The envelope of an answer with `status` (`completed`, `incomplete`, `failed`,
    /// `in_progress`) and, when incomplete, its reason.
    pub fn new(
        id: impl Into<Cow<'a, str>>,
        created_at: u64,
        echo: Cow<'a, Echo>,
        status: &'static str,
        reason: Option<&'static str>,
    ) -> Self {
        Response {
            created_at,
            error: None,
            id: id.into(),
            reason,
            echo,
            output: Vec::new(),
            status,
            usage: None,
        }
    }
}

impl Serialize for Response<'_> {
    /// Every key in sorted order; `output_text` derived from `output` as it is now, so
    /// an edited output (the web search's) reads the same.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = &self.echo;
        let mut m = s.serialize_map(Some(22))?;
        m.serialize_entry("created_at", &self.created_at)?;
        m.serialize_entry("error", &self.error)?;
        m.serialize_entry("id", &self.id)?;
        let incomplete = self.reason.map(|reason| Incomplete { reason });
        m.serialize_entry("incomplete_details", &incomplete)?;
        m.serialize_entry("instructions", &e.instructions)?;
        m.serialize_entry("max_output_tokens", &e.max_output_tokens)?;
        m.serialize_entry("metadata", &e.metadata)?;
        m.serialize_entry("model", &e.model)?;
        m.serialize_entry("object", "response")?;
        m.serialize_entry("output", &self.output)?;
        m.serialize_entry("output_text", &answer_text(&self.output))?;
        m.serialize_entry("parallel_tool_calls", &e.parallel_tool_calls)?;
        m.serialize_entry("previous_response_id", &e.previous_response_id)?;
        m.serialize_entry("reasoning", &e.reasoning)?;
        m.serialize_entry("status", self.status)?;
        m.serialize_entry("store", &e.store)?;
        m.serialize_entry("temperature", &e.temperature)?;
        m.serialize_entry("text", &e.text)?;
        m.serialize_entry("tool_choice", &e.tool_choice)?;
        m.serialize_entry("tools", &e.tools)?;
        m.serialize_entry("top_p", &e.top_p)?;
        m.serialize_entry("usage", &self.usage)?;
        m.end()
    }
}

/// The text of `message` items' `output_text` parts, joined.
fn answer_text(output: &[OutputItem]) -> String {
    let mut text = String::new();
    for item in output {
        if let OutputItem::Message { content, .. } = item {
            for part in content {
                if let Part::OutputText { text: t, .. } = part {
                    text.push_str(t);
                }
            }
        }
    }
    text
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

#[derive(Serialize)]
struct Incomplete {
    reason: &'static str,
}

/// The request settings a `response` echoes back, as the OpenAI SDKs expect them: the
/// request's value, or the API's default when it left the field out or sent `null`. Kept
/// by a stream for its whole life instead of the request (whose `input` history may be
/// megabytes).
#[derive(Serialize, Clone, Debug)]
pub struct Echo {
    instructions: Value,
    max_output_tokens: Value,
    metadata: Value,
    model: Value,
    parallel_tool_calls: Value,
    previous_response_id: Value,
    reasoning: Value,
    store: Value,
    temperature: Value,
    text: Value,
    tool_choice: Value,
    tools: Value,
    top_p: Value,
}

impl Echo {
    /// The settings `req` sets, defaults for the rest.
    pub fn of(req: &Value) -> Echo {
        let echo = |key: &str, default: Value| {
            req.get(key)
                .filter(|v| !v.is_null())
                .cloned()
                .unwrap_or(default)
        };
        Echo {
            instructions: echo("instructions", Value::Null),
            max_output_tokens: echo("max_output_tokens", Value::Null),
            metadata: echo("metadata", json!({})),
            model: echo("model", Value::Null),
            parallel_tool_calls: echo("parallel_tool_calls", json!(true)),
            previous_response_id: echo("previous_response_id", Value::Null),
            reasoning: echo("reasoning", json!({"effort": null, "summary": null})),
            store: echo("store", json!(true)),
            temperature: echo("temperature", Value::Null),
            text: echo("text", json!({"format": {"type": "text"}})),
            tool_choice: echo("tool_choice", json!("auto")),
            tools: echo("tools", json!([])),
            top_p: echo("top_p", Value::Null),
        }
    }

    /// `of` for a stream's envelope, which has always reported the default `store`.
    pub fn for_stream(req: &Value) -> Echo {
        Echo {
            store: json!(true),
            ..Echo::of(req)
        }
    }
}

/// An output item.
#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(untagged)]
pub enum OutputItem {
    Reasoning {
        #[serde(skip_serializing_if = "Option::is_none")]
        encrypted_content: Option<String>,
        id: String,
        /// One `summary_text` part, none when empty.
        #[serde(serialize_with = "summary_parts")]
        summary: String,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    Message {
        content: Vec<Part>,
        id: String,
        role: &'static str,
        status: &'static str,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    FunctionCall {
        arguments: String,
        call_id: String,
        id: String,
        name: String,
        status: &'static str,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    CustomToolCall {
        call_id: String,
        id: String,
        input: String,
        name: String,
        status: &'static str,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    /// An item the proxy passes on as built elsewhere (the hosted search's
    /// `web_search_call`).
    Other(Value),
}

impl OutputItem {
    pub fn reasoning(id: String, summary: String, encrypted_content: Option<String>) -> Self {
        OutputItem::Reasoning {
            encrypted_content,
            id,
            summary,
            kind: "reasoning",
        }
    }

    /// An assistant message; `status` is `in_progress` or `completed`.
    pub fn message(id: String, status: &'static str, content: Vec<Part>) -> Self {
        OutputItem::Message {
            content,
            id,
            role: "assistant",
            status,
            kind: "message",
        }
    }

    pub fn function_call(
        id: String,
        call_id: String,
        name: String,
        arguments: String,
        status: &'static str,
    ) -> Self {
        OutputItem::FunctionCall {
            arguments,
            call_id,
            id,
            name,
            status,
            kind: "function_call",
        }
    }

    pub fn custom_tool_call(
        id: String,
        call_id: String,
        name: String,
        input: String,
        status: &'static str,
    ) -> Self {
        OutputItem::CustomToolCall {
            call_id,
            id,
            input,
            name,
            status,
            kind: "custom_tool_call",
        }
    }
}

fn summary_parts<S: Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
    let parts: &[SummaryText] = if text.is_empty() {
        &[]
    } else {
        &[SummaryText::new(text)]
    };
    parts.serialize(s)
}

/// A message's content part.
#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(untagged)]
pub enum Part {
    OutputText {
        /// `url_citation`s (the hosted search's), none otherwise.
        annotations: Vec<Value>,
        text: String,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    Refusal {
        refusal: String,
        #[serde(rename = "type")]
        kind: &'static str,
    },
}

impl Part {
    pub fn output_text(text: String) -> Self {
        Part::OutputText {
            annotations: Vec::new(),
            text,
            kind: "output_text",
        }
    }

    pub fn refusal(refusal: String) -> Self {
        Part::Refusal {
            refusal,
            kind: "refusal",
        }
    }
}

/// Responses token usage.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub input_tokens_details: InputDetails,
    pub output_tokens: u64,
    pub output_tokens_details: OutputDetails,
    pub total_tokens: u64,
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct InputDetails {
    pub cached_tokens: u64,
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct OutputDetails {
    pub reasoning_tokens: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each item's bytes are those of the tree it replaced.
    #[test]
    fn items_are_the_bytes_of_the_trees() {
        let s = String::from;
        let cases = [
            (
                OutputItem::reasoning(s("rs_1"), s(""), None),
                json!({"id": "rs_1", "type": "reasoning", "summary": []}),
            ),
            (
                OutputItem::reasoning(s("rs_1"), s("why"), Some(s("enc"))),
                json!({"id": "rs_1", "type": "reasoning", "encrypted_content": "enc",
                       "summary": [{"type": "summary_text", "text": "why"}]}),
            ),
            (
                OutputItem::message(
                    s("msg_1"),
                    "completed",
                    vec![Part::output_text(s("hi")), Part::refusal(s("no"))],
                ),
                json!({"id": "msg_1", "type": "message", "role": "assistant",
                       "status": "completed", "content": [
                           {"type": "output_text", "text": "hi", "annotations": []},
                           {"type": "refusal", "refusal": "no"}]}),
            ),
            (
                OutputItem::function_call(s("fc_1"), s("c"), s("f"), s("{}"), "incomplete"),
                json!({"id": "fc_1", "type": "function_call", "status": "incomplete",
                       "call_id": "c", "name": "f", "arguments": "{}"}),
            ),
            (
                OutputItem::custom_tool_call(s("ctc_1"), s("c"), s("p"), s("x"), "completed"),
                json!({"id": "ctc_1", "type": "custom_tool_call", "status": "completed",
                       "call_id": "c", "name": "p", "input": "x"}),
            ),
            (
                OutputItem::Other(json!({"type": "web_search_call", "id": "ws"})),
                json!({"type": "web_search_call", "id": "ws"}),
            ),
        ];
        for (item, tree) in cases {
            assert_eq!(serde_json::to_string(&item).unwrap(), tree.to_string());
        }
        let mut r = Response::new(
            "r",
            1,
            Cow::Owned(Echo::of(&Value::Null)),
            "incomplete",
            Some("max_output_tokens"),
        );
        r.output = vec![OutputItem::message(
            s("m"),
            "completed",
            vec![Part::output_text(s("a")), Part::output_text(s("b"))],
        )];
        r.error = Some(ErrorBody {
            code: s("c"),
            message: s("m"),
        });
        let tree: Value = serde_json::to_value(&r).unwrap();
        assert_eq!(serde_json::to_string(&r).unwrap(), tree.to_string());
        assert_eq!(
            tree["incomplete_details"],
            json!({"reason": "max_output_tokens"})
        );
        assert_eq!(tree["output_text"], "ab");
        assert_eq!(tree["error"], json!({"code": "c", "message": "m"}));
    }
}
