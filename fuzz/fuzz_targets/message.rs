//! Fuzz target `message`: see `idnode_proto::fuzzing::message`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::message(data));
