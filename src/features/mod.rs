//! What the routes apply to a request before it goes upstream: the adjustments that keep
//! long agent sessions working on Copilot's limits (billing, compaction, guidance, images,
//! overflow), the admission gate of traffic control, and web search's providers, detection
//! and blocks (the loops that run a searched turn are the routes').

pub mod billing;
pub mod compaction;
pub mod guidance;
pub mod images;
pub mod web_search;
// Traffic control (DESIGN.md §8): the admission gate; the state it runs is `traffic/`.
pub mod admission;
pub mod overflow;
pub mod prompt_bytes;
