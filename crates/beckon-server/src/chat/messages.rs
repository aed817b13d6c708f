//! Messages and typing in a conversation: stored first, then told to everyone in it.

use super::*;

impl Chat {
    /// Stores a visitor's or agent's message and tells everyone in the conversation.
    pub async fn send(
        &self,
        conversation: ConversationId,
        sender: Sender,
        text: MessageText,
        client_msg_id: ClientMsgId,
    ) -> ChatResult<Appended> {
        self.send_new(conversation, sender, text, client_msg_id, None).await
    }

    /// A visitor's or agent's message (words, or a file already kept): stored, then told to
    /// everyone in the conversation.
    pub(super) async fn send_new(
        &self,
        conversation: ConversationId,
        sender: Sender,
        text: MessageText,
        client_msg_id: ClientMsgId,
        attachment: Option<beckon_domain::attachment::Attachment>,
    ) -> ChatResult<Appended> {
        let new = NewMessage {
            conversation_id: conversation,
            sender,
            text,
            tags: vec![],
            client_msg_id: Some(client_msg_id),
            attachment,
        };
        let appended = self.store.append_message(new, self.now()).await?;
        // Published even for a duplicate: if the first attempt was stored but the node stopped
        // before publishing, this is the retry that tells the other side. Clients drop repeats.
        self.publish(
            vec![Topic::Conversation(conversation)],
            Event::Message { message: appended.message.clone() },
        )
        .await;
        Ok(appended)
    }

    pub(super) async fn system_message(
        &self,
        conversation: ConversationId,
        text: String,
        tags: &[&str],
    ) -> ChatResult<Message> {
        let new = NewMessage {
            conversation_id: conversation,
            sender: Sender::system(),
            text: MessageText::system(text),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            client_msg_id: None,
            attachment: None,
        };
        let message = self.store.append_message(new, self.now()).await?.message;
        self.publish(vec![Topic::Conversation(conversation)], Event::Message { message: message.clone() })
            .await;
        Ok(message)
    }

    /// A line only agents read in the conversation (e.g. an answer that could not be mailed).
    pub async fn internal_note(&self, conversation: ConversationId, text: String, tag: &str) {
        if let Err(e) = self.system_message(conversation, text, &[INTERNAL_TAG, tag]).await {
            tracing::error!(error = %e, conversation = %conversation, "writing an internal note failed");
        }
    }

    pub async fn typing(&self, conversation: ConversationId, from: SenderKind, typing: bool) {
        self.publish(
            vec![Topic::Conversation(conversation)],
            Event::Typing { conversation_id: conversation, from, typing },
        )
        .await;
    }
}
