//! Large-edit guidance: models with a small output limit that are given file-writing tools
//! tend to attempt one giant Write and get cut off mid-call. A system note tells them to
//! split the work (reference/translation.md §6.11).

use serde_json::{Map, Value, json};

const EDIT_TOOLS: [&str; 4] = ["Edit", "MultiEdit", "NotebookEdit", "Write"];
const STRONG_PHRASES: [&str; 14] = [
    "complete",
    "comprehensive",
    "entire",
    "full file",
    "whole file",
    "one giant",
    "one shot",
    "do not split",
    "exactly once",
    "thousands of lines",
    "thousand lines",
    "rewrite the file",
    "write the complete",
    "single write",
];

/// Inserts the note as the first message of a translated Chat request when the model can
/// emit at most 32,000 tokens and the request offers an editing tool.
pub fn add_large_edit_note(chat: &mut Map<String, Value>, max_output: Option<u64>) {
    let Some(limit) = max_output.filter(|n| *n <= 32_000) else {
        return;
    };
    let tools = chat
        .get("tools")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let edits = tools.iter().any(|t| {
        t.pointer("/function/name")
            .and_then(Value::as_str)
            .is_some_and(|n| EDIT_TOOLS.contains(&n))
    });
    let Some(Value::Array(messages)) = chat.get_mut("messages") else {
        return;
    };
    let already = messages.iter().any(|m| {
        m.get("role").and_then(Value::as_str) == Some("system")
            && m.get("content")
                .and_then(Value::as_str)
                .is_some_and(|c| c.contains("File-editing budget:"))
    });
    if !edits || already {
        return;
    }
    let strong = messages.iter().any(|m| {
        m.get("role").and_then(Value::as_str) == Some("user")
            && m.get("content").and_then(Value::as_str).is_some_and(|c| {
                let lower = c.to_ascii_lowercase();
                STRONG_PHRASES.iter().any(|p| contains_word(&lower, p))
            })
    });
    let budget = format!(
        "File-editing budget: this model can emit about {} output tokens in one turn. When using \
         Write/Edit/MultiEdit-style tools, never attempt one giant file rewrite.",
        crate::translate::thousands(limit as usize)
    );
    let text = if strong {
        format!(
            "High-risk large edit detected: the user request looks likely to overflow a single tool call on this \
             model. {budget} Do not satisfy this request with one massive Write/Edit/MultiEdit call, even if the \
             user asks for a complete file in one step. Instead, choose a chunked strategy: create a scaffold \
             first, then append or patch the file in multiple sequential tool calls, or generate a helper script \
             and write that script in smaller pieces."
        )
    } else {
        format!(
            "{budget} For large file creation or large edits, split the work into multiple smaller tool calls (for \
             example staged edits, chunked appends, or a script written in pieces) so each tool call stays well \
             below the output limit."
        )
    };
    messages.insert(0, json!({"role": "system", "content": text}));
}

fn contains_word(text: &str, phrase: &str) -> bool {
    text.match_indices(phrase).any(|(i, _)| {
        let before = text[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let after = text[i + phrase.len()..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric());
        before && after
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(user: &str) -> Map<String, Value> {
        json!({
            "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": user}],
            "tools": [{"type": "function", "function": {"name": "Write", "parameters": {}}}],
        })
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn note_added_only_for_small_output_models_with_edit_tools() {
        let mut c = chat("fix the bug");
        add_large_edit_note(&mut c, Some(16_000));
        let note = c["messages"][0]["content"].as_str().unwrap().to_string();
        assert!(
            note.starts_with("File-editing budget: this model can emit about 16,000 output tokens"),
            "{note}"
        );
        add_large_edit_note(&mut c, Some(16_000));
        assert_eq!(c["messages"].as_array().unwrap().len(), 3, "added twice");
        let mut big = chat("fix the bug");
        add_large_edit_note(&mut big, Some(64_000));
        assert_eq!(big["messages"].as_array().unwrap().len(), 2);
        let mut strong = chat("Write the ENTIRE file in one shot");
        add_large_edit_note(&mut strong, Some(8_000));
        assert!(
            strong["messages"][0]["content"]
                .as_str()
                .unwrap()
                .starts_with("High-risk large edit detected")
        );
        let mut incomplete = chat("the list is incomplete");
        add_large_edit_note(&mut incomplete, Some(8_000));
        assert!(
            incomplete["messages"][0]["content"]
                .as_str()
                .unwrap()
                .starts_with("File-editing budget")
        );
    }
}
