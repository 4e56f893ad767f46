//! Fuzz target `body_session_exchange_key`: see `idnode_proto::fuzzing::body_session_exchange_key`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::body_session_exchange_key(data));
