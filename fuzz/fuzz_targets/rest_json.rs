//! Fuzz target `rest_json`: see `idnode_proto::fuzzing::rest_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::rest_json(data));
