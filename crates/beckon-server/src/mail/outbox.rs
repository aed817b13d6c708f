//! Emails waiting in the store to go out (a chat's transcript a visitor asked for): a step of
//! the sweeper, like the answers to left messages (`replies.rs`). Each node claims due emails
//! under a lease; an email is recorded as sent only once the SMTP server took it, a final
//! refusal is recorded with its reason, and anything else is tried again when the lease ends.

use super::{MailError, Mailer};
use beckon_domain::Timestamp;
use beckon_store::{Store, StoreError};

/// How long a node has to send one email before another may try.
pub const LEASE_MS: i64 = 60_000;
const PER_SWEEP: u32 = 20;

pub async fn deliver_due(store: &dyn Store, mailer: &Mailer, now: Timestamp) -> Result<(), StoreError> {
    for mail in store.claim_outgoing_mail(now, now.plus_millis(LEASE_MS), PER_SWEEP).await? {
        match mailer.send(&mail.to, &mail.subject, mail.body.clone()).await {
            Ok(()) => {
                tracing::info!(mail = mail.id, "email sent");
                store.outgoing_mail_done(mail.id, now, None).await?;
            }
            Err(MailError::Refused(why)) => {
                tracing::warn!(mail = mail.id, %why, "email refused; not tried again");
                store.outgoing_mail_done(mail.id, now, Some(&why)).await?;
            }
            Err(e @ MailError::Later(_)) => {
                tracing::warn!(mail = mail.id, error = %e, "email not sent; retrying later")
            }
        }
    }
    Ok(())
}
