//! Large-edit guidance: models with a small output limit that are given file-writing tools
//! tend to attempt one giant Write and get cut off mid-call. A system note tells them to
//! split the work (reference/translation.md §6.11).

use crate::protocol::chat_request::{ChatRequest, Message, Role};

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
pub fn add_large_edit_note(chat: &mut ChatRequest, max_output: Option<u64>) {
    let Some(limit) = max_output.filter(|n| *n <= 32_000) else {
        return;
    };
    let edits = chat
        .tools
        .iter()
        .flatten()
        .any(|t| EDIT_TOOLS.contains(&t.function.name.as_str()));
    let messages = &mut chat.messages;
    let already = messages.iter().any(|m| {
        m.role == Role::System
            && m.content_text()
                .is_some_and(|c| c.contains("File-editing budget:"))
    });
    if !edits || already {
        return;
    }
    let strong = messages.iter().any(|m| {
        m.role == Role::User
            && m.content_text().is_some_and(|c| {
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
    messages.insert(0, Message::text(Role::System, text));
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
    use serde_json::json;

    fn chat(user: &str) -> ChatRequest {
        serde_json::from_value(json!({
            "model": "m",
            "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": user}],
            "tools": [{"type": "function", "function": {"name": "Write", "parameters": {}}}],
        }))
        .unwrap()
    }

    fn first_text(c: &ChatRequest) -> &str {
        c.messages[0].content_text().unwrap()
    }

    #[test]
    fn note_added_only_for_small_output_models_with_edit_tools() {
        let mut c = chat("fix the bug");
        add_large_edit_note(&mut c, Some(16_000));
        let note = first_text(&c);
        assert!(
            note.starts_with("File-editing budget: this model can emit about 16,000 output tokens"),
            "{note}"
        );
        assert_eq!(c.messages[0].role, Role::System);
        add_large_edit_note(&mut c, Some(16_000));
        assert_eq!(c.messages.len(), 3, "added twice");
        let mut big = chat("fix the bug");
        add_large_edit_note(&mut big, Some(64_000));
        assert_eq!(big.messages.len(), 2);
        let mut strong = chat("Write the ENTIRE file in one shot");
        add_large_edit_note(&mut strong, Some(8_000));
        assert!(first_text(&strong).starts_with("High-risk large edit detected"));
        let mut incomplete = chat("the list is incomplete");
        add_large_edit_note(&mut incomplete, Some(8_000));
        assert!(first_text(&incomplete).starts_with("File-editing budget"));
    }
}
