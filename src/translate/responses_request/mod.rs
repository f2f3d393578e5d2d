//! OpenAI Responses request -> Copilot Chat Completions request, for models Copilot serves
//! only on `/chat/completions` (Claude, Gemini, gpt-4.x) (reference §5.6, with §10.17
//! fixed).
//!
//! Input items become messages: consecutive `function_call`s and the assistant text and
//! reasoning around them form ONE assistant turn whose every call is answered right after
//! it by its own output, wherever the client put that output (the reference split
//! parallel calls and lost the first one's output). Freeform `custom` tools (Codex's
//! `apply_patch`) become a function with one string parameter `input`; `reasoning` items
//! go back as Copilot's `reasoning_text`/`reasoning_opaque` (those another model family
//! made, after a model switch, are left out: no chat-path model can verify them);
//! assistant `output_text` history is kept. Hosted tools the Chat path cannot run
//! (`web_search`, `tool_search`, ...) are dropped with a log line, `namespace` tools
//! flattened.

mod conversation;
#[cfg(test)]
mod tests;
mod tools;

use super::chat_repair;
use crate::protocol::chat_request::{ChatRequest, ResponseFormat, StreamOptions};
use crate::protocol::responses_request::{
    Checked, Content, Input, Item, ResponsesRequest, Role, TextFormat, Tools,
};
use conversation::{Conversation, MISSING_OUTPUT};
use serde_json::{Map, Value};
use tools::{ToolSet, tool_choice};

/// The Chat body and the facts the route needs to translate the answer back and to set
/// the billing and vision headers.
#[derive(Debug)]
pub struct ChatFromResponses {
    pub body: ChatRequest,
    /// Names of the freeform `custom` tools, whose calls go back as `custom_tool_call`.
    pub custom_tools: Vec<String>,
    /// The last input item is a genuine user message (`X-Initiator: user`).
    pub user_turn: bool,
    pub has_images: bool,
}

impl ChatFromResponses {
    /// The Chat body as the JSON object the routes' later steps (fitting the request to
    /// its model, the hosted web search) still edit: the one conversion of the typed
    /// request into a tree, once per request.
    pub fn body_object(&self) -> Result<Map<String, Value>, String> {
        match serde_json::to_value(&self.body) {
            Ok(Value::Object(body)) => Ok(body),
            Ok(_) => Err("the translated request is not an object".into()),
            Err(e) => Err(format!("the translated request does not serialize: {e}")),
        }
    }
}

/// Translates a request body, `history` being the items a `previous_response_id` names
/// (from the response store), which go before `input`.
pub fn to_chat(
    req: &Value,
    upstream_model: &str,
    history: &[Value],
) -> Result<ChatFromResponses, String> {
    let req = ResponsesRequest::from_value(req)?;
    let history: Vec<Item> = history.iter().cloned().map(Item::from).collect();
    from_request(&req, upstream_model, &history)
}

/// Translates a typed request; the `Err` is the 400's message, naming the place.
pub fn from_request(
    req: &ResponsesRequest,
    upstream_model: &str,
    history: &[Item],
) -> Result<ChatFromResponses, String> {
    let text_input;
    let input: &[Item] = match &req.input {
        Input::Absent => &[],
        Input::Text(text) => {
            text_input = [Item::Message {
                role: Some(Role::User),
                content: Some(Content::Text(text.clone())),
            }];
            &text_input
        }
        Input::Items(items) => items,
        Input::Invalid => return Err("`input` must be a string or an array of items".into()),
    };
    let items: Vec<&Item> = history.iter().chain(input).collect();
    let first_input = history.len();
    let label = |i: usize| {
        if i >= first_input {
            format!("input.{}", i - first_input)
        } else {
            format!("previous_response_id history item {i}")
        }
    };

    let mut conv = Conversation::new(&items);
    if let Some(text) = &req.instructions {
        conv.system(text.clone());
    }
    for (i, item) in items.iter().enumerate() {
        conv.item(item).map_err(|e| format!("{}{e}", label(i)))?;
    }
    let has_images = conv.has_images;
    let messages = chat_repair::pair_results(conv.finish(), MISSING_OUTPUT);
    if messages.is_empty() {
        return Err("`input` holds no message to send".into());
    }

    let tools = match &req.tools {
        None => ToolSet::default(),
        Some(Tools::List(tools)) => ToolSet::from_request(tools)?,
        Some(Tools::Invalid) => return Err("`tools` must be an array".into()),
    };
    let mut out = ChatRequest {
        model: upstream_model.to_string(),
        messages,
        ..ChatRequest::default()
    };
    if !tools.tools.is_empty() {
        out.tool_choice = req
            .tool_choice
            .as_ref()
            .and_then(|c| tool_choice(c, &tools));
        if let Some(p) = req.parallel_tool_calls {
            out.extra.insert("parallel_tool_calls".into(), p.into());
        }
        out.tools = Some(tools.tools);
    }
    copy_scalars(req, &mut out)?;

    Ok(ChatFromResponses {
        body: out,
        custom_tools: tools.custom,
        user_turn: items.last().is_some_and(|i| i.is_user_message()),
        has_images,
    })
}

/// Scalars with a Chat twin. `store`, `include`, `prompt_cache_key`, `client_metadata`,
/// `metadata`, `text.verbosity`, `truncation` and the like have none and are left out.
fn copy_scalars(req: &ResponsesRequest, out: &mut ChatRequest) -> Result<(), String> {
    out.max_tokens = match req.max_output_tokens {
        None => None,
        Some(Checked::Valid(n)) => Some(n),
        Some(Checked::Invalid) => {
            return Err("`max_output_tokens` must be a positive integer".into());
        }
    };
    let number = |key: &str, value: &Option<Checked<_>>| match value {
        None => Ok(None),
        Some(Checked::Valid(n)) => Ok(Some(Clone::clone(n))),
        Some(Checked::Invalid) => Err(format!("`{key}` must be a number")),
    };
    out.temperature = number("temperature", &req.temperature)?;
    out.top_p = number("top_p", &req.top_p)?;
    let effort = req.reasoning.as_ref().and_then(|r| r.effort.as_deref());
    out.reasoning_effort = effort.and_then(chat_effort).map(str::to_string);
    let format = req.text.as_ref().and_then(|t| t.format.as_ref());
    out.response_format = format.and_then(response_format);
    if req.stream == Some(true) {
        out.stream = Some(true);
        out.stream_options = Some(StreamOptions {
            include_usage: true,
        });
    }
    Ok(())
}

/// Chat's effort scale is low/medium/high: the Responses ends of the scale are brought in
/// and `none` means no effort field at all.
fn chat_effort(effort: &str) -> Option<&str> {
    match effort {
        "none" => None,
        "minimal" => Some("low"),
        "xhigh" | "max" => Some("high"),
        other => Some(other),
    }
}

fn response_format(format: &TextFormat) -> Option<ResponseFormat> {
    match format.kind.as_deref()? {
        "json_schema" => {
            let mut schema = Map::new();
            let name = format.name.as_deref().unwrap_or("response");
            schema.insert("name".into(), name.into());
            let fields = [
                ("schema", &format.schema),
                ("strict", &format.strict),
                ("description", &format.description),
            ];
            for (key, value) in fields {
                if let Some(v) = value {
                    schema.insert(key.into(), v.clone());
                }
            }
            Some(ResponseFormat::JsonSchema {
                json_schema: Value::Object(schema),
            })
        }
        "json_object" => Some(ResponseFormat::JsonObject),
        _ => None,
    }
}
