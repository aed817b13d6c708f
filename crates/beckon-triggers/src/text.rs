//! Text matching for page URL, page title, referrer, UTM and context conditions.
//!
//! An admin picks an operator (equals, contains, starts with, ends with, glob, regex) and a value,
//! optionally ignoring case. The matcher is compiled once, when the rule is parsed: globs and every
//! case-insensitive operator become a [`regex::Regex`] (linear-time, so no pattern can stall the
//! server), case-sensitive literals stay plain string comparisons. Matching then allocates nothing.
//!
//! Glob syntax: `*` is any run of characters (including `/`), `?` is one character, everything else
//! is literal; the glob must match the whole text. A regex, like JavaScript's `test`, matches
//! anywhere unless anchored with `^`/`$`.

use crate::fields::FieldError;
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest value an admin may match against.
pub const MAX_PATTERN_CHARS: usize = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextOp {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
    Glob,
    Regex,
}

impl fmt::Display for TextOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TextOp::Equals => "equals",
            TextOp::Contains => "contains",
            TextOp::StartsWith => "starts with",
            TextOp::EndsWith => "ends with",
            TextOp::Glob => "matches glob",
            TextOp::Regex => "matches regex",
        })
    }
}

/// The rule-file form of a text test: `{"op": "glob", "value": "*/products/*", "ignore_case": true}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextMatchSpec {
    pub op: TextOp,
    pub value: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_case: bool,
}

#[derive(Clone)]
enum Matcher {
    Equals(Box<str>),
    Contains(Box<str>),
    StartsWith(Box<str>),
    EndsWith(Box<str>),
    Regex(Regex),
}

/// A compiled text test. Equality compares what the admin wrote, not the compiled form.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "TextMatchSpec", into = "TextMatchSpec")]
pub struct TextMatch {
    spec: TextMatchSpec,
    matcher: Matcher,
}

impl TextMatch {
    pub fn new(op: TextOp, value: impl Into<String>, ignore_case: bool) -> Result<Self, FieldError> {
        Self::try_from(TextMatchSpec { op, value: value.into(), ignore_case })
    }

    pub fn spec(&self) -> &TextMatchSpec {
        &self.spec
    }

    pub fn matches(&self, text: &str) -> bool {
        match &self.matcher {
            Matcher::Equals(v) => text == &**v,
            Matcher::Contains(v) => text.contains(&**v),
            Matcher::StartsWith(v) => text.starts_with(&**v),
            Matcher::EndsWith(v) => text.ends_with(&**v),
            Matcher::Regex(r) => r.is_match(text),
        }
    }
}

fn compile(pattern: &str, ignore_case: bool) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .case_insensitive(ignore_case)
        // Bounded compiled size: a pathological pattern is rejected when saved, not at match time.
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 20)
        .build()
}

/// Turns a glob into an anchored regex source.
fn glob_to_regex(glob: &str) -> String {
    let mut out = String::with_capacity(glob.len() + 8);
    out.push_str(r"(?s)\A");
    let mut buf = [0u8; 4];
    for c in glob.chars() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            c => out.push_str(&regex::escape(c.encode_utf8(&mut buf))),
        }
    }
    out.push_str(r"\z");
    out
}

/// A case-sensitive glob whose only wildcards are a leading and/or trailing `*` is a plain string
/// test (`*/products/*` is "contains `/products/`"), which is several times cheaper than a regex
/// and is what most URL rules look like.
fn simple_glob(glob: &str) -> Option<Matcher> {
    let (lead, rest) = match glob.strip_prefix('*') {
        Some(r) => (true, r),
        None => (false, glob),
    };
    let (trail, core) = match rest.strip_suffix('*') {
        Some(c) => (true, c),
        None => (false, rest),
    };
    if core.contains(['*', '?']) {
        return None;
    }
    let core: Box<str> = core.into();
    Some(match (lead, trail) {
        (true, true) => Matcher::Contains(core),
        (false, true) => Matcher::StartsWith(core),
        (true, false) => Matcher::EndsWith(core),
        (false, false) => Matcher::Equals(core),
    })
}

/// The last line of the regex crate's error ("error: unclosed group"), which is the part an admin can act on.
fn regex_problem(e: &regex::Error) -> String {
    match e {
        regex::Error::CompiledTooBig(_) => "the pattern is too large; simplify it".to_owned(),
        other => {
            let text = other.to_string();
            let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(&text);
            last.trim().trim_start_matches("error: ").to_owned()
        }
    }
}

impl TryFrom<TextMatchSpec> for TextMatch {
    type Error = FieldError;

    fn try_from(spec: TextMatchSpec) -> Result<Self, FieldError> {
        if spec.value.chars().count() > MAX_PATTERN_CHARS {
            return Err(FieldError::new(format!("the value has more than {MAX_PATTERN_CHARS} characters")));
        }
        let literal = |v: &str| -> Box<str> { v.into() };
        let matcher = match (spec.op, spec.ignore_case) {
            (TextOp::Regex, ic) => Matcher::Regex(compile(&spec.value, ic).map_err(|e| {
                FieldError::new(format!("invalid regex {:?}: {}", spec.value, regex_problem(&e)))
            })?),
            (TextOp::Glob, false) if let Some(m) = simple_glob(&spec.value) => m,
            (TextOp::Glob, ic) => Matcher::Regex(compile(&glob_to_regex(&spec.value), ic).map_err(|e| {
                FieldError::new(format!("invalid glob {:?}: {}", spec.value, regex_problem(&e)))
            })?),
            (op, true) => {
                let lit = regex::escape(&spec.value);
                let src = match op {
                    TextOp::Equals => format!(r"\A{lit}\z"),
                    TextOp::StartsWith => format!(r"\A{lit}"),
                    TextOp::EndsWith => format!(r"{lit}\z"),
                    _ => lit,
                };
                Matcher::Regex(compile(&src, true).map_err(|e| FieldError::new(regex_problem(&e)))?)
            }
            (TextOp::Equals, false) => Matcher::Equals(literal(&spec.value)),
            (TextOp::Contains, false) => Matcher::Contains(literal(&spec.value)),
            (TextOp::StartsWith, false) => Matcher::StartsWith(literal(&spec.value)),
            (TextOp::EndsWith, false) => Matcher::EndsWith(literal(&spec.value)),
        };
        Ok(Self { spec, matcher })
    }
}

impl From<TextMatch> for TextMatchSpec {
    fn from(m: TextMatch) -> Self {
        m.spec
    }
}

impl PartialEq for TextMatch {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec
    }
}

impl fmt::Debug for TextMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.spec, f)
    }
}

impl fmt::Display for TextMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.spec.op, self.spec.value)?;
        if self.spec.ignore_case {
            f.write_str(" (ignoring case)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(op: TextOp, v: &str, ic: bool) -> TextMatch {
        TextMatch::new(op, v, ic).unwrap()
    }

    #[test]
    fn literal_operators() {
        let url = "https://shop.example/products/surface-book?ref=1";
        assert!(m(TextOp::Equals, url, false).matches(url));
        assert!(!m(TextOp::Equals, "https://shop.example/", false).matches(url));
        assert!(m(TextOp::Contains, "/products/", false).matches(url));
        assert!(!m(TextOp::Contains, "/PRODUCTS/", false).matches(url));
        assert!(m(TextOp::Contains, "/PRODUCTS/", true).matches(url));
        assert!(m(TextOp::StartsWith, "https://shop", false).matches(url));
        assert!(!m(TextOp::StartsWith, "shop", false).matches(url));
        assert!(m(TextOp::EndsWith, "REF=1", true).matches(url));
        assert!(m(TextOp::Equals, "HTTPS://SHOP.EXAMPLE/PRODUCTS/SURFACE-BOOK?REF=1", true).matches(url));
        assert!(!m(TextOp::Equals, "https://shop.example/products", true).matches(url));
        // Regex metacharacters in a literal are literal.
        assert!(m(TextOp::Contains, "?ref=1", true).matches(url));
        assert!(m(TextOp::Equals, "", false).matches(""));
    }

    #[test]
    fn globs_match_the_whole_text() {
        let g = m(TextOp::Glob, "https://shop.example/products/*", false);
        assert!(g.matches("https://shop.example/products/a/b"));
        assert!(!g.matches("https://shop.example/about"));
        assert!(!m(TextOp::Glob, "/products/*", false).matches("https://x/products/a"));
        assert!(m(TextOp::Glob, "*/products/*", false).matches("https://x/products/a"));
        assert!(m(TextOp::Glob, "*/page-?.html", false).matches("https://x/page-2.html"));
        assert!(!m(TextOp::Glob, "*/page-?.html", false).matches("https://x/page-22.html"));
        assert!(m(TextOp::Glob, "*.EXAMPLE/*", true).matches("https://shop.example/a"));
        // Dots and pluses are literal in a glob.
        assert!(!m(TextOp::Glob, "a.c", false).matches("abc"));
        // Leading/trailing-star globs take the plain-string path; same answers.
        assert!(m(TextOp::Glob, "*", false).matches(""));
        assert!(m(TextOp::Glob, "**", false).matches("anything"));
        assert!(m(TextOp::Glob, "https://x/*", false).matches("https://x/"));
        assert!(!m(TextOp::Glob, "https://x/*", false).matches("https://y/"));
        assert!(m(TextOp::Glob, "*.html", false).matches("/a.html"));
        assert!(!m(TextOp::Glob, "*.html", false).matches("/a.htm"));
        assert!(m(TextOp::Glob, "/exact", false).matches("/exact"));
        assert!(!m(TextOp::Glob, "/exact", false).matches("/exact/"));
    }

    #[test]
    fn regexes_and_their_errors() {
        assert!(m(TextOp::Regex, r"/products/\d+", false).matches("https://x/products/42"));
        assert!(m(TextOp::Regex, "surface", true).matches("Surface Book"));
        let e = TextMatch::new(TextOp::Regex, "(", false).err().unwrap();
        assert_eq!(e.0, "invalid regex \"(\": unclosed group");
        assert!(TextMatch::new(TextOp::Regex, "a{1000}{1000}", false).err().unwrap().0.contains("too large"));
    }

    #[test]
    fn round_trips_as_written() {
        let json = r#"{"op":"glob","value":"*/faq*","ignore_case":true}"#;
        let t: TextMatch = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), json);
        let plain: TextMatch = serde_json::from_str(r#"{"op":"equals","value":"x"}"#).unwrap();
        assert_eq!(serde_json::to_string(&plain).unwrap(), r#"{"op":"equals","value":"x"}"#);
        assert!(serde_json::from_str::<TextMatch>(r#"{"op":"like","value":"x"}"#).is_err());
    }
}
