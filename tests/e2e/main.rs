//! End-to-end tests: real `bosun` processes on a temporary data directory.
