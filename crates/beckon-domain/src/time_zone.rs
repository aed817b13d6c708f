//! An IANA time zone name (`Europe/Paris`), checked once: queues' opening hours, trigger rules'
//! time conditions, and the times of transcripts all take it the same way, resolved against the
//! tz database bundled in the binary (a server without system tzdata still knows every zone and
//! its daylight-saving rules).

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone {0:?}; use an IANA name such as \"Europe/Paris\" or \"UTC\"")]
pub struct UnknownTimeZone(pub String);

#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZoneName {
    name: Box<str>,
    tz: TimeZone,
}

impl TimeZoneName {
    pub fn parse(s: &str) -> Result<Self, UnknownTimeZone> {
        let name = s.trim();
        let tz = TimeZone::get(name).map_err(|_| UnknownTimeZone(name.to_owned()))?;
        Ok(Self { name: name.into(), tz })
    }
    pub fn as_str(&self) -> &str {
        &self.name
    }
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }
}
impl PartialEq for TimeZoneName {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for TimeZoneName {}
impl fmt::Debug for TimeZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TimeZoneName({:?})", self.name)
    }
}
impl fmt::Display for TimeZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}
impl TryFrom<String> for TimeZoneName {
    type Error = UnknownTimeZone;
    fn try_from(s: String) -> Result<Self, UnknownTimeZone> {
        Self::parse(&s)
    }
}
impl From<TimeZoneName> for String {
    fn from(t: TimeZoneName) -> String {
        t.name.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_by_their_iana_names() {
        assert_eq!(TimeZoneName::parse(" Europe/Paris ").unwrap().as_str(), "Europe/Paris");
        assert!(TimeZoneName::parse("UTC").is_ok());
        assert_eq!(
            TimeZoneName::parse("Mars/Olympus").unwrap_err().to_string(),
            "unknown time zone \"Mars/Olympus\"; use an IANA name such as \"Europe/Paris\" or \"UTC\""
        );
    }
}
