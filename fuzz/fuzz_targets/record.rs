//! Fuzz target `record`: see `idnode_proto::fuzzing::record`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::record(data));
