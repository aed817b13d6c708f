//! The frames of both WebSockets live in their own crate (`beckon-protocol`), so they can be
//! fuzzed and reused without the server; this module keeps their old path.

pub use beckon_protocol::*;
