//! The Kazakhstan working-day calendar as versioned data (DOMAIN.md §6), and
//! the recording deadline of Rules §7: "within one working day from the date
//! of receipt".
//!
//! Each year has numbered versions (a late decree publishes a new one); the
//! highest version of a year is in force. Years without data are derived from
//! the Labour Code rule (fixed holidays, weekend holidays moved to the next
//! working day, 7 January never moved) and reported as `derived`, because a
//! movable feast (Kurban Ait) and decrees cannot be known in advance.

use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

const BUILT_IN: &str = include_str!("../data/calendar-kz.json");

#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("calendar file is not valid: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("calendar year {year}: {message}")]
    Invalid { year: i32, message: String },
}

/// One published version of a year's calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearVersion {
    pub year: i32,
    pub version: u32,
    pub published_on: NaiveDate,
    pub source: String,
    /// Weekdays that are not worked.
    pub days_off: BTreeSet<NaiveDate>,
    /// Saturdays and Sundays that are worked by decree.
    #[serde(default)]
    pub working_weekends: BTreeSet<NaiveDate>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CalendarFile {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    utc_offset_hours: Option<i32>,
    years: Vec<YearVersion>,
}

/// Every published version of every year; the highest version of a year is
/// the one in force.
#[derive(Debug, Clone)]
pub struct Calendar {
    offset: FixedOffset,
    years: BTreeMap<i32, BTreeMap<u32, YearVersion>>,
    /// Rule-derived days off for the years around now, computed once: a
    /// deadline for a receipt in a year without data is on the hot path.
    derived: BTreeMap<i32, BTreeSet<NaiveDate>>,
}

/// Years whose rule-derived days off are precomputed.
const DERIVED_YEARS: std::ops::RangeInclusive<i32> = 1990..=2100;

/// The recording deadline for money received on a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Deadline {
    pub received_on: NaiveDate,
    /// The first working day strictly after the receipt date.
    pub deadline_day: NaiveDate,
    /// The last instant of that day, in Kazakhstan time.
    pub deadline: DateTime<FixedOffset>,
    /// Whether every day consulted came from published data rather than the rule.
    pub from_published_data: bool,
}

impl Deadline {
    /// A record logged at `at` is late when it falls after the deadline.
    pub fn is_late(&self, at: DateTime<Utc>) -> bool {
        at > self.deadline
    }
}

impl Calendar {
    /// The built-in calendar: 2024-2026 from DOMAIN.md §6.
    pub fn built_in() -> Calendar {
        let mut c = Calendar {
            offset: FixedOffset::east_opt(5 * 3600).expect("valid offset"),
            years: BTreeMap::new(),
            derived: DERIVED_YEARS.map(|y| (y, derived_days_off(y))).collect(),
        };
        c.merge_json(BUILT_IN).expect("built-in calendar is valid");
        c
    }

    /// The built-in calendar with an override file merged in (a new year or
    /// a later version of a year, from a late decree).
    pub fn with_overrides(json: &str) -> Result<Calendar, CalendarError> {
        let mut c = Calendar::built_in();
        c.merge_json(json)?;
        Ok(c)
    }

    fn merge_json(&mut self, json: &str) -> Result<(), CalendarError> {
        let file: CalendarFile = serde_json::from_str(json)?;
        if let Some(h) = file.utc_offset_hours {
            self.offset = FixedOffset::east_opt(h * 3600).ok_or(CalendarError::Invalid {
                year: 0,
                message: format!("utc_offset_hours {h} out of range"),
            })?;
        }
        let _ = file.name;
        for v in file.years {
            v.validate()?;
            let versions = self.years.entry(v.year).or_default();
            match versions.get(&v.version) {
                Some(cur)
                    if cur.days_off != v.days_off || cur.working_weekends != v.working_weekends =>
                {
                    return Err(CalendarError::Invalid {
                        year: v.year,
                        message: format!("version {} given twice with different days", v.version),
                    })
                }
                Some(_) => {}
                None => {
                    versions.insert(v.version, v);
                }
            }
        }
        Ok(())
    }

    /// Which version of which year is in force, e.g. `2024:v1 2025:v1 2026:v2`;
    /// recorded with projections so a replay can tell it used the same calendar.
    pub fn version_tag(&self) -> String {
        self.years()
            .map(|v| format!("{}:v{}", v.year, v.version))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The version in force of each year with data.
    pub fn years(&self) -> impl Iterator<Item = &YearVersion> {
        self.years.values().filter_map(|v| v.values().next_back())
    }

    fn in_force(&self, year: i32) -> Option<&YearVersion> {
        self.years.get(&year).and_then(|v| v.values().next_back())
    }

    /// Whether `date` is a working day, and whether published data said so.
    pub fn working_day(&self, date: NaiveDate) -> (bool, bool) {
        match self.in_force(date.year()) {
            Some(v) => {
                let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
                let working = if weekend {
                    v.working_weekends.contains(&date)
                } else {
                    !v.days_off.contains(&date)
                };
                (working, true)
            }
            None => {
                let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
                let off = match self.derived.get(&date.year()) {
                    Some(days) => days.contains(&date),
                    None => derived_days_off(date.year()).contains(&date),
                };
                (!weekend && !off, false)
            }
        }
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.working_day(date).0
    }

    /// Rules §7: the deadline is the end of the first working day strictly
    /// after the day the money was received, in Kazakhstan time.
    pub fn recording_deadline(&self, received_on: NaiveDate) -> Deadline {
        let mut day = received_on;
        let mut published = true;
        loop {
            day = day.checked_add_days(Days::new(1)).expect("date in range");
            let (working, from_data) = self.working_day(day);
            published &= from_data;
            if working {
                break;
            }
        }
        Deadline {
            received_on,
            deadline_day: day,
            deadline: self.day_end(day),
            from_published_data: published,
        }
    }

    /// The last instant (to the millisecond) of `day` in the calendar's
    /// time zone (Kazakhstan: +05:00 unless an override says otherwise).
    pub fn day_end(&self, day: NaiveDate) -> DateTime<FixedOffset> {
        let next_midnight = day
            .checked_add_days(Days::new(1))
            .unwrap_or(NaiveDate::MAX)
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists");
        self.offset
            .from_local_datetime(&next_midnight)
            .single()
            .expect("fixed offsets are unambiguous")
            - chrono::Duration::milliseconds(1)
    }
}

impl YearVersion {
    fn validate(&self) -> Result<(), CalendarError> {
        let bad = |message: String| CalendarError::Invalid {
            year: self.year,
            message,
        };
        for d in &self.days_off {
            if d.year() != self.year {
                return Err(bad(format!("day off {d} is not in {}", self.year)));
            }
            if matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
                return Err(bad(format!("day off {d} is a weekend; list weekdays only")));
            }
        }
        for d in &self.working_weekends {
            if d.year() != self.year || !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
                return Err(bad(format!(
                    "working weekend {d} is not a weekend of {}",
                    self.year
                )));
            }
        }
        Ok(())
    }
}

/// Labour Code holidays as (month, day), before moves. 30 August stops being
/// a holiday after 2025 and 15 March becomes one from 2027 (DOMAIN.md §6).
fn statutory_holidays(year: i32) -> Vec<(u32, u32)> {
    let mut h = vec![
        (1, 1),
        (1, 2),
        (3, 8),
        (3, 21),
        (3, 22),
        (3, 23),
        (5, 1),
        (5, 7),
        (5, 9),
    ];
    h.extend([(7, 6), (10, 25), (12, 16)]);
    if year <= 2025 {
        h.push((8, 30));
    }
    if year >= 2027 {
        h.push((3, 15));
    }
    h.sort_unstable();
    h
}

/// Non-working weekdays of a year by the rule alone: weekday holidays, then
/// each weekend holiday moved to the next weekday not already off. 7 January
/// is off only when it is a weekday and never moves; Kurban Ait is unknown.
pub fn derived_days_off(year: i32) -> BTreeSet<NaiveDate> {
    let is_weekend = |d: NaiveDate| matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
    let dates: Vec<NaiveDate> = statutory_holidays(year)
        .into_iter()
        .filter_map(|(m, d)| NaiveDate::from_ymd_opt(year, m, d))
        .collect();
    let mut off: BTreeSet<NaiveDate> = dates.iter().copied().filter(|d| !is_weekend(*d)).collect();
    if let Some(jan7) = NaiveDate::from_ymd_opt(year, 1, 7).filter(|d| !is_weekend(*d)) {
        off.insert(jan7);
    }
    for d in dates.into_iter().filter(|d| is_weekend(*d)) {
        let mut m = d;
        while is_weekend(m) || off.contains(&m) {
            m = m.succ_opt().expect("date in range");
        }
        off.insert(m);
    }
    off
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        crate::time::parse_date(s).unwrap()
    }

    #[test]
    fn rule_reproduces_published_years_except_decrees() {
        let cal = Calendar::built_in();
        for v in cal.years() {
            let mut derived = derived_days_off(v.year);
            // Decrees and the movable feast are what the rule cannot know.
            match v.year {
                2024 => {}
                2025 => {
                    derived.insert(d("2025-01-03"));
                    derived.insert(d("2025-06-06"));
                }
                2026 => {
                    derived.insert(d("2026-05-27"));
                }
                _ => unreachable!(),
            }
            assert_eq!(derived, v.days_off, "year {}", v.year);
        }
    }

    #[test]
    fn working_sunday_and_2026_change() {
        let cal = Calendar::built_in();
        assert!(cal.is_working_day(d("2025-01-05")));
        assert!(!cal.is_working_day(d("2025-01-03")));
        assert!(
            cal.is_working_day(d("2026-08-31")),
            "version 2 of 2026 is in force"
        );
        assert_eq!(cal.version_tag(), "2024:v1 2025:v1 2026:v2");
    }

    #[test]
    fn deadlines() {
        let cal = Calendar::built_in();
        // Friday 2025-01-03 was a day off; Sunday 05 was worked.
        let dl = cal.recording_deadline(d("2024-12-31"));
        assert_eq!(dl.deadline_day, d("2025-01-05"));
        assert_eq!(dl.deadline.to_rfc3339(), "2025-01-05T23:59:59.999+05:00");
        // Friday before Nauryz 2025 (Mar 21 Fri off, 24, 25 off).
        assert_eq!(
            cal.recording_deadline(d("2025-03-20")).deadline_day,
            d("2025-03-26")
        );
        // Friday 2026-08-28: Monday 31 is now a working day.
        assert_eq!(
            cal.recording_deadline(d("2026-08-28")).deadline_day,
            d("2026-08-31")
        );
        let late = "2025-03-26T19:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let on_time = "2025-03-26T18:59:59Z".parse::<DateTime<Utc>>().unwrap();
        let dl = cal.recording_deadline(d("2025-03-20"));
        assert!(dl.is_late(late));
        assert!(!dl.is_late(on_time));
        assert!(dl.from_published_data);
        assert!(!cal.recording_deadline(d("2027-05-03")).from_published_data);
        // 2027 has no data: the rule says Constitution Day moves to 15 March
        // (a Monday) and 30 August (a Monday) is no longer a holiday.
        assert_eq!(cal.working_day(d("2027-03-15")), (false, false));
        assert_eq!(cal.working_day(d("2027-08-30")), (true, false));
        assert_eq!(
            cal.recording_deadline(d("2027-03-12")).deadline_day,
            d("2027-03-16")
        );
    }

    #[test]
    fn overrides_add_versions() {
        let json = r#"{"years":[{"year":2027,"version":1,"published_on":"2026-11-01",
            "source":"test decree","days_off":["2027-01-01"],"working_weekends":["2027-01-09"]}]}"#;
        let cal = Calendar::with_overrides(json).unwrap();
        assert!(cal.is_working_day(d("2027-01-09")));
        assert!(cal.working_day(d("2027-01-04")).1);
        let bad = r#"{"years":[{"year":2027,"version":1,"published_on":"2026-11-01",
            "source":"x","days_off":["2027-01-02"]}]}"#;
        assert!(
            Calendar::with_overrides(bad).is_err(),
            "a Saturday is not a weekday off"
        );
        let stale = r#"{"years":[{"year":2026,"version":1,"published_on":"2025-12-01",
            "source":"old","days_off":[]}]}"#;
        assert!(
            Calendar::with_overrides(stale).is_err(),
            "same version, different days"
        );
    }
}
