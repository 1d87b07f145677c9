//! Bosun's SQLite store.
