//! Protocol translation through one pivot format, OpenAI Chat Completions: each module
//! converts one direction of one message kind, as pure functions over JSON values.
