//! idnode's documentation: the user guide, API reference, template reference and benchmark
//! reports live as Markdown files beside this crate. The crate itself holds no code; its tests
//! (`tests/tidy.rs`) check that `ARCHITECTURE.md`, the README and the source tree keep the rules
//! they state.
