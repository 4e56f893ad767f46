//! Fuzz target `body_referral`: see `idnode_proto::fuzzing::body_referral`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::body_referral(data));
