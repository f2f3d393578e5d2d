//! Request adjustments that keep long agent sessions working on Copilot's limits.

pub mod guidance;
pub mod images;
pub mod response_store;
// The search loop of /v1/messages and /v1/alpha/search call into it as they land.
#[allow(dead_code)]
pub mod web_search;
