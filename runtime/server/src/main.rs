//! The `bosun` command.
fn main() {}
