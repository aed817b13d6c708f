//! Questions every node answers: what only the node holding a socket knows (who is on the site,
//! why a rule would or would not invite them), asked by whichever node an agent's request
//! reached. The bus carries the question to every node and the answers back ([`crate::Bus::ask`]);
//! what a question means is the server's business, so both travel as JSON.

use async_trait::async_trait;
use serde_json::Value;
use std::sync::{Arc, OnceLock};

/// Answers the cluster's questions on one node.
#[async_trait]
pub trait Answerer: Send + Sync + 'static {
    /// This node's answer (`null` when it knows nothing of it: the asker still counts it).
    async fn answer(&self, question: Value) -> Value;
}

/// A node's answerer, set once at start; asked before that, a node knows nothing.
#[derive(Default)]
pub struct Answers(OnceLock<Arc<dyn Answerer>>);

impl Answers {
    pub fn set(&self, answerer: Arc<dyn Answerer>) {
        if self.0.set(answerer).is_err() {
            tracing::error!("this node's answerer was set twice; keeping the first");
        }
    }

    pub async fn answer(&self, question: Value) -> Value {
        match self.0.get() {
            Some(a) => a.answer(question).await,
            None => Value::Null,
        }
    }
}
