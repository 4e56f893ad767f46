//! The idnode binary.
fn main() {}
