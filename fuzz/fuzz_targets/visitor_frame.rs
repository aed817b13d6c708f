//! Fuzzes the visitor WebSocket's frame parser: every text frame a page sends goes through
//! `frames::parse::<VisitorIn>` (and, for frames that are not processed, `rid_of`) before anything
//! else looks at it, so it must turn any text into a frame or an error, never a panic. The context
//! values a frame carries (`start_chat`, `set_context`) are then fed to the context parser as the
//! session does, and a context that parses must survive its own wire format unchanged.
//! The checks are in fuzz/checks (shared with the test suite's short run).
#![no_main]

#[path = "../checks/mod.rs"]
#[allow(dead_code)] // each target uses one of the checks
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::visitor_frame(data));
