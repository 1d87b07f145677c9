//! Bosun's runbook engine.
