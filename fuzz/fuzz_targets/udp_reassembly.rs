//! Fuzz target `udp_reassembly`: see `idnode_proto::fuzzing::udp_reassembly`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idnode_proto::fuzzing::udp_reassembly(data));
