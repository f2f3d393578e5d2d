//! Request adjustments that keep long agent sessions working on Copilot's limits.

pub mod billing;
pub mod compaction;
pub mod guidance;
pub mod images;
pub mod web_search;
// Traffic control (DESIGN.md §8): the admission gate; the state it runs is `traffic/`.
pub mod admission;
pub mod overflow;
