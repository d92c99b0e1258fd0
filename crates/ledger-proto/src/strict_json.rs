//! JSON as producers write it, read strictly where serde_json is lenient:
//! a key repeated in one object is refused with its path (serde_json's
//! `Value` keeps the last one silently, so `"amount":"4250.00",
//! "amount":"425000.00"` would credit the second), and an explicit `null`
//! is read as the field's absence, as the proto3 JSON mapping says ("null
//! is accepted for all field types and treated as the default value").
//! A leading UTF-8 byte-order mark (Windows tools write one) is skipped.
//!
//! Written here because no maintained crate refuses duplicate keys in an
//! untyped `serde_json::Value`; it is a serde `DeserializeSeed` over
//! serde_json's own parser, so the JSON grammar is still serde_json's.

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::fmt;

/// Why a JSON text was refused: the path of the failing key
/// (`envelope.contribution.amount`, or `(line)` for the whole text) and
/// the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrictError {
    pub path: String,
    pub reason: String,
}

/// The text without a leading byte-order mark.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Parses one JSON text: repeated keys refused, `null` members dropped
/// (in arrays a `null` stays, for the schema to refuse).
pub fn parse(text: &str) -> Result<Value, StrictError> {
    let failure = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(strip_bom(text));
    let parsed = Seed {
        path: String::new(),
        failure: &failure,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    match parsed {
        Ok(v) => Ok(v),
        Err(e) => Err(failure.into_inner().unwrap_or_else(|| StrictError {
            path: "(line)".into(),
            reason: format!("not JSON: {e}"),
        })),
    }
}

struct Seed<'f> {
    path: String,
    failure: &'f RefCell<Option<StrictError>>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Seed {
            path: format!("{}[{}]", self.path, out.len()),
            failure: self.failure,
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            if !seen.insert(key.clone()) {
                *self.failure.borrow_mut() = Some(StrictError {
                    path,
                    reason: "the key is repeated in its object: which value is meant is not \
                             clear, so the line is refused"
                        .into(),
                });
                return Err(A::Error::custom("repeated key"));
            }
            let v = map.next_value_seed(Seed {
                path,
                failure: self.failure,
            })?;
            // Proto3 JSON: null is the field's default, i.e. absent.
            if !v.is_null() {
                out.insert(key, v);
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_are_refused_with_their_path() {
        for (text, path) in [
            (r#"{"a":1,"a":2}"#, "a"),
            (r#"{"a":{"b":"x","c":1,"b":"y"}}"#, "a.b"),
            (r#"{"a":[{"b":1},{"b":1,"b":2}]}"#, "a[1].b"),
            (r#"{"a":null,"a":2}"#, "a"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.path, path, "{text}");
            assert!(e.reason.contains("repeated"), "{e:?}");
        }
    }

    #[test]
    fn null_is_absent_and_a_bom_is_skipped() {
        let v = parse("\u{feff}{\"a\":null,\"b\":{\"c\":null,\"d\":1},\"e\":[null]}").unwrap();
        assert_eq!(v, serde_json::json!({"b":{"d":1},"e":[null]}));
    }

    #[test]
    fn bad_json_is_named_as_such() {
        for text in ["{", "{\"a\":1} x", "", "{\"a\":01}"] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.path, "(line)", "{text}");
            assert!(e.reason.starts_with("not JSON"), "{e:?}");
        }
    }
}
