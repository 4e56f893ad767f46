//! Fuzz target `credential`: see `idnode_proto::fuzzing::credential`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::credential(data));
