//! Fuzz target `body_error`: see `idnode_proto::fuzzing::body_error`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::body_error(data));
