//! Fuzz target `handle_value`: see `idnode_proto::fuzzing::handle_value`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::handle_value(data));
