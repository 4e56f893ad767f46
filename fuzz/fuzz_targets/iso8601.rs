//! Fuzz target `iso8601`: see `idnode_proto::fuzzing::iso8601`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::iso8601(data));
