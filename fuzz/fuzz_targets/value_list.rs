//! Fuzz target `value_list`: see `idnode_proto::fuzzing::value_list`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::value_list(data));
