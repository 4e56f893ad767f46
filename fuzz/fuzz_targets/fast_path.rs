//! Fuzz target `fast_path`: see `idnode_proto::fuzzing::fast_path`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::fast_path(data));
