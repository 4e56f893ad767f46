//! Interop and conformance suites that run against a live idnode node over loopback.
//!
//! The suites are Python programs beside this crate, so that they share no code with the node:
//! `rest_replay.py` replays the REST exchanges captured from the reference Handle.Net 9.3.1
//! server (`vectors/handle-rest/`, with every known difference and its reason in
//! `rest_differences.json`), `pyhandle_suite.py` drives the node with the unmodified pyhandle
//! 1.5.0 client, and `native/` holds an independent native Handle protocol client with its
//! offline checks against the captured native exchanges and a live suite. `run.py` starts a
//! fresh node for each suite; `scripts/test.sh` runs them all. `vectors/` holds the golden data
//! that the Rust tests read too, with the licences of its sources.
//!
//! The crate itself has no code; its test checks that every vector set it ships keeps its
//! licence or provenance note.
