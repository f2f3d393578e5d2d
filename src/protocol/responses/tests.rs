//! The Responses stream events: each one's bytes, written by hand or through serde, are
//! the bytes of its JSON tree.

use super::{At, Echo, OutputItem, Response, StreamEvent};
use serde_json::json;
use std::borrow::Cow;

#[test]
fn events_are_the_bytes_of_the_trees() {
    let text = "a \"q\"\n\u{1F600}";
    let at = At {
        item_id: "msg_1",
        output_index: 2,
    };
    let (args, name) = ("{}", "f");
    let item = OutputItem::message("x".into(), "completed", Vec::new());
    let item_tree = json!({"id": "x", "type": "message", "role": "assistant",
                           "status": "completed", "content": []});
    let echo = Echo::of(&json!({"model": "m", "store": null, "tools": [{"type": "custom"}]}));
    let response = Response::new("resp_1", 5, Cow::Borrowed(&echo), "in_progress", None);
    let response_tree = json!({"id": "resp_1", "object": "response", "created_at": 5,
        "status": "in_progress", "error": null, "incomplete_details": null, "model": "m",
        "output": [], "output_text": "", "usage": null, "instructions": null,
        "tools": [{"type": "custom"}], "tool_choice": "auto", "parallel_tool_calls": true,
        "reasoning": {"effort": null, "summary": null}, "text": {"format": {"type": "text"}},
        "metadata": {}, "temperature": null, "top_p": null, "max_output_tokens": null,
        "previous_response_id": null, "store": true});
    let cases = [
        (
            StreamEvent::response("response.created", &response, 9),
            json!({"response": response_tree}),
        ),
        (
            StreamEvent::item_added(2, &item, 9),
            json!({"output_index": 2, "item": item_tree}),
        ),
        (
            StreamEvent::item_done(2, &item, 9),
            json!({"output_index": 2, "item": item_tree}),
        ),
        (
            StreamEvent::summary_part(at, "", false, 9),
            json!({"item_id": "msg_1", "output_index": 2, "summary_index": 0,
                   "part": {"type": "summary_text", "text": ""}}),
        ),
        (
            StreamEvent::summary_part(at, text, true, 9),
            json!({"item_id": "msg_1", "output_index": 2, "summary_index": 0,
                   "part": {"type": "summary_text", "text": text}}),
        ),
        (
            StreamEvent::summary_delta(at, text, 9),
            json!({"item_id": "msg_1", "output_index": 2, "summary_index": 0, "delta": text}),
        ),
        (
            StreamEvent::summary_done(at, text, 9),
            json!({"item_id": "msg_1", "output_index": 2, "summary_index": 0, "text": text}),
        ),
        (
            StreamEvent::content_part(at, "", false, 9),
            json!({"item_id": "msg_1", "output_index": 2, "content_index": 0,
                   "part": {"type": "output_text", "text": "", "annotations": []}}),
        ),
        (
            StreamEvent::content_part(at, text, true, 9),
            json!({"item_id": "msg_1", "output_index": 2, "content_index": 0,
                   "part": {"type": "output_text", "text": text, "annotations": []}}),
        ),
        (
            StreamEvent::text_delta(at, text, 9),
            json!({"item_id": "msg_1", "output_index": 2, "content_index": 0,
                   "delta": text, "logprobs": []}),
        ),
        (
            StreamEvent::text_done(at, text, 9),
            json!({"item_id": "msg_1", "output_index": 2, "content_index": 0,
                   "text": text, "logprobs": []}),
        ),
        (
            StreamEvent::call_delta(at, text, false, 9),
            json!({"item_id": "msg_1", "output_index": 2, "delta": text}),
        ),
        (
            StreamEvent::call_delta(at, text, true, 9),
            json!({"item_id": "msg_1", "output_index": 2, "delta": text}),
        ),
        (
            StreamEvent::arguments_done(at, name, args, 9),
            json!({"item_id": "msg_1", "output_index": 2, "name": "f", "arguments": "{}"}),
        ),
        (
            StreamEvent::input_done(at, args, 9),
            json!({"item_id": "msg_1", "output_index": 2, "input": "{}"}),
        ),
    ];
    for (event, mut tree) in cases {
        let name = event.name();
        tree["type"] = name.into();
        tree["sequence_number"] = 9.into();
        let e = event.to_event();
        assert_eq!(e.data, tree.to_string(), "{name}");
        assert_eq!(e.data, serde_json::to_string(&event).unwrap(), "{name}");
        assert_eq!(e.event.as_deref(), Some(name));
    }
}
