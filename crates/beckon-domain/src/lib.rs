//! Beckon's domain model, free of I/O.
//!
//! Everything here is plain data and pure functions: typed ids, the conversation state machine,
//! the rules a custom context must obey, agent assignment, and the events that the rest of the
//! system (storage, bus, gateways) passes around. The server, the store and the bus depend on this
//! crate; it depends on none of them, so its rules can be unit-tested without a database or a socket.

pub mod assignment;
pub mod attachment;
pub mod clock;
pub mod context;
pub mod conversation;
pub mod email;
pub mod events;
pub mod hours;
pub mod ids;
pub mod invite;
pub mod message;
pub mod model;
pub mod password;
pub mod presence;
pub mod routing;
pub mod time_zone;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use context::{Context, ContextError, ContextValue, ContextVar};
pub use conversation::{ConversationState, InvalidTransition, Transition};
pub use email::{EmailAddress, EmailError};
pub use ids::*;
pub use message::{ClientMsgId, MessageText, Sender, SenderKind};
pub use password::{NewPassword, PasswordError};
pub use presence::Presence;
