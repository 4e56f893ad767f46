//! Fuzz target `envelope`: see `idnode_proto::fuzzing::envelope`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::envelope(data));
