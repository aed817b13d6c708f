//! The invite's message text, with placeholders filled from the visitor's custom context.
//!
//! Scenario 3 of the seed names the visitor's open case in the invite ("The status of the case:
//! 1234 is in progress…"). A rule writes that as `The status of the case: {context:Case Id} is in
//! progress`; `{{` and `}}` stand for literal braces. The template is parsed when the rule is read,
//! so an unclosed brace or an unknown placeholder is an error in the editor, not a broken invite.
//!
//! Rendering produces plain text: the widget inserts it as text, never as HTML, so a context value
//! such as `<img onerror=…>` shows as those characters. A rule whose message needs a variable the
//! visitor's context lacks does not fire (the evaluator reports it as suppressed), rather than
//! showing "the case:  is in progress".

use crate::fields::{ContextKey, FieldError};
use beckon_domain::{Context, ContextValue};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest template, in characters.
pub const MAX_MESSAGE_CHARS: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Text(Box<str>),
    Context(ContextKey),
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InviteMessage {
    source: Box<str>,
    segments: Vec<Segment>,
}

impl InviteMessage {
    pub fn parse(source: &str) -> Result<Self, FieldError> {
        if source.trim().is_empty() {
            return Err(FieldError::new("the invite needs a message"));
        }
        if source.chars().count() > MAX_MESSAGE_CHARS {
            return Err(FieldError::new(format!(
                "the invite message has more than {MAX_MESSAGE_CHARS} characters"
            )));
        }
        let mut segments = Vec::new();
        let mut text = String::new();
        let mut rest = source;
        while let Some(i) = rest.find(['{', '}']) {
            text.push_str(&rest[..i]);
            let tail = &rest[i..];
            if let Some(after) = tail.strip_prefix("{{") {
                text.push('{');
                rest = after;
            } else if let Some(after) = tail.strip_prefix("}}") {
                text.push('}');
                rest = after;
            } else if tail.starts_with('}') {
                return Err(FieldError::new("a '}' has no matching '{'; write '}}' for a literal brace"));
            } else {
                let close = tail.find('}').ok_or_else(|| {
                    FieldError::new(
                        "a '{' is never closed; write {context:Variable Name}, or '{{' for a literal brace",
                    )
                })?;
                let inner = &tail[1..close];
                let name = inner.strip_prefix("context:").ok_or_else(|| {
                    FieldError::new(format!(
                        "unknown placeholder {{{inner}}}; the only placeholder is {{context:Variable Name}}"
                    ))
                })?;
                let key = ContextKey::parse(name)
                    .map_err(|e| FieldError::new(format!("in placeholder {{{inner}}}: {e}")))?;
                if !text.is_empty() {
                    segments.push(Segment::Text(std::mem::take(&mut text).into_boxed_str()));
                }
                segments.push(Segment::Context(key));
                rest = &tail[close + 1..];
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            segments.push(Segment::Text(text.into_boxed_str()));
        }
        Ok(Self { source: source.into(), segments })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The context variables the message needs, in order of appearance.
    pub fn placeholders(&self) -> impl Iterator<Item = &ContextKey> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Context(k) => Some(k),
            Segment::Text(_) => None,
        })
    }

    /// The first placeholder the context cannot fill, if any.
    pub fn missing_in(&self, context: &Context) -> Option<&ContextKey> {
        self.placeholders().find(|k| context.get(k.as_str()).is_none())
    }

    /// The message as plain text, or the first variable the context lacks.
    pub fn render(&self, context: &Context) -> Result<String, ContextKey> {
        let mut out = String::with_capacity(self.source.len() + 16);
        for s in &self.segments {
            match s {
                Segment::Text(t) => out.push_str(t),
                Segment::Context(k) => match context.get(k.as_str()) {
                    Some(var) => match &var.value {
                        ContextValue::Text(t) => out.push_str(t),
                        other => out.push_str(&other.display()),
                    },
                    None => return Err(k.clone()),
                },
            }
        }
        Ok(out)
    }
}

impl TryFrom<String> for InviteMessage {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Self::parse(&s)
    }
}

impl From<InviteMessage> for String {
    fn from(m: InviteMessage) -> String {
        m.source.into()
    }
}

impl fmt::Debug for InviteMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InviteMessage({:?})", self.source)
    }
}

impl fmt::Display for InviteMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fills_placeholders_from_context() {
        let m =
            InviteMessage::parse("The status of the case: {context:Case Id} is in progress. {{ok}}").unwrap();
        let ctx = Context::parse(&json!({"Case Id": {"value": "CAS-42", "isDisplayable": true}})).unwrap();
        assert_eq!(m.render(&ctx).unwrap(), "The status of the case: CAS-42 is in progress. {ok}");
        assert_eq!(m.placeholders().map(|k| k.as_str()).collect::<Vec<_>>(), ["Case Id"]);
        assert_eq!(m.render(&Context::new()).unwrap_err().as_str(), "Case Id");
        assert_eq!(m.missing_in(&Context::new()).unwrap().as_str(), "Case Id");
        let n = Context::parse(&json!({"Case Id": 7})).unwrap();
        assert_eq!(m.render(&n).unwrap(), "The status of the case: 7 is in progress. {ok}");
    }

    #[test]
    fn values_stay_text() {
        let m = InviteMessage::parse("Hi {context:Name}").unwrap();
        let ctx = Context::parse(&json!({"Name": "<b>x</b>"})).unwrap();
        assert_eq!(m.render(&ctx).unwrap(), "Hi <b>x</b>");
    }

    #[test]
    fn template_errors_are_actionable() {
        assert!(InviteMessage::parse("  ").unwrap_err().0.contains("needs a message"));
        assert!(InviteMessage::parse("Hi {context:Name").unwrap_err().0.contains("never closed"));
        assert!(InviteMessage::parse("Hi }").unwrap_err().0.contains("no matching"));
        assert_eq!(
            InviteMessage::parse("Hi {name}").unwrap_err().0,
            "unknown placeholder {name}; the only placeholder is {context:Variable Name}"
        );
        assert!(InviteMessage::parse("Hi {context:}").unwrap_err().0.contains("must not be empty"));
        let m = InviteMessage::parse("Plain").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"Plain\"");
    }
}
