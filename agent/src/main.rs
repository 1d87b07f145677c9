//! The `bosun-agent` binary.
fn main() {}
