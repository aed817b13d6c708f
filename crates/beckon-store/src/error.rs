//! The store's error type: callers match on `NotFound`/`Conflict`; everything else is a
//! database failure that the HTTP/WebSocket edge reports as an opaque `internal` error.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(&'static str),
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A visitor or agent wrote to a conversation that has ended.
    #[error("the conversation has ended")]
    ConversationClosed,
    /// An agent wrote to a conversation not assigned to them.
    #[error("the conversation is not assigned to this agent")]
    NotAssigned,
    #[error("{0}")]
    Unsupported(String),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the store is shutting down")]
    Closed,
}

impl StoreError {
    /// The same refusal again, for another append it applies to (database errors, which are
    /// not cloneable, become their description).
    pub(crate) fn clone_refusal(&self) -> StoreError {
        match self {
            StoreError::NotFound(w) => StoreError::NotFound(w),
            StoreError::Conflict(w) => StoreError::Conflict(w),
            StoreError::ConversationClosed => StoreError::ConversationClosed,
            StoreError::NotAssigned => StoreError::NotAssigned,
            StoreError::Unsupported(m) => StoreError::Unsupported(m.clone()),
            StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
            StoreError::Closed => StoreError::Closed,
            e => StoreError::Corrupt(e.to_string()),
        }
    }

    pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
        matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
    }
}
