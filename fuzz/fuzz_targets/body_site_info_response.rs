//! Fuzz target `body_site_info_response`: see `idnode_proto::fuzzing::body_site_info_response`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::body_site_info_response(data));
