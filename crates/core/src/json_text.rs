//! JSON values kept as their serialized text.
//!
//! A [`Value`] object costs a B-tree node of over 600 bytes however few its members, so
//! a pass holding the properties of tens of thousands of entities as values spends most
//! of its memory on empty node slots. Properties a pass holds by the thousand (the
//! desired state, the children read for planning) are kept as text instead and parsed
//! where a decision or a body needs them: the parsed value lives only as long as that
//! step, the text is what stays.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A JSON value as its compact text; clones share the text.
///
/// The text is always the serialization of a [`Value`] (members in key order), so two
/// texts are equal exactly when their values are.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct JsonText(Arc<str>);

impl JsonText {
    pub fn new(value: &Value) -> Self {
        Self(Arc::from(value.to_string()))
    }

    /// The value, parsed anew. The text came from a value, so it always parses; a value
    /// nested deeper than the parser's limit (which no wire answer can hold) reads as
    /// `null`.
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }

    /// One member of an object value (`None` for other values or a missing member).
    pub fn get(&self, key: &str) -> Option<Value> {
        match self.value() {
            Value::Object(mut members) => members.remove(key),
            _ => None,
        }
    }

    /// Changes the value: parsed, changed by `change`, and kept as text again.
    pub fn update(&mut self, change: impl FnOnce(&mut Value)) {
        let mut value = self.value();
        change(&mut value);
        *self = Self::new(&value);
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for JsonText {
    /// An empty object, as an entity without properties reads.
    fn default() -> Self {
        Self::new(&Value::Object(serde_json::Map::new()))
    }
}

impl From<Value> for JsonText {
    fn from(value: Value) -> Self {
        Self::new(&value)
    }
}

impl From<&Value> for JsonText {
    fn from(value: &Value) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for JsonText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for JsonText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(|value| Self::new(&value))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn text_round_trips_and_compares_as_values() {
        let value = json!({"title": "Pets", "customProperties": {"b": 1, "a": [true, null]}});
        let text = JsonText::new(&value);
        assert_eq!(text.value(), value);
        assert_eq!(text.get("title"), Some(json!("Pets")));
        assert_eq!(text.get("missing"), None);
        // Members are kept in key order, whatever order a value was built in.
        let reordered: Value =
            serde_json::from_str(r#"{"customProperties":{"a":[true,null],"b":1},"title":"Pets"}"#)
                .unwrap();
        assert_eq!(JsonText::new(&reordered), text);
        assert_ne!(JsonText::new(&json!({"title": "Cats"})), text);
        assert_eq!(serde_json::to_value(&text).unwrap(), value);
    }

    #[test]
    fn update_changes_the_text_not_the_clones() {
        let mut text = JsonText::new(&json!({"title": "Pets"}));
        let shared = text.clone();
        text.update(|v| v["title"] = json!("Cats"));
        assert_eq!(text.get("title"), Some(json!("Cats")));
        assert_eq!(shared.get("title"), Some(json!("Pets")));
        assert_eq!(JsonText::default().value(), json!({}));
    }
}
