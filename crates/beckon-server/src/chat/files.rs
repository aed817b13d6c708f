//! Files sent in a chat: checked by what their bytes are, kept by the store (its blob storage,
//! then the file's record), and sent as a message like any other — so they are numbered,
//! acknowledged, resumed after a reconnect and found in transcripts exactly as words are.

use super::{Chat, ChatError, ChatResult};
use beckon_domain::attachment::{Attachment, FileKind, clean_name};
use beckon_domain::message::Sender;
use beckon_domain::{ClientMsgId, ConversationId, MessageText};
use beckon_store::Appended;
use rand::RngCore;

/// Why a file is refused before anything is kept.
#[derive(Debug, PartialEq, Eq)]
pub enum FileRefusal {
    Empty,
    TooLarge {
        max: usize,
    },
    /// Not a kind of file a chat takes (by its content).
    Unsupported,
    /// This side already sent the most files one conversation takes.
    TooMany {
        max: u32,
    },
}

impl Chat {
    /// Checks `bytes`, keeps them and sends them in `conversation` as a message from `sender`
    /// (its text is the file's cleaned name). A retry with the same `client_msg_id` answers the
    /// message already sent.
    pub async fn send_file(
        &self,
        conversation: ConversationId,
        sender: Sender,
        given_name: &str,
        bytes: &[u8],
        client_msg_id: ClientMsgId,
        limits: &crate::config::LimitSettings,
    ) -> ChatResult<Result<Appended, FileRefusal>> {
        if bytes.is_empty() {
            return Ok(Err(FileRefusal::Empty));
        }
        if bytes.len() > limits.attachment_max_bytes {
            return Ok(Err(FileRefusal::TooLarge { max: limits.attachment_max_bytes }));
        }
        let Some(kind) = FileKind::sniff(bytes) else { return Ok(Err(FileRefusal::Unsupported)) };
        let max = limits.attachments_per_conversation;
        if self.store.attachment_count(conversation, sender.kind).await? >= u64::from(max) {
            return Ok(Err(FileRefusal::TooMany { max }));
        }
        let mut id = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let attachment = Attachment {
            id: id.iter().map(|b| format!("{b:02x}")).collect(),
            name: clean_name(given_name, kind),
            content_type: kind.content_type().to_owned(),
            size: bytes.len() as u64,
        };
        let now = self.now();
        self.store.add_attachment(conversation, sender.kind, &attachment, bytes, now).await?;
        let text = MessageText::parse(&attachment.name)
            .map_err(|e| ChatError::Invalid("invalid_message", e.to_string()))?;
        let appended = self.send_new(conversation, sender, text, client_msg_id, Some(attachment)).await?;
        Ok(Ok(appended))
    }
}
