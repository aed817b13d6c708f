//! Fuzzes the agent WebSocket's frame parser (`frames::parse::<AgentIn>`) and `rid_of`: any text
//! from a console must become a frame or a `bad_frame` error, never a panic.
//! The checks are in fuzz/checks (shared with the test suite's short run).
#![no_main]

#[path = "../checks/mod.rs"]
#[allow(dead_code)] // each target uses one of the checks
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::agent_frame(data));
