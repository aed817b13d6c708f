//! What the server itself says in a conversation (someone joined, the place in line, the chat
//! ended…), in the conversation's language: the language the visitor's widget speaks, recorded
//! when the chat starts. Stored as the message's text, so the transcript reads the same to the
//! visitor, the agent and History; the tags on each message stay the machine-readable part.

/// One thing the server says.
pub enum Line<'a> {
    /// An agent accepted or took the chat.
    Joined(&'a str),
    VisitorEnded,
    AgentEnded(&'a str),
    Transferring,
    /// The place in line; `staffed`: someone of the queue is at work.
    InLine {
        staffed: bool,
        position: i64,
    },
    AverageWait {
        minutes: i64,
    },
    /// No agent after the queue's wait: the visitor may leave a message instead.
    LeaveMessageOffer,
}

/// The line in `language` (`en`, `fr`; anything else: English).
pub fn say(language: &str, line: Line<'_>) -> String {
    match language {
        "fr" => french(line),
        _ => english(line),
    }
}

fn english(line: Line<'_>) -> String {
    match line {
        Line::Joined(name) => format!("{name} joined the chat."),
        Line::VisitorEnded => "The visitor ended the chat.".into(),
        Line::AgentEnded(name) => format!("{name} ended the chat."),
        Line::Transferring => "You are being transferred to another agent.".into(),
        Line::InLine { staffed: true, position: 1 } => "You're next in line. An agent will be with you shortly.".into(),
        Line::InLine { staffed: true, position } => format!("You are number {position} in line."),
        Line::InLine { staffed: false, position: 1 } => {
            "No agent is available right now. You're next in line: an agent will join as soon as one is available."
                .into()
        }
        Line::InLine { staffed: false, position } => {
            format!("No agent is available right now. You are number {position} in line.")
        }
        Line::AverageWait { minutes } => {
            format!("The average wait is about {minutes} {}.", if minutes == 1 { "minute" } else { "minutes" })
        }
        Line::LeaveMessageOffer => {
            "No agent is free yet. You can keep waiting, or leave your email and we\u{2019}ll answer you there.".into()
        }
    }
}

fn french(line: Line<'_>) -> String {
    match line {
        Line::Joined(name) => format!("{name} a rejoint la discussion."),
        Line::VisitorEnded => "Le visiteur a mis fin \u{e0} la discussion.".into(),
        Line::AgentEnded(name) => format!("{name} a mis fin \u{e0} la discussion."),
        Line::Transferring => "Vous allez \u{ea}tre mis en relation avec un autre conseiller.".into(),
        Line::InLine { staffed: true, position: 1 } => {
            "Vous \u{ea}tes le prochain. Un conseiller va vous r\u{e9}pondre dans un instant.".into()
        }
        Line::InLine { staffed: true, position } => format!("Vous \u{ea}tes en position {position} dans la file."),
        Line::InLine { staffed: false, position: 1 } => {
            "Aucun conseiller n\u{2019}est disponible pour le moment. Vous \u{ea}tes le prochain : un conseiller vous rejoindra d\u{e8}s que possible."
                .into()
        }
        Line::InLine { staffed: false, position } => format!(
            "Aucun conseiller n\u{2019}est disponible pour le moment. Vous \u{ea}tes en position {position} dans la file."
        ),
        Line::AverageWait { minutes } => format!("L\u{2019}attente moyenne est d\u{2019}environ {minutes} minute{}.", if minutes == 1 { "" } else { "s" }),
        Line::LeaveMessageOffer => {
            "Aucun conseiller n\u{2019}est encore libre. Vous pouvez patienter, ou laisser votre e-mail : nous vous y r\u{e9}pondrons.".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_speak_the_conversations_language_and_english_otherwise() {
        assert_eq!(say("en", Line::Joined("Alex")), "Alex joined the chat.");
        assert_eq!(say("fr", Line::Joined("Alex")), "Alex a rejoint la discussion.");
        assert_eq!(say("de", Line::Joined("Alex")), "Alex joined the chat.");
        assert_eq!(
            say("fr", Line::InLine { staffed: true, position: 3 }),
            "Vous \u{ea}tes en position 3 dans la file."
        );
        assert_eq!(
            say("fr", Line::AverageWait { minutes: 1 }),
            "L\u{2019}attente moyenne est d\u{2019}environ 1 minute."
        );
        assert_eq!(say("en", Line::AverageWait { minutes: 2 }), "The average wait is about 2 minutes.");
    }
}
