//! Fuzzes `Context::parse`, the one gate every custom context passes (the SDK's `start_chat` and
//! `set_context`, JWT `lwicontexts`, pre-chat answers): any JSON must give a context or a
//! `ContextError`, never a panic. A context that parses must keep the documented limits and come
//! back unchanged through its wire format, as a value and as text (it is stored as JSON text).
//! The checks are in fuzz/checks (shared with the test suite's short run).
#![no_main]

#[path = "../checks/mod.rs"]
#[allow(dead_code)] // each target uses one of the checks
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::context(data));
