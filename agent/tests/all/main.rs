//! The agent's integration tests, one binary with a module per subject.

mod dependencies;
