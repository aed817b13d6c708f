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
    /// The caller passed something the store cannot keep (e.g. an unsafe blob key).
    #[error("invalid: {0}")]
    Invalid(String),
    /// Reading or writing a file (attachments kept beside the database).
    #[error("file error: {0}")]
    Io(String),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the store is shutting down")]
    Closed,
    /// The database did not answer (see [`StoreError::is_unavailable`]), said once for every
    /// append of a batch that failed for it.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
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
            StoreError::Invalid(m) => StoreError::Invalid(m.clone()),
            StoreError::Io(m) => StoreError::Io(m.clone()),
            StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
            StoreError::Closed => StoreError::Closed,
            StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
            e if e.is_unavailable() => StoreError::Unavailable(e.to_string()),
            e => StoreError::Corrupt(e.to_string()),
        }
    }

    /// The database cannot be reached right now (restarting, shutting down, starting up, the
    /// network, the pool exhausted): the same request may succeed when tried again. Nothing was
    /// done — or, when the connection broke during a commit, perhaps it was: a message sent
    /// again with its `client_msg_id` is then recognised as a repeat, never stored twice.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Database(sqlx::Error::Database(d)) => {
                // SQLSTATE class 08 (connection exception) and 57P01–57P03 (the server shutting
                // down, crashed, or not yet accepting connections).
                d.code().is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03"))
            }
            StoreError::Database(e) => matches!(
                e,
                sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::WorkerCrashed
            ),
            _ => false,
        }
    }

    pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
        matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
    }
}
