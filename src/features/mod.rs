//! Request adjustments that keep long agent sessions working on Copilot's limits.

pub mod billing;
pub mod compaction;
pub mod effort;
pub mod guidance;
pub mod images;
pub mod response_store;
pub mod web_search;
// Traffic control (DESIGN.md §8): the admission gate and what it runs.
pub mod admission;
pub mod approval;
pub mod limiter;
pub mod overflow;
pub mod traffic;
