//! Fuzz target `body_handle_list_response`: see `idnode_proto::fuzzing::body_handle_list_response`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::body_handle_list_response(data));
