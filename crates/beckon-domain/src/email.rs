//! An email address as Beckon accepts one, in every place that takes one — an agent's account
//! (the API and `beckon agent-add`), where a visitor's answers go, where a transcript is mailed —
//! so the three agree on what an address is.
//!
//! Only the shape is checked: one `@`, a non-empty local part, a dotted domain whose labels are
//! not empty and do not start or end with `-`, no spaces, control characters or the characters
//! that would break a mail header (`<>,;"\`), at most 254 characters. Whether the address exists
//! is the mail server's to say.

use std::fmt;

/// Longest address (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the email address is required")]
    Missing,
    #[error("{0:?} is not an email address (name@example.com)")]
    Invalid(String),
}

impl EmailAddress {
    /// The address, trimmed; or why it is not one.
    pub fn parse(s: &str) -> Result<Self, EmailError> {
        let email = s.trim();
        if email.is_empty() {
            return Err(EmailError::Missing);
        }
        let bad = || EmailError::Invalid(email.chars().take(MAX_EMAIL_CHARS + 1).collect());
        if email.chars().count() > MAX_EMAIL_CHARS
            || email.chars().any(|c| c.is_whitespace() || c.is_control() || "<>,;\"\\".contains(c))
        {
            return Err(bad());
        }
        let (local, domain) = email.rsplit_once('@').ok_or_else(bad)?;
        let labels_ok = domain.split('.').all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
        if local.is_empty() || local.contains('@') || !domain.contains('.') || !labels_ok {
            return Err(bad());
        }
        Ok(Self(email.to_owned()))
    }

    /// The same address in lower case: how accounts are kept (sign-in ignores case).
    pub fn lowercased(self) -> Self {
        Self(self.0.to_lowercase())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_people_have_are_accepted() {
        for ok in ["amy@example.com", " Amy.Lee+shop@mail.example.co.uk ", "o'brien@x-y.fr", "a@b.io"] {
            assert_eq!(EmailAddress::parse(ok).unwrap().as_str(), ok.trim(), "{ok}");
        }
        assert_eq!(EmailAddress::parse("Amy@Example.COM").unwrap().lowercased().as_str(), "amy@example.com");
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        assert_eq!(EmailAddress::parse("  "), Err(EmailError::Missing));
        for bad in [
            "amy",
            "amy@",
            "@example.com",
            "amy@example",
            "amy@@example.com",
            "amy@example..com",
            "amy@-example.com",
            "amy@example.com-",
            "amy lee@example.com",
            "amy@exa mple.com",
            "<amy@example.com>",
            "amy@example.com, bob@example.com",
            "amy@example.com\r\nBcc: x@y.z",
        ] {
            assert!(matches!(EmailAddress::parse(bad), Err(EmailError::Invalid(_))), "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(EmailAddress::parse(&long).is_err());
        assert_eq!(
            EmailAddress::parse("amy").unwrap_err().to_string(),
            "\"amy\" is not an email address (name@example.com)"
        );
    }
}
