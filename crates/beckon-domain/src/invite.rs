//! What became of an invite, in one vocabulary for the widget's reports, the trigger runtime's
//! bookkeeping, the live-visitor list and the invite funnel: the server records `offered` when it
//! sends one; the widget reports `shown`, then `accepted`, `declined` or `expired` — or
//! `suppressed` when it could not show it.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum InviteOutcome {
    Offered,
    Shown,
    Accepted,
    Declined,
    Expired,
    Suppressed,
}

impl InviteOutcome {
    pub const ALL: [InviteOutcome; 6] = [
        InviteOutcome::Offered,
        InviteOutcome::Shown,
        InviteOutcome::Accepted,
        InviteOutcome::Declined,
        InviteOutcome::Expired,
        InviteOutcome::Suppressed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InviteOutcome::Offered => "offered",
            InviteOutcome::Shown => "shown",
            InviteOutcome::Accepted => "accepted",
            InviteOutcome::Declined => "declined",
            InviteOutcome::Expired => "expired",
            InviteOutcome::Suppressed => "suppressed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// An outcome a widget may report (`offered` is the server's own record).
    pub fn reported_by_widget(s: &str) -> Option<Self> {
        Self::parse(s).filter(|o| *o != InviteOutcome::Offered)
    }

    /// The visitor answered the invite or it ran out: nothing more will happen to it.
    pub fn is_final(self) -> bool {
        matches!(self, InviteOutcome::Accepted | InviteOutcome::Declined | InviteOutcome::Expired)
    }

    /// The invite is off the visitor's screen (answered, run out, or never shown).
    pub fn is_over(self) -> bool {
        self.is_final() || self == InviteOutcome::Suppressed
    }
}

impl fmt::Display for InviteOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_round_trip_and_the_widget_cannot_claim_an_offer() {
        for o in InviteOutcome::ALL {
            assert_eq!(InviteOutcome::parse(o.as_str()), Some(o));
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
        assert_eq!(InviteOutcome::reported_by_widget("offered"), None);
        assert_eq!(InviteOutcome::reported_by_widget("shown"), Some(InviteOutcome::Shown));
        assert_eq!(InviteOutcome::parse("Shown"), None);
        assert!(InviteOutcome::Expired.is_final() && !InviteOutcome::Suppressed.is_final());
        assert!(InviteOutcome::Suppressed.is_over() && !InviteOutcome::Shown.is_over());
    }
}
