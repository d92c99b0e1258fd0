//! Periods ("YYYY-MM"), strict calendar dates ("YYYY-MM-DD"), and the
//! bounds of a record's time ("recorded at").

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("not a date \"YYYY-MM-DD\": {0:?}")]
    Date(String),
    #[error("not a period \"YYYY-MM\": {0:?}")]
    Period(String),
    #[error("year out of 1900-2200: {0:?}")]
    Year(String),
}

/// Inputs §4: which record times ("recorded at", the log's timestamp in
/// ms since the Unix epoch) the ledger takes. One rule on every path:
///
/// - never before the deployment's `epoch` (default: the start of
///   2000-01-01 in the calendar's zone), nor after 9999-12-31 (a time in
///   microseconds or nanoseconds read as milliseconds lands there);
///   the projector dead-letters such a record as `bad_timestamp`, a pure
///   decision, so every replay decides the same;
/// - never later than the moment it is appended plus `after_max_ms`
///   (Kafka's `message.timestamp.after.max.ms`): checked where the append
///   happens, against that clock: `publish` refuses the line, and the
///   ledger topic is created with the same broker setting. A log cannot
///   tell the projector when a record was appended (a Kafka consumer of a
///   `CreateTime` topic sees the producer's time only), so the projector
///   does not re-check this bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordTimes {
    pub epoch: DateTime<Utc>,
    pub after_max_ms: i64,
}

impl RecordTimes {
    /// 9999-12-31T23:59:59.999Z, the last millisecond RFC 3339 can write.
    pub const CEILING_MS: i64 = 253_402_300_799_999;
    /// One hour: clocks of producers may run ahead a little, never a year.
    pub const DEFAULT_AFTER_MAX_MS: i64 = 3_600_000;

    /// The projector's check: the time, or why it is refused.
    pub fn check(&self, ms: i64) -> Result<DateTime<Utc>, String> {
        let at = DateTime::from_timestamp_millis(ms).filter(|_| ms <= Self::CEILING_MS);
        match at {
            None => Err(format!(
                "record time {ms} ms is after 9999-12-31 (microseconds or nanoseconds \
                 instead of milliseconds?)"
            )),
            Some(t) if t < self.epoch => Err(format!(
                "record time {} ({ms} ms) is before the ledger's epoch {}",
                show(t),
                show(self.epoch)
            )),
            Some(t) => Ok(t),
        }
    }

    /// The check where a record is appended at `now_ms`: also not later
    /// than `now_ms + after_max_ms`.
    pub fn check_at_append(&self, ms: i64, now_ms: i64) -> Result<DateTime<Utc>, String> {
        let t = self.check(ms)?;
        if ms > now_ms.saturating_add(self.after_max_ms) {
            return Err(format!(
                "record time {} is later than now ({}) plus {} ms \
                 (message.timestamp.after.max.ms)",
                show(t),
                DateTime::from_timestamp_millis(now_ms).map_or_else(|| now_ms.to_string(), show),
                self.after_max_ms
            ));
        }
        Ok(t)
    }
}

fn show(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Parses exactly `YYYY-MM-DD` (chrono alone would accept `2025-1-5`).
pub fn parse_date(s: &str) -> Result<NaiveDate, TimeError> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return Err(TimeError::Date(s.to_string()));
    }
    // Digits only, checked above: read them directly (chrono's format
    // parser costs more than the rest of an event's conversion).
    let num =
        |r: std::ops::Range<usize>| b[r].iter().fold(0u32, |n, c| n * 10 + u32::from(c - b'0'));
    let year = i32::try_from(num(0..4)).expect("four digits fit");
    // The years a period may have (`Period::new`): a date of year 0000 or
    // 9999 in a social-insurance record is a typo, not a fact.
    if !(1900..=2200).contains(&year) {
        return Err(TimeError::Year(s.to_string()));
    }
    NaiveDate::from_ymd_opt(year, num(5..7), num(8..10))
        .ok_or_else(|| TimeError::Date(s.to_string()))
}

/// Dates in serde: `"YYYY-MM-DD"` for people (JSON), a day number for the
/// store (postcard), where formatting and parsing text cost more than the
/// rest of an event's encoding.
pub mod date_serde {
    use chrono::{Datelike, NaiveDate};
    use serde::{de::Error, Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(d: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            d.serialize(s)
        } else {
            s.serialize_i32(d.num_days_from_ce())
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
        if d.is_human_readable() {
            NaiveDate::deserialize(d)
        } else {
            let n = i32::deserialize(d)?;
            NaiveDate::from_num_days_from_ce_opt(n)
                .ok_or_else(|| D::Error::custom(format!("day number {n} is not a date")))
        }
    }
}

/// [`date_serde`] for optional dates.
pub mod opt_date_serde {
    use chrono::NaiveDate;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Date(#[serde(with = "super::date_serde")] NaiveDate);

    pub fn serialize<S: Serializer>(d: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
        d.map(Date).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
        Ok(Option::<Date>::deserialize(d)?.map(|Date(d)| d))
    }
}

/// A calendar month a contribution or benefit is for.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    year: u16,
    month: u8,
}

impl Period {
    pub fn new(year: u16, month: u8) -> Option<Period> {
        ((1900..=2200).contains(&year) && (1..=12).contains(&month))
            .then_some(Period { year, month })
    }

    pub fn parse(s: &str) -> Result<Period, TimeError> {
        let err = || TimeError::Period(s.to_string());
        let b = s.as_bytes();
        if b.len() != 7 || b[4] != b'-' {
            return Err(err());
        }
        let year: u16 = s[..4].parse().map_err(|_| err())?;
        let month: u8 = s[5..].parse().map_err(|_| err())?;
        if !s[..4]
            .bytes()
            .chain(s[5..].bytes())
            .all(|c| c.is_ascii_digit())
        {
            return Err(err());
        }
        Period::new(year, month).ok_or_else(err)
    }

    pub fn of(date: NaiveDate) -> Period {
        Period {
            year: date.year() as u16,
            month: date.month() as u8,
        }
    }

    pub fn year(&self) -> u16 {
        self.year
    }

    pub fn month(&self) -> u8 {
        self.month
    }

    pub fn first_day(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(i32::from(self.year), u32::from(self.month), 1)
            .expect("validated period")
    }

    /// When contributions for the period are due: the 25th of the month
    /// after it (DOMAIN §3).
    pub fn due_date(&self) -> NaiveDate {
        self.next().first_day() + chrono::Duration::days(24)
    }

    pub fn previous(&self) -> Period {
        if self.month == 1 {
            Period {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Period {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    pub fn next(&self) -> Period {
        if self.month == 12 {
            Period {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Period {
                year: self.year,
                month: self.month + 1,
            }
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl fmt::Debug for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Period({self})")
    }
}

/// `"YYYY-MM"` in human-readable formats; `YYYYMM` as an integer in compact
/// binary ones (the store).
impl Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_u32(u32::from(self.year) * 100 + u32::from(self.month))
        }
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            Period::parse(&s).map_err(serde::de::Error::custom)
        } else {
            let n = u32::deserialize(d)?;
            u16::try_from(n / 100)
                .ok()
                .and_then(|y| Period::new(y, (n % 100) as u8))
                .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a YYYYMM period")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_text_in_json() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct T {
            #[serde(with = "date_serde")]
            d: NaiveDate,
            #[serde(default, with = "opt_date_serde")]
            o: Option<NaiveDate>,
        }
        let t = T {
            d: parse_date("2025-01-05").unwrap(),
            o: Some(parse_date("1999-12-31").unwrap()),
        };
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, r#"{"d":"2025-01-05","o":"1999-12-31"}"#);
        assert_eq!(serde_json::from_str::<T>(&json).unwrap(), t);
        let absent: T = serde_json::from_str(r#"{"d":"2025-01-05"}"#).unwrap();
        assert_eq!(absent.o, None);
    }

    /// Inputs §4: one rule for record times, as a table.
    #[test]
    fn record_times_have_an_epoch_a_ceiling_and_a_tolerance() {
        let rule = RecordTimes {
            epoch: "2000-01-01T00:00:00Z".parse().unwrap(),
            after_max_ms: RecordTimes::DEFAULT_AFTER_MAX_MS,
        };
        let ms = |s: &str| s.parse::<DateTime<Utc>>().unwrap().timestamp_millis();
        let now = ms("2026-11-29T12:00:00Z");
        // (record time ms, projector takes it, the append takes it)
        let table = [
            (ms("2025-04-10T10:00:00Z"), true, true),
            (ms("2000-01-01T00:00:00Z"), true, true),
            (ms("1999-12-31T23:59:59.999Z"), false, false),
            (0, false, false),
            (-1, false, false),
            (i64::MIN, false, false),
            (now + 3_600_000, true, true),
            (now + 3_600_001, true, false),
            (ms("2099-01-01T00:00:00Z"), true, false),
            (ms("2025-04-10T10:00:00Z") * 1000, false, false), // microseconds
            (RecordTimes::CEILING_MS, true, false),
            (RecordTimes::CEILING_MS + 1, false, false),
            (i64::MAX, false, false),
        ];
        for (t, projector, append) in table {
            assert_eq!(rule.check(t).is_ok(), projector, "{t}");
            assert_eq!(rule.check_at_append(t, now).is_ok(), append, "{t}");
        }
        let why = rule.check(0).unwrap_err();
        assert!(why.contains("1970-01-01T00:00:00.000Z"), "{why}");
        assert!(rule
            .check(-1)
            .unwrap_err()
            .contains("1969-12-31T23:59:59.999Z"));
    }

    #[test]
    fn dates_are_strict() {
        assert!(parse_date("2025-01-05").is_ok());
        for bad in [
            "2025-1-5",
            "2025-02-30",
            "25-01-05",
            "2025/01/05",
            "2025-01-05T00",
            "0000-01-01",
            "1899-12-31",
            "9999-12-31",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn periods_parse_and_order() {
        let p = Period::parse("2025-03").unwrap();
        assert_eq!(p.to_string(), "2025-03");
        assert!(Period::parse("2025-13").is_err());
        assert!(Period::parse("2025-3").is_err());
        assert!(Period::parse("2025-+3").is_err());
        assert_eq!(
            Period::parse("2025-12").unwrap().next().to_string(),
            "2026-01"
        );
        assert!(Period::parse("2024-12").unwrap() < p);
    }
}
