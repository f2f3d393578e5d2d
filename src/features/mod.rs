//! Request adjustments that keep long agent sessions working on Copilot's limits.

pub mod compaction;
pub mod effort;
pub mod guidance;
pub mod images;
pub mod response_store;
