//! JSON lines as producers and back-fills write them: each line an
//! `Envelope` in proto3 JSON (`eventId` or `event_id`), or
//! `{"timestamp": RFC3339, "envelope": {…}}` to set the record's timestamp.

use crate::convert::{envelope_from_wire, WireError};
use crate::v1 as pb;
use chrono::{DateTime, Utc};

/// One valid line: the wire envelope, its checked domain twin, and the record
/// timestamp it asks for (a back-fill from a legacy system), if any.
#[derive(Debug, Clone)]
pub struct ParsedLine {
    pub wire: pb::Envelope,
    pub envelope: ledger_core::Envelope,
    pub timestamp: Option<DateTime<Utc>>,
}

/// Why a line was refused: the field (a JSON path) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct LineError {
    pub field: String,
    pub reason: String,
}

impl From<WireError> for LineError {
    fn from(e: WireError) -> Self {
        LineError {
            field: e.field,
            reason: e.reason,
        }
    }
}

/// A line error with its field path and reason cut short: both may quote
/// what the producer sent (a key, a value), which may be megabytes long.
fn line_err(field: &str, reason: impl ToString) -> LineError {
    LineError {
        field: crate::convert::bounded(field, 200),
        reason: crate::convert::bounded(&reason.to_string(), 512),
    }
}

/// Parses and validates one JSON line: read strictly ([`crate::strict_json`]:
/// a repeated key is refused, `null` is absent, a byte-order mark is
/// skipped), checked field by field, and in canonical spelling
/// ([`crate::canonical`]) in `wire`.
pub fn parse_line(line: &str) -> Result<ParsedLine, LineError> {
    let value = crate::strict_json::parse(line).map_err(|e| line_err(&e.path, e.reason))?;
    let serde_json::Value::Object(mut obj) = value else {
        return Err(line_err("(line)", "must be a JSON object"));
    };
    let (envelope_value, timestamp, prefix) = if obj.contains_key("envelope") {
        let ts = match obj.remove("timestamp") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(
                DateTime::parse_from_rfc3339(&s)
                    .map_err(|e| line_err("timestamp", format!("not RFC 3339 ({e}): {s:?}")))?
                    .with_timezone(&Utc),
            ),
            Some(_) => return Err(line_err("timestamp", "must be an RFC 3339 string")),
        };
        let env = obj.remove("envelope").expect("checked above");
        if let Some(extra) = obj.keys().next() {
            return Err(line_err(
                extra,
                "unknown field beside \"timestamp\" and \"envelope\"",
            ));
        }
        (env, ts, "envelope.")
    } else {
        (serde_json::Value::Object(obj), None, "")
    };
    let mut wire: pb::Envelope = serde_path_to_error::deserialize(envelope_value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "(envelope)".to_string()
        } else {
            format!("{prefix}{path}")
        };
        line_err(&field, e.into_inner())
    })?;
    crate::canonical::canonicalize(&mut wire);
    let envelope = envelope_from_wire(&wire).map_err(|e| LineError {
        field: format!("{prefix}{}", e.field),
        reason: e.reason,
    })?;
    Ok(ParsedLine {
        wire,
        envelope,
        timestamp,
    })
}
