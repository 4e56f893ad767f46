//! Fuzz target `site_info`: see `idnode_proto::fuzzing::site_info`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::site_info(data));
