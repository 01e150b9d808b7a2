//! Hashing helpers: content hashes, short name suffixes and a canonical JSON hash.
//!
//! The JSON hash must not depend on map ordering: another crate in the workspace may
//! switch on `serde_json/preserve_order`, which would make `to_string` order-dependent.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Hash of definition content as recorded in the ownership marker (`contentHash`).
pub fn content_hash(content: &[u8]) -> String {
    sha256_hex(content)
}

/// The first `len` hex characters of the SHA-256 of the given parts, each part
/// terminated by a NUL so that `("ab", "c")` and `("a", "bc")` differ.
pub fn short_hash(parts: &[&str], len: usize) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    let mut hex = hex::encode(hasher.finalize());
    hex.truncate(len);
    hex
}

/// SHA-256 of a canonical rendering of `value` (object keys sorted at every level).
pub fn json_hash(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    sha256_hex(out.as_bytes())
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(key) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_hash_ignores_key_order() {
        let a = json!({"a": 1, "b": {"x": [1, 2], "y": null}});
        let b: Value = serde_json::from_str(r#"{"b": {"y": null, "x": [1, 2]}, "a": 1}"#).unwrap();
        assert_eq!(json_hash(&a), json_hash(&b));
        assert_ne!(
            json_hash(&a),
            json_hash(&json!({"a": 2, "b": {"x": [1, 2], "y": null}}))
        );
    }

    #[test]
    fn short_hash_separates_parts() {
        assert_ne!(short_hash(&["ab", "c"], 8), short_hash(&["a", "bc"], 8));
        assert_eq!(short_hash(&["x"], 6).len(), 6);
    }
}
