//! Parse-don't-validate newtypes for the fields of a trigger rule.
//!
//! Every value a support admin types into the rule editor (a rule name, a country code, a time
//! zone, "09:00", a number of seconds…) is parsed once, when the rule is read, into a type that can
//! only hold a valid value. The evaluator therefore never meets a malformed field and never has to
//! decide what one means. Each type serializes back to exactly what the admin wrote (normalised:
//! `fr` becomes `FR` for a country), so rules round-trip through JSON.
//!
//! Errors are [`FieldError`]s whose message says what is accepted; the rule parser puts the path of
//! the field in front (`conditions.all[2].country[0]: …`).

use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why one field of a rule was rejected, phrased for the admin who wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FieldError(pub String);

impl FieldError {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

/// A trigger rule's id (a database key, a JSON number on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RuleId(pub i64);

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// Declares a string newtype with a `parse` function and serde through `String`.
macro_rules! string_field {
    ($(#[$meta:meta])* $name:ident, $parse:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Box<str>);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, FieldError> {
                let f: fn(&str) -> Result<String, FieldError> = $parse;
                f(s).map(|v| Self(v.into_boxed_str()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = FieldError;
            fn try_from(s: String) -> Result<Self, FieldError> {
                Self::parse(&s)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0.into()
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_field!(
    /// The name the console shows for a rule: 1–100 characters, no control characters; surrounding
    /// spaces are trimmed.
    RuleName,
    |s| {
        let t = s.trim();
        if t.is_empty() {
            return Err(FieldError::new("the rule needs a name"));
        }
        if t.chars().count() > 100 {
            return Err(FieldError::new("a rule name has at most 100 characters"));
        }
        if has_control(t) {
            return Err(FieldError::new("a rule name must not contain control characters (such as line breaks)"));
        }
        Ok(t.to_owned())
    }
);

string_field!(
    /// The name of a custom context variable, as the page sets it (`Case Id`): the same limits as
    /// the context itself (1–100 characters), compared exactly (case and spaces matter).
    ContextKey,
    |s| {
        if s.trim().is_empty() {
            return Err(FieldError::new("the context variable name must not be empty"));
        }
        if s.chars().count() > beckon_domain::context::MAX_NAME_CHARS {
            return Err(FieldError::new(format!(
                "a context variable name has at most {} characters",
                beckon_domain::context::MAX_NAME_CHARS
            )));
        }
        Ok(s.to_owned())
    }
);

string_field!(
    /// The name of a custom event the page reports with `track(name)`: 1–100 characters, exact.
    EventName,
    |s| {
        if s.trim().is_empty() {
            return Err(FieldError::new("the event name must not be empty"));
        }
        if s.chars().count() > 100 || has_control(s) {
            return Err(FieldError::new("an event name has 1–100 characters and no control characters"));
        }
        Ok(s.to_owned())
    }
);

string_field!(
    /// A browser-language prefix such as `fr` or `pt-BR`, stored lower-case. It matches the
    /// visitor's language when equal to it or to its leading subtags (`fr` matches `fr-CA`, not `fry`).
    LanguagePrefix,
    |s| {
        let t = s.trim();
        let mut parts = t.split(['-', '_']);
        let primary = parts.next().unwrap_or("");
        let ok = (2..=8).contains(&primary.len())
            && primary.bytes().all(|b| b.is_ascii_alphabetic())
            && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
        if !ok {
            return Err(FieldError::new(format!(
                "{t:?} is not a language; use a code such as \"fr\" or \"pt-BR\""
            )));
        }
        Ok(t.replace('_', "-").to_ascii_lowercase())
    }
);

impl LanguagePrefix {
    /// Whether a browser language (`navigator.language`, e.g. `fr-FR`) falls under this prefix.
    pub fn matches(&self, language: &str) -> bool {
        let p = self.as_str();
        language.len() >= p.len()
            && language.is_char_boundary(p.len())
            && language[..p.len()].eq_ignore_ascii_case(p)
            && matches!(language.as_bytes().get(p.len()), None | Some(b'-' | b'_'))
    }
}

/// An ISO 3166-1 alpha-2 country code (`FR`), as GeoIP databases report it; stored upper-case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        match s.trim().as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Ok(Self([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => Err(FieldError::new(format!(
                "{s:?} is not a country code; use the two-letter ISO code, such as \"FR\" or \"US\""
            ))),
        }
    }
    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII letters, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}
impl TryFrom<String> for CountryCode {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Self::parse(&s)
    }
}
impl From<CountryCode> for String {
    fn from(c: CountryCode) -> String {
        c.as_str().to_owned()
    }
}
impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A language the widget speaks (`en`, `fr`: `beckon_domain::model::LANGUAGES`), for an invite
/// message's translations.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Language(String);

impl Language {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let code = s.trim().to_ascii_lowercase();
        if beckon_domain::model::LANGUAGES.contains(&code.as_str()) {
            Ok(Self(code))
        } else {
            Err(FieldError::new(format!(
                "{s:?} is not a language the widget speaks; use one of: {}",
                beckon_domain::model::LANGUAGES.join(", ")
            )))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for Language {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Self::parse(&s)
    }
}
impl From<Language> for String {
    fn from(l: Language) -> String {
        l.0
    }
}

/// Declares an integer newtype accepted only within `[min, max]`.
macro_rules! bounded_int {
    ($(#[$meta:meta])* $name:ident($ty:ty), $min:expr, $max:expr, $what:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "i64", into = "i64")]
        pub struct $name($ty);

        impl $name {
            pub const MIN: $ty = $min;
            pub const MAX: $ty = $max;
            pub fn new(v: i64) -> Result<Self, FieldError> {
                if (Self::MIN as i64..=Self::MAX as i64).contains(&v) {
                    Ok(Self(v as $ty))
                } else {
                    Err(FieldError::new(format!(
                        "{} must be between {} and {}, not {v}",
                        $what, Self::MIN, Self::MAX
                    )))
                }
            }
            pub fn get(self) -> $ty {
                self.0
            }
        }
        impl TryFrom<i64> for $name {
            type Error = FieldError;
            fn try_from(v: i64) -> Result<Self, FieldError> {
                Self::new(v)
            }
        }
        impl From<$name> for i64 {
            fn from(v: $name) -> i64 {
                v.0 as i64
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

bounded_int!(
    /// A number of seconds in a time condition: 0 to one day.
    Seconds(u32), 0, 86_400, "a number of seconds"
);
bounded_int!(
    /// A scroll depth in percent of the page: 0–100.
    Percent(u8), 0, 100, "a percentage"
);
bounded_int!(
    /// A number of days for "once every N days": 1 to ten years.
    Days(u32), 1, 3_650, "a number of days"
);
bounded_int!(
    /// How long an invite stays on screen before it expires, in milliseconds: 1 s to 1 hour.
    ExpiryMs(i64), 1_000, 3_600_000, "the invite expiry in milliseconds"
);
bounded_int!(
    /// How long to wait between a rule matching and its invite appearing, in milliseconds: 0 to 10 minutes.
    DelayMs(i64), 0, 600_000, "the invite delay in milliseconds"
);

impl Seconds {
    pub fn millis(self) -> i64 {
        i64::from(self.0) * 1_000
    }
}

impl Days {
    pub fn millis(self) -> i64 {
        i64::from(self.0) * 86_400_000
    }
}

/// A list that must hold at least one item (a country condition with no country is a mistake).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "Vec<T>",
    into = "Vec<T>",
    bound(serialize = "T: Clone + Serialize", deserialize = "T: Deserialize<'de>")
)]
pub struct NonEmpty<T>(Vec<T>);

impl<T> NonEmpty<T> {
    pub fn new(items: Vec<T>) -> Result<Self, FieldError> {
        if items.is_empty() { Err(FieldError::new("the list must not be empty")) } else { Ok(Self(items)) }
    }
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }
}
impl<T> TryFrom<Vec<T>> for NonEmpty<T> {
    type Error = FieldError;
    fn try_from(v: Vec<T>) -> Result<Self, FieldError> {
        Self::new(v)
    }
}
impl<T> From<NonEmpty<T>> for Vec<T> {
    fn from(v: NonEmpty<T>) -> Vec<T> {
        v.0
    }
}

/// The kind of device the widget runs on, as the server classifies the user agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceType {
    Desktop,
    Mobile,
    Tablet,
}

impl fmt::Display for DeviceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceType::Desktop => "desktop",
            DeviceType::Mobile => "mobile",
            DeviceType::Tablet => "tablet",
        })
    }
}

/// One of the five standard UTM parameters of the landing page's URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UtmParam {
    #[serde(alias = "utm_source")]
    Source,
    #[serde(alias = "utm_medium")]
    Medium,
    #[serde(alias = "utm_campaign")]
    Campaign,
    #[serde(alias = "utm_term")]
    Term,
    #[serde(alias = "utm_content")]
    Content,
}

impl fmt::Display for UtmParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UtmParam::Source => "utm_source",
            UtmParam::Medium => "utm_medium",
            UtmParam::Campaign => "utm_campaign",
            UtmParam::Term => "utm_term",
            UtmParam::Content => "utm_content",
        })
    }
}

/// An IANA time zone: the one type every part of Beckon uses (`beckon_domain::time_zone`).
pub use beckon_domain::time_zone::TimeZoneName;

/// A local time of day `HH:MM`, held as minutes since midnight; `24:00` (1440) is the end of a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LocalTime(u16);

impl LocalTime {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let bad =
            || FieldError::new(format!("{s:?} is not a time of day; use HH:MM, from \"00:00\" to \"24:00\""));
        let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
        if !(1..=2).contains(&h.len()) || m.len() != 2 {
            return Err(bad());
        }
        let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if m >= 60 || h > 24 || (h == 24 && m != 0) {
            return Err(bad());
        }
        Ok(Self(h * 60 + m))
    }
    pub fn minutes(self) -> u16 {
        self.0
    }
}
impl TryFrom<String> for LocalTime {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Self::parse(&s)
    }
}
impl From<LocalTime> for String {
    fn from(t: LocalTime) -> String {
        t.to_string()
    }
}
impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const FULL_DAY_NAMES: [&str; 7] =
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

/// A set of weekdays, written as `["mon", "tue", …]`; an absent or empty list means every day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct Weekdays(u8);

impl Weekdays {
    pub const ALL: Weekdays = Weekdays(0x7f);

    pub fn contains(self, day: Weekday) -> bool {
        let i = day.to_monday_zero_offset();
        self.0 & (1 << i) != 0
    }
}
impl Default for Weekdays {
    fn default() -> Self {
        Self::ALL
    }
}
impl TryFrom<Vec<String>> for Weekdays {
    type Error = FieldError;
    fn try_from(days: Vec<String>) -> Result<Self, FieldError> {
        if days.is_empty() {
            return Ok(Self::ALL);
        }
        let mut bits = 0u8;
        for d in &days {
            let lower = d.trim().to_ascii_lowercase();
            let i =
                (0..7).find(|&i| lower == DAY_NAMES[i] || lower == FULL_DAY_NAMES[i]).ok_or_else(|| {
                    FieldError::new(format!(
                        "{d:?} is not a weekday; use mon, tue, wed, thu, fri, sat or sun"
                    ))
                })?;
            bits |= 1 << i;
        }
        Ok(Self(bits))
    }
}
impl From<Weekdays> for Vec<String> {
    fn from(w: Weekdays) -> Vec<String> {
        (0..7).filter(|i| w.0 & (1 << i) != 0).map(|i| DAY_NAMES[i].to_owned()).collect()
    }
}
impl fmt::Display for Weekdays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Self::ALL {
            return f.write_str("every day");
        }
        let days: Vec<String> = (*self).into();
        f.write_str(&days.join(","))
    }
}

/// An absolute instant written as RFC 3339 (`2024-12-20T00:00:00+01:00`), for date windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Instant(jiff::Timestamp);

impl Instant {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        s.trim().parse::<jiff::Timestamp>().map(Self).map_err(|_| {
            FieldError::new(format!(
                "{s:?} is not a date and time; use RFC 3339 with an offset, such as \"2024-12-20T00:00:00+01:00\" or \"2024-12-20T00:00:00Z\""
            ))
        })
    }
    pub fn from_millis(ms: i64) -> Option<Self> {
        jiff::Timestamp::from_millisecond(ms).ok().map(Self)
    }
    pub fn millis(self) -> i64 {
        self.0.as_millisecond()
    }
}
impl TryFrom<String> for Instant {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Self::parse(&s)
    }
}
impl From<Instant> for String {
    fn from(i: Instant) -> String {
        i.0.to_string()
    }
}
impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Local civil date-time of a Unix-millisecond instant in a zone (saturating at jiff's range).
pub(crate) fn local_datetime(tz: &TimeZone, ms: i64) -> DateTime {
    let ts = jiff::Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    });
    tz.to_datetime(ts)
}

/// The instant of a local date and time of day (minutes, 1440 = next midnight) in a zone: the
/// first instant at which the wall clock shows that time or later. A time skipped by a
/// daylight-saving jump resolves to the jump itself (02:15 on a night Paris goes from 02:00 to
/// 03:00 is 03:00 local); a repeated one to its first occurrence.
pub(crate) fn instant_of(tz: &TimeZone, date: Date, minutes: u16) -> Option<i64> {
    let (date, minutes) =
        if minutes >= 1440 { (date.tomorrow().ok()?, minutes - 1440) } else { (date, minutes) };
    let dt = date.at((minutes / 60) as i8, (minutes % 60) as i8, 0, 0);
    let ambiguous = tz.to_ambiguous_timestamp(dt);
    match ambiguous.offset() {
        // The clock jumps over this local time (the spring DST change): the wall clock is past
        // it from the jump on, so that is where a window starts or ends — not an hour later.
        jiff::tz::AmbiguousOffset::Gap { .. } => {
            let before_jump = ambiguous.earlier().ok()?;
            tz.following(before_jump).next().map(|jump| jump.timestamp().as_millisecond())
        }
        // Unambiguous, or repeated (autumn): its first occurrence.
        _ => ambiguous.compatible().ok().map(|t| t.as_millisecond()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes() {
        assert_eq!(RuleName::parse("  Product page  ").unwrap().as_str(), "Product page");
        assert!(RuleName::parse("   ").is_err());
        assert!(RuleName::parse("a\nb").is_err());
        assert!(RuleName::parse(&"x".repeat(101)).is_err());
        assert_eq!(CountryCode::parse("fr").unwrap().as_str(), "FR");
        assert!(CountryCode::parse("FRA").unwrap_err().0.contains("two-letter"));
        assert!(ContextKey::parse("Case Id").is_ok());
        assert!(ContextKey::parse("").is_err());
        assert!(EventName::parse("added_to_cart").is_ok());
    }

    #[test]
    fn language_prefixes_match_whole_subtags() {
        let fr = LanguagePrefix::parse("fr").unwrap();
        assert!(fr.matches("fr"));
        assert!(fr.matches("fr-CA"));
        assert!(fr.matches("FR_fr"));
        assert!(!fr.matches("fry"));
        assert!(!fr.matches("f"));
        let pt_br = LanguagePrefix::parse("pt_BR").unwrap();
        assert_eq!(pt_br.as_str(), "pt-br");
        assert!(pt_br.matches("pt-BR"));
        assert!(!pt_br.matches("pt-PT"));
        assert!(LanguagePrefix::parse("f").is_err());
        assert!(LanguagePrefix::parse("fr--").is_err());
    }

    #[test]
    fn bounded_numbers_say_their_range() {
        assert_eq!(Seconds::new(20).unwrap().millis(), 20_000);
        assert_eq!(
            Seconds::new(-1).unwrap_err().0,
            "a number of seconds must be between 0 and 86400, not -1"
        );
        assert!(Percent::new(101).is_err());
        assert!(Days::new(0).is_err());
        assert!(ExpiryMs::new(500).is_err());
        assert!(serde_json::from_str::<Percent>("50").is_ok());
        assert!(serde_json::from_str::<Percent>("150").is_err());
    }

    #[test]
    fn times_days_zones_and_instants() {
        assert_eq!(LocalTime::parse("09:30").unwrap().minutes(), 570);
        assert_eq!(LocalTime::parse("24:00").unwrap().minutes(), 1440);
        assert_eq!(LocalTime::parse("9:05").unwrap().to_string(), "09:05");
        for bad in ["24:01", "12:60", "1230", "12:5", "ab:cd"] {
            assert!(LocalTime::parse(bad).is_err(), "{bad}");
        }
        let w = Weekdays::try_from(vec!["Mon".to_owned(), "friday".to_owned()]).unwrap();
        assert!(w.contains(Weekday::Monday) && w.contains(Weekday::Friday) && !w.contains(Weekday::Sunday));
        assert_eq!(Vec::<String>::from(w), ["mon", "fri"]);
        assert!(Weekdays::try_from(vec!["funday".to_owned()]).is_err());
        assert_eq!(Weekdays::try_from(vec![]).unwrap(), Weekdays::ALL);
        assert!(TimeZoneName::parse("Europe/Paris").is_ok());
        assert!(TimeZoneName::parse("Mars/Olympus").unwrap_err().to_string().contains("IANA"));
        let i = Instant::parse("2019-01-01T00:00:00Z").unwrap();
        assert_eq!(i.millis(), 1_546_300_800_000);
        assert!(Instant::parse("01 Jan 2019").is_err());
        assert_eq!(String::from(i), "2019-01-01T00:00:00Z");
    }

    #[test]
    fn non_empty_lists() {
        assert!(serde_json::from_str::<NonEmpty<CountryCode>>("[]").is_err());
        let l: NonEmpty<CountryCode> = serde_json::from_str(r#"["fr","be"]"#).unwrap();
        assert_eq!(serde_json::to_string(&l).unwrap(), r#"["FR","BE"]"#);
    }
}
