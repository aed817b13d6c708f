//! The email a visitor asks for at the end of a chat: what they saw of it (agents' notes never
//! reach them), in the conversation's language, times in their time zone.

use beckon_domain::message::Message;
use beckon_domain::model::Conversation;
use beckon_domain::{SenderKind, Timestamp};
use std::fmt::Write as _;

/// The subject and body.
pub fn compose(
    c: &Conversation,
    messages: &[Message],
    tz: &jiff::tz::TimeZone,
    title: &str,
) -> (String, String) {
    let french = c.language == "fr";
    let at = |t: Timestamp, format: &str| match jiff::Timestamp::from_millisecond(t.0) {
        Ok(ts) => ts.to_zoned_datetime(tz.clone()).strftime(format).to_string(),
        Err(_) => String::new(),
    };
    let subject = if french {
        format!("Votre discussion \u{2014} {title}")
    } else {
        format!("Your chat \u{2014} {title}")
    };
    let mut body = String::new();
    let _ = writeln!(
        body,
        "{} {}\n",
        if french { "Discussion du" } else { "Chat of" },
        at(c.created_at, "%Y-%m-%d %H:%M %Z")
    );
    for m in messages.iter().filter(|m| !m.is_internal()) {
        let who = match m.sender.kind {
            SenderKind::Visitor => format!("{}: ", if french { "Vous" } else { "You" }),
            SenderKind::Agent => format!(
                "{}: ",
                m.sender.name.as_deref().unwrap_or(if french { "Conseiller" } else { "Agent" })
            ),
            SenderKind::System => "\u{2014} ".to_owned(),
        };
        let _ =
            writeln!(body, "[{}] {who}{}", at(m.created_at, "%H:%M"), m.plain_text().replace('\n', "\n    "));
    }
    (subject, body)
}
