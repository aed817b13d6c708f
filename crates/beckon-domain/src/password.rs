//! A new password as Beckon accepts it, with one rule for the CLI, the API and the console:
//! 10 to 200 characters (characters, not bytes, so any script counts the same).
//!
//! Only new passwords are checked: a sign-in compares whatever was typed against the hash.

use std::fmt;

pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_CHARS: usize = 200;

/// A password that meets the rule. Its `Debug` hides the value, so it cannot end up in a log.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a password must be {MIN_PASSWORD_CHARS}–{MAX_PASSWORD_CHARS} characters")]
pub struct PasswordError;

impl NewPassword {
    pub fn parse(s: &str) -> Result<Self, PasswordError> {
        let n = s.chars().count();
        if (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
            Ok(Self(s.to_owned()))
        } else {
            Err(PasswordError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_to_two_hundred_characters_counted_as_characters() {
        assert!(NewPassword::parse("123456789").is_err());
        assert!(NewPassword::parse("1234567890").is_ok());
        assert!(NewPassword::parse(&"é".repeat(10)).is_ok(), "20 bytes, 10 characters");
        assert!(NewPassword::parse(&"x".repeat(200)).is_ok());
        assert!(NewPassword::parse(&"x".repeat(201)).is_err());
        assert_eq!(format!("{:?}", NewPassword::parse("secret-pass").unwrap()), "NewPassword(…)");
    }
}
