//! Fuzz target `handle_name`: see `idnode_proto::fuzzing::handle_name`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::handle_name(data));
