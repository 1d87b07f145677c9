//! Patch Manager in the control plane beyond the API (`api/patch.rs`) and the
//! CLI (`cli/patch.rs`): the built-in patch plugin run in a node host
//! (`sandbox.rs`), which `bosun bench patch` (`bench.rs`) and the install test
//! use.

pub mod bench;
#[cfg(test)]
mod install_tests;
pub mod sandbox;
