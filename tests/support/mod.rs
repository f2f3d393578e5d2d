//! Shared test support: the fake upstream (`fake`) and the helpers that run the real
//! binary and talk HTTP to it (`proc`).

pub mod fake;
pub mod proc;

pub use fake::*;
pub use proc::*;
