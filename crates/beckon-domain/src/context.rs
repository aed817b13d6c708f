//! Custom context: the variables a page attaches to a conversation.
//!
//! The wire format is Microsoft's (`{"Name": {"value": v, "isDisplayable": b}}`, or a bare
//! primitive meaning non-displayable). Limits (see SDK.md): at most 100 variables, names of
//! 1–100 characters, values of at most 4,000 characters, primitives only. A context that breaks a
//! rule is rejected whole with an error naming the variable; nothing is silently truncated.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub const MAX_VARIABLES: usize = 100;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_VALUE_CHARS: usize = 4_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ContextValue {
    Bool(bool),
    Number(serde_json::Number),
    Text(String),
}

impl ContextValue {
    /// The value as a person reads it (and as string conditions compare it).
    pub fn display(&self) -> String {
        match self {
            ContextValue::Bool(b) => b.to_string(),
            ContextValue::Number(n) => n.to_string(),
            ContextValue::Text(s) => s.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContextVar {
    /// A string, number or boolean.
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub value: ContextValue,
    #[serde(rename = "isDisplayable")]
    pub displayable: bool,
}

/// A validated custom context, ordered by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Context(BTreeMap<String, ContextVar>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    #[error("the context must be a JSON object of variables")]
    NotAnObject,
    #[error("the context has {0} variables; at most {MAX_VARIABLES} are allowed")]
    TooManyVariables(usize),
    #[error("a context variable name must not be empty")]
    EmptyName,
    #[error("the context variable name {0:?}… is longer than {MAX_NAME_CHARS} characters")]
    NameTooLong(String),
    #[error("the value of context variable {0:?} is longer than {MAX_VALUE_CHARS} characters")]
    ValueTooLong(String),
    #[error("the value of context variable {0:?} must be a string, number or boolean")]
    NotPrimitive(String),
    #[error("isDisplayable of context variable {0:?} must be true or false")]
    BadDisplayable(String),
}

/// The names under which a visitor gives their name (a pre-chat question, a page variable),
/// compared without case: the console, Live visitors and History call the visitor by it.
pub const NAME_VARIABLES: [&str; 7] =
    ["name", "full name", "your name", "visitor name", "nom", "votre nom", "nom complet"];

impl Context {
    pub fn new() -> Self {
        Self::default()
    }

    /// The visitor's name, when a displayable variable gives one (see [`NAME_VARIABLES`]).
    pub fn visitor_name(&self) -> Option<String> {
        self.0.iter().find_map(|(k, v)| {
            let named = NAME_VARIABLES.iter().any(|n| k.trim().eq_ignore_ascii_case(n));
            let value = v.value.display();
            (named && v.displayable && !value.trim().is_empty()).then(|| value.trim().to_owned())
        })
    }

    /// Parses the SDK's wire format, enforcing every limit.
    pub fn parse(json: &Value) -> Result<Self, ContextError> {
        let obj = match json {
            Value::Object(o) => o,
            Value::Null => return Ok(Self::default()),
            _ => return Err(ContextError::NotAnObject),
        };
        if obj.len() > MAX_VARIABLES {
            return Err(ContextError::TooManyVariables(obj.len()));
        }
        let mut vars = BTreeMap::new();
        for (name, raw) in obj {
            if name.trim().is_empty() {
                return Err(ContextError::EmptyName);
            }
            if name.chars().count() > MAX_NAME_CHARS {
                return Err(ContextError::NameTooLong(name.chars().take(20).collect()));
            }
            let (value, displayable) = match raw {
                Value::Object(o) => {
                    let displayable = match o.get("isDisplayable") {
                        None | Some(Value::Null) => false,
                        Some(Value::Bool(b)) => *b,
                        // Pages written for Microsoft's widget sometimes pass "true" as a string.
                        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
                        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
                        Some(_) => return Err(ContextError::BadDisplayable(name.clone())),
                    };
                    let v = o.get("value").unwrap_or(&Value::Null);
                    (primitive(name, v)?, displayable)
                }
                other => (primitive(name, other)?, false),
            };
            vars.insert(name.clone(), ContextVar { value, displayable });
        }
        Ok(Self(vars))
    }

    pub fn get(&self, name: &str) -> Option<&ContextVar> {
        self.0.get(name)
    }

    pub fn insert(&mut self, name: impl Into<String>, var: ContextVar) {
        self.0.insert(name.into(), var);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &ContextVar)> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// What the context weighs in memory, roughly: the bytes of its names and values.
    pub fn weight(&self) -> usize {
        self.0
            .iter()
            .map(|(name, var)| {
                name.len()
                    + match &var.value {
                        ContextValue::Text(s) => s.len(),
                        ContextValue::Number(_) | ContextValue::Bool(_) => 8,
                    }
            })
            .sum()
    }

    /// `other`'s variables win over ours with the same name.
    pub fn merged_with(mut self, other: Context) -> Self {
        self.0.extend(other.0);
        self
    }
}

fn primitive(name: &str, v: &Value) -> Result<ContextValue, ContextError> {
    let value = match v {
        Value::String(s) => ContextValue::Text(s.clone()),
        Value::Number(n) => ContextValue::Number(n.clone()),
        Value::Bool(b) => ContextValue::Bool(*b),
        _ => return Err(ContextError::NotPrimitive(name.to_owned())),
    };
    if value.display().chars().count() > MAX_VALUE_CHARS {
        return Err(ContextError::ValueTooLong(name.to_owned()));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_seed_samples() {
        let c = Context::parse(&json!({
            "Proactive Chat": {"value": "True", "isDisplayable": true},
            "Time On Page": {"value": 20000, "isDisplayable": true},
            "Plain": "x",
        }))
        .unwrap();
        assert_eq!(c.len(), 3);
        let t = c.get("Time On Page").unwrap();
        assert!(t.displayable);
        assert_eq!(t.value.display(), "20000");
        assert!(!c.get("Plain").unwrap().displayable);
        // Round-trips through the wire format unchanged.
        let back = serde_json::to_value(&c).unwrap();
        assert_eq!(Context::parse(&back).unwrap(), c);
        assert_eq!(back["Time On Page"]["value"], json!(20000));
    }

    #[test]
    fn enforces_limits_without_truncating() {
        let many: serde_json::Map<_, _> = (0..101).map(|i| (format!("v{i}"), json!("x"))).collect();
        assert_eq!(Context::parse(&Value::Object(many)), Err(ContextError::TooManyVariables(101)));
        let long_name = "n".repeat(101);
        assert!(matches!(Context::parse(&json!({ long_name: "x" })), Err(ContextError::NameTooLong(_))));
        assert!(Context::parse(&json!({ "n".repeat(100): "x" })).is_ok());
        assert_eq!(
            Context::parse(&json!({"Big": {"value": "é".repeat(4001)}})),
            Err(ContextError::ValueTooLong("Big".into()))
        );
        assert!(Context::parse(&json!({"Big": {"value": "é".repeat(4000)}})).is_ok());
        assert_eq!(
            Context::parse(&json!({"Obj": {"value": {"a": 1}}})),
            Err(ContextError::NotPrimitive("Obj".into()))
        );
        assert_eq!(Context::parse(&json!({"Arr": [1, 2]})), Err(ContextError::NotPrimitive("Arr".into())));
        assert_eq!(Context::parse(&json!("nope")), Err(ContextError::NotAnObject));
        assert_eq!(Context::parse(&json!({"": "x"})), Err(ContextError::EmptyName));
        assert_eq!(
            Context::parse(&json!({"D": {"value": 1, "isDisplayable": 3}})),
            Err(ContextError::BadDisplayable("D".into()))
        );
    }

    #[test]
    fn numbers_survive_being_stored_as_json_text() {
        // Found by fuzzing (fuzz/ `context`): without serde_json's `float_roundtrip` feature this
        // number, or the shortest text of it, could be read one unit in the last place off, so a
        // stored context came back different from the one the page sent.
        let c = Context::parse(&serde_json::from_str(r#"{"big": 1044674720236854775808}"#).unwrap()).unwrap();
        let exact = serde_json::Number::from_f64(1_044_674_720_236_854_775_808.0).unwrap();
        assert_eq!(c.get("big").unwrap().value, ContextValue::Number(exact));
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(Context::parse(&serde_json::from_str(&text).unwrap()).unwrap(), c);
        assert_eq!(serde_json::from_str::<Context>(&text).unwrap(), c);
    }

    #[test]
    fn later_context_wins_on_merge() {
        let a = Context::parse(&json!({"A": "page", "B": "page"})).unwrap();
        let b = Context::parse(&json!({"B": {"value": "jwt", "isDisplayable": true}})).unwrap();
        let m = a.merged_with(b);
        assert_eq!(m.get("A").unwrap().value.display(), "page");
        assert_eq!(m.get("B").unwrap().value.display(), "jwt");
    }
}
