//! Unit tests of the typed Responses request: how input items, their parts and
//! outputs, and odd shapes read.

use super::*;
use serde_json::json;

fn item(v: Value) -> Item {
    Item::from(v)
}

#[test]
fn items_by_type_with_the_easy_form_a_message() {
    assert!(item(json!({"role": "user", "content": "hi"})).is_user_message());
    assert!(item(json!({"type": 5, "role": "user"})).is_user_message());
    assert!(matches!(item(json!("hi")), Item::NotObject));
    assert!(matches!(item(json!([])), Item::NotObject));
    let Item::FunctionCall(call) =
        item(json!({"type": "function_call", "call_id": "c", "name": "f", "arguments": {"a": 1}}))
    else {
        panic!("a function call")
    };
    assert_eq!(call.arguments, "{\"a\":1}");
    let Item::FunctionCall(call) = item(json!({"type": "function_call", "name": 3})) else {
        panic!("a function call")
    };
    assert_eq!((call.name, call.arguments.as_str()), (None, "{}"));
    assert!(matches!(
        item(json!({"type": "web_search_call", "id": "ws"})),
        Item::Unknown { kind } if kind == "web_search_call"
    ));
    let Item::Message { content, role } = item(json!({"role": "robot", "content": 3})) else {
        panic!("a message")
    };
    assert_eq!(role, Some(Role::Other("robot".into())));
    assert!(matches!(content, Some(Content::Invalid)));
}

#[test]
fn parts_and_outputs() {
    let parts = |v: Value| match Content::from(v) {
        Content::Parts(p) => p,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        parts(json!([
            "bare",
            {"type": "input_text", "text": "t"},
            {"type": "refusal", "refusal": "no"},
            {"type": "input_image", "image_url": {"url": "u"}, "detail": "low"},
            {"type": "input_image", "file_id": "f"},
            {"type": "input_file", "file_id": "f"},
            {"type": "input_audio"},
            7,
        ])),
        [
            Part::Text("bare".into()),
            Part::Text("t".into()),
            Part::Text("no".into()),
            Part::InputImage {
                url: Some("u".into()),
                detail: Some("low".into())
            },
            Part::InputImage {
                url: None,
                detail: None
            },
            Part::InputFile,
            Part::Unknown {
                kind: "input_audio".into()
            },
            Part::Unknown { kind: "?".into() },
        ]
    );
    assert!(matches!(
        ToolOutput::from(json!({"content": "c", "success": true})),
        ToolOutput::Legacy { content: Some(c), .. } if c == "c"
    ));
    assert!(matches!(ToolOutput::from(json!(3)), ToolOutput::Other(_)));
}

#[test]
fn odd_shapes_are_kept_for_the_translator_to_name() {
    let req = ResponsesRequest::from_value(&json!({
        "input": 5, "tools": {}, "max_output_tokens": "9", "temperature": 0.5,
        "top_p": "x", "stream": "yes", "reasoning": 1, "tool_choice": {"type": "function", "name": "f"},
    }))
    .unwrap();
    assert!(matches!(req.input, Input::Invalid));
    assert!(matches!(req.tools, Some(Tools::Invalid)));
    assert_eq!(req.max_output_tokens, Some(Checked::Invalid));
    assert_eq!(
        req.temperature,
        Some(Checked::Valid(Number::from_f64(0.5).unwrap()))
    );
    assert_eq!(req.top_p, Some(Checked::Invalid));
    assert_eq!(req.stream, None);
    assert!(req.reasoning.is_none());
    assert_eq!(req.tool_choice, Some(ToolChoice::Named(Some("f".into()))));
    assert!(ResponsesRequest::from_value(&json!([])).is_err());
}
