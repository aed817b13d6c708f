//! Email out: the SMTP connection the admin configured (`[mail]`), used to answer messages
//! visitors left when nobody could chat (`replies.rs`) and to send the emails waiting in the
//! store, such as transcripts visitors ask for (`outbox.rs`).
//!
//! `lettre` speaks SMTP (STARTTLS or implicit TLS, authentication, a small connection pool);
//! this file only turns the settings into a transport and tells a failure worth retrying (the
//! server or the network) from one that is final (the address was refused).

pub mod outbox;
pub mod replies;
pub mod transcript;

use crate::config::MailSettings;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// Why an email was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The recipient or the message was refused for good (an SMTP 5xx, a malformed address):
    /// trying again would not help.
    #[error("refused: {0}")]
    Refused(String),
    /// The server could not be reached or answered "later" (4xx): worth another try.
    #[error("not sent (will retry): {0}")]
    Later(String),
}

impl Mailer {
    /// The mailer the settings describe: `None` when no SMTP server is set; an error naming the
    /// setting when it is unusable.
    pub fn from_settings(s: &MailSettings) -> Result<Option<Self>, String> {
        let Some(url) = s.smtp_url.as_deref().filter(|_| s.enabled()) else { return Ok(None) };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("BECKON_MAIL__SMTP_URL: {e}"))?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        let from = s
            .from
            .as_deref()
            .ok_or("BECKON_MAIL__FROM: the sender address is required with an SMTP server")?
            .parse::<Mailbox>()
            .map_err(|e| format!("BECKON_MAIL__FROM: {e}"))?;
        Ok(Some(Self { transport, from }))
    }

    /// Sends a plain-text email to `to`.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        let to: Mailbox = to.parse().map_err(|e| MailError::Refused(format!("{e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| MailError::Refused(e.to_string()))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(MailError::Refused(e.to_string())),
            Err(e) => Err(MailError::Later(e.to_string())),
        }
    }
}
