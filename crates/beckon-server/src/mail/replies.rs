//! Agents' answers to messages left for an email reply, mailed to the visitor.
//!
//! A step of the sweeper (every node runs it): the store hands each conversation with answers
//! not mailed yet to one node at a time, under a lease (`MAIL_LEASE_MS`), and records how far it
//! got only after the SMTP server took the email. So a restart or a dead node delays an answer
//! but loses none; a node dying after the server took it and before recording it means one
//! email sent twice (at least once, never never). New answers since the last email go in one
//! email, the visitor's own words quoted below. An address the server refuses for good is given
//! up on, and the agent reads why in the conversation (an internal note).

use super::{MailError, Mailer};
use crate::chat::Chat;
use beckon_domain::message::Message;
use beckon_domain::{SenderKind, Timestamp};
use beckon_store::{MailDue, Store, StoreError};

/// How long a node has to send one conversation's email before another node may try.
pub const MAIL_LEASE_MS: i64 = 60_000;
/// Conversations dealt with per sweep (the rest wait for the next, moments later).
const PER_SWEEP: u32 = 20;
/// The visitor's latest words quoted under the answer.
const QUOTED: usize = 3;

/// Mails what is due at `now`.
pub async fn deliver_due(
    store: &dyn Store,
    mailer: &Mailer,
    chat: &Chat,
    now: Timestamp,
) -> Result<(), StoreError> {
    for due in store.claim_mail(now, now.plus_millis(MAIL_LEASE_MS), PER_SWEEP).await? {
        deliver(store, mailer, chat, due).await?;
    }
    Ok(())
}

async fn deliver(store: &dyn Store, mailer: &Mailer, chat: &Chat, due: MailDue) -> Result<(), StoreError> {
    let c = &due.conversation;
    let Some(to) = c.reply_email.as_deref() else { return Ok(()) };
    let all = store.messages_after(c.id, 0, 10_000).await?;
    let through = all.last().map_or(due.mailed_seq, |m| m.seq);
    let answers: Vec<&Message> = all
        .iter()
        .filter(|m| m.seq > due.mailed_seq && m.sender.kind == SenderKind::Agent && !m.is_internal())
        .collect();
    let Some(first) = answers.first().map(|m| m.seq) else {
        // Only the visitor's own words or system lines since: nothing to mail.
        return store.mail_done(c.id, through).await;
    };
    // What the visitor said before these answers (mailed or not: the sweep may first see the
    // message when an answer is already there).
    let asked: Vec<&Message> =
        all.iter().filter(|m| m.seq < first && m.sender.kind == SenderKind::Visitor).collect();
    let french = c.language == "fr";
    let body = compose(&answers, &asked[asked.len().saturating_sub(QUOTED)..], french);
    let subject = if french { "Re : votre message" } else { "Re: your message" };
    match mailer.send(to, subject, body).await {
        Ok(()) => {
            tracing::info!(conversation = %c.id, answers = answers.len(), "answer mailed to the visitor");
            store.mail_done(c.id, through).await
        }
        Err(MailError::Refused(why)) => {
            tracing::warn!(conversation = %c.id, %why, "the visitor's address was refused; the answer is not mailed");
            store.mail_done(c.id, through).await?;
            chat.internal_note(c.id, format!("The answer could not be emailed to {to}: {why}"), "mailfailed")
                .await;
            Ok(())
        }
        Err(e @ MailError::Later(_)) => {
            // The lease runs out and this or another node tries again.
            tracing::warn!(conversation = %c.id, error = %e, "mailing an answer failed; retrying later");
            Ok(())
        }
    }
}

/// The email's text: each answer under its agent's name, then the visitor's words quoted (in
/// French for a conversation in French, else in English).
fn compose(answers: &[&Message], asked: &[&Message], french: bool) -> String {
    let mut body = String::new();
    let mut last_name: Option<&str> = None;
    for m in answers {
        let name = m.sender.name.as_deref().unwrap_or(if french { "Notre \u{e9}quipe" } else { "Our team" });
        if last_name != Some(name) {
            body.push_str(&if french {
                format!("{name} a \u{e9}crit :\n\n")
            } else {
                format!("{name} wrote:\n\n")
            });
            last_name = Some(name);
        }
        body.push_str(&m.plain_text());
        body.push_str("\n\n");
    }
    if !asked.is_empty() {
        body.push_str(if french { "--\nVotre message :\n" } else { "--\nYour message:\n" });
        for m in asked {
            for line in m.plain_text().lines() {
                body.push_str("> ");
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use beckon_domain::ConversationId;
    use beckon_domain::message::Sender;

    fn msg(seq: i64, sender: Sender, text: &str) -> Message {
        Message {
            conversation_id: ConversationId(1),
            seq,
            sender,
            text: text.into(),
            tags: vec![],
            client_msg_id: None,
            attachment: None,
            created_at: Timestamp(0),
        }
    }

    #[test]
    fn answers_under_their_agent_then_the_question_quoted() {
        let ana = Sender::agent(beckon_domain::AgentId(1), "Ana");
        let (a1, a2) = (msg(2, ana.clone(), "Yes, we ship to Lyon."), msg(3, ana, "Within 2 days."));
        let q = msg(1, Sender::visitor(), "Do you ship to Lyon?\nAnd how fast?");
        assert_eq!(
            compose(&[&a1, &a2], &[&q], false),
            "Ana wrote:\n\nYes, we ship to Lyon.\n\nWithin 2 days.\n\n--\nYour message:\n> Do you ship to Lyon?\n> And how fast?\n"
        );
    }
}
