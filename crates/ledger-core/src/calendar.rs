//! The Kazakhstan working-day calendar as versioned data (DOMAIN.md §6), and
//! the recording deadline of Rules §7: "within one working day from the date
//! of receipt".
//!
//! Local time is the State Corporation's, from the IANA time-zone database
//! (`Asia/Almaty` unless a calendar file names another zone): Kazakhstan
//! kept UTC+6 in Astana and Almaty until 1 March 2024 and UTC+5 since
//! (DOMAIN.md §7), so no fixed offset is right for every date.
//!
//! Each year has numbered versions (a late decree publishes a new one); the
//! highest version of a year is in force. Years without data are derived from
//! the Labour Code rule (fixed holidays, weekend holidays moved to the next
//! working day, 7 January never moved) and reported as `derived`, because a
//! movable feast (Kurban Ait) and decrees cannot be known in advance.

use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, Offset, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
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
    /// An IANA zone name (`Asia/Almaty`); the deployment's local time.
    #[serde(default)]
    time_zone: Option<String>,
    /// Read only to refuse it: a fixed offset is wrong for some dates.
    #[serde(default)]
    utc_offset_hours: Option<i32>,
    years: Vec<YearVersion>,
}

/// The State Corporation's zone (DOMAIN.md §7): UTC+6 until 2024-03-01,
/// UTC+5 since.
pub const DEFAULT_TIME_ZONE: Tz = chrono_tz::Asia::Almaty;

/// Every published version of every year; the highest version of a year is
/// the one in force.
#[derive(Debug, Clone)]
pub struct Calendar {
    zone: Tz,
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
    /// The last instant of that day, in the calendar's local time, with
    /// the UTC offset in force then (`+06:00` before 2024-03-01 in
    /// `Asia/Almaty`, `+05:00` since).
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
            zone: DEFAULT_TIME_ZONE,
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
            return Err(CalendarError::Invalid {
                year: 0,
                message: format!(
                    "utc_offset_hours {h} is not read: a fixed offset is wrong for some \
                     dates (Kazakhstan was UTC+6 until 2024-03-01); name an IANA zone in \
                     \"time_zone\", e.g. \"Asia/Almaty\""
                ),
            });
        }
        if let Some(name) = file.time_zone {
            self.zone = name.parse::<Tz>().map_err(|_| CalendarError::Invalid {
                year: 0,
                message: format!("time_zone {name:?} is not an IANA time-zone name"),
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

    /// The calendar's time zone (IANA).
    pub fn time_zone(&self) -> Tz {
        self.zone
    }

    /// The last instant (to the millisecond) of `day` in the calendar's
    /// time zone, with the offset in force at that instant: the IANA
    /// database's, so `2024-02-16` ends at `23:59:59.999+06:00` in
    /// `Asia/Almaty` and `2024-03-01` at `23:59:59.999+05:00`.
    pub fn day_end(&self, day: NaiveDate) -> DateTime<FixedOffset> {
        self.day_start(day.checked_add_days(Days::new(1)).unwrap_or(NaiveDate::MAX))
            - chrono::Duration::milliseconds(1)
    }

    /// The first instant of `day` in the calendar's time zone. Where a
    /// clock change skips midnight, the day starts at the first local time
    /// that exists; where midnight happens twice, at the earlier.
    pub fn day_start(&self, day: NaiveDate) -> DateTime<FixedOffset> {
        let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
        // A gap is at most a few hours long: step through it by minutes.
        (0..24 * 60)
            .find_map(|m| {
                let local = midnight + chrono::Duration::minutes(m);
                self.zone.from_local_datetime(&local).earliest()
            })
            .map(|t| t.with_timezone(&t.offset().fix()))
            .unwrap_or_else(|| {
                let fix = self.zone.offset_from_utc_datetime(&midnight).fix();
                fix.from_utc_datetime(&midnight)
            })
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

/// Holidays of `year` as (month, day), before moves, by the Law "On
/// holidays in the Republic of Kazakhstan" as amended: 7 May from 2013,
/// 6 July from 2009, 1 December 2012-2021, 17 December until 2021,
/// 25 October from 2022, 30 August until 2025, 15 March from 2027
/// (DOMAIN.md §6). 7 January and Kurban Ait are apart: they never move.
fn statutory_holidays(year: i32) -> Vec<(u32, u32)> {
    let mut h = vec![
        (1, 1),
        (1, 2),
        (3, 8),
        (3, 21),
        (3, 22),
        (3, 23),
        (5, 1),
        (5, 9),
        (12, 16),
    ];
    let dated = [
        ((5, 7), 2013..=i32::MAX),
        ((7, 6), 2009..=i32::MAX),
        ((12, 1), 2012..=2021),
        ((12, 17), i32::MIN..=2021),
        ((10, 25), 2022..=i32::MAX),
        ((8, 30), i32::MIN..=2025),
        ((3, 15), 2027..=i32::MAX),
    ];
    h.extend(
        dated
            .into_iter()
            .filter(|(_, years)| years.contains(&year))
            .map(|(day, _)| day),
    );
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

    /// What the rule cannot know, year by year: Kurban Ait (a lunar date,
    /// when it falls on a weekday) and the Government's transfer decrees
    /// (a weekday off for a weekend worked). Everything else in the data
    /// is the rule; a typo in either shows here.
    #[test]
    fn rule_reproduces_every_published_year_but_kurban_ait_and_decrees() {
        // (year, weekdays off beyond the rule, rule days off the decree gave back)
        let beyond: [(i32, &[&str], &[&str]); 12] = [
            (2016, &["2016-03-07", "2016-09-12"], &[]),
            (2017, &["2017-03-20", "2017-07-07", "2017-09-01"], &[]),
            (
                2018,
                &[
                    "2018-03-09",
                    "2018-04-30",
                    "2018-05-08",
                    "2018-08-21",
                    "2018-08-31",
                    "2018-12-31",
                ],
                &[],
            ),
            (2019, &["2019-05-10"], &[]),
            (
                2020,
                &["2020-01-03", "2020-05-08", "2020-07-31", "2020-12-18"],
                &["2020-05-11"],
            ),
            (2021, &["2021-07-05", "2021-07-20"], &[]),
            (2022, &["2022-03-07", "2022-08-29", "2022-10-24"], &[]),
            (2023, &["2023-06-28", "2023-07-07"], &[]),
            (2024, &["2024-05-08"], &[]),
            (2025, &["2025-01-03", "2025-06-06"], &[]),
            (2026, &["2026-05-27"], &[]),
            (2027, &[], &[]),
        ];
        let cal = Calendar::built_in();
        let years: Vec<i32> = cal.years().map(|v| v.year).collect();
        assert_eq!(years, (2016..=2027).collect::<Vec<_>>());
        for (v, (year, extra, given_back)) in cal.years().zip(beyond) {
            assert_eq!(v.year, year);
            let mut want = derived_days_off(year);
            want.extend(extra.iter().map(|s| d(s)));
            for s in given_back {
                want.remove(&d(s));
            }
            assert_eq!(v.days_off, want, "year {year}");
            assert!(!v.source.is_empty());
        }
    }

    /// Inputs §1: the 2024 decree made Saturday 4 May a working day and
    /// Wednesday 8 May a day off (`cases/wave2/01-…`).
    #[test]
    fn decreed_transfers_decide_deadlines() {
        let cal = Calendar::built_in();
        assert!(cal.is_working_day(d("2024-05-04")));
        assert!(!cal.is_working_day(d("2024-05-08")));
        assert_eq!(
            cal.recording_deadline(d("2024-05-03")).deadline_day,
            d("2024-05-04")
        );
        assert_eq!(
            cal.recording_deadline(d("2024-05-06")).deadline_day,
            d("2024-05-10")
        );
        // Victory Day 2020 (a Saturday) was taken on Friday 8 May, and
        // Monday 11 May was worked.
        assert!(!cal.is_working_day(d("2020-05-08")));
        assert!(cal.is_working_day(d("2020-05-11")));
        // First President Day (1 December) was a holiday 2012-2021 only.
        assert!(!cal.is_working_day(d("2021-12-01")));
        assert!(cal.is_working_day(d("2022-12-01")));
        for year in 2016..=2027 {
            assert!(
                cal.recording_deadline(d(&format!("{year}-06-15")))
                    .from_published_data,
                "{year} has data"
            );
        }
    }

    /// Inputs §1, DOMAIN.md §7: the day ends at local midnight with the
    /// offset of the IANA database at that instant: +06:00 in Almaty until
    /// 2024-03-01, +05:00 since (`cases/wave2/02-…`).
    #[test]
    fn day_ends_follow_the_time_zone_history() {
        let cal = Calendar::built_in();
        let dl = cal.recording_deadline(d("2024-02-15"));
        assert_eq!(dl.deadline_day, d("2024-02-16"));
        assert_eq!(dl.deadline.to_rfc3339(), "2024-02-16T23:59:59.999+06:00");
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert!(dl.is_late(at("2024-02-16T18:30:00Z")));
        assert!(!dl.is_late(at("2024-02-16T17:59:59Z")));
        // The change: at 2024-03-01 00:00+06:00 the clocks went back to
        // 2024-02-29 23:00+05:00, so 29 February had 25 hours and ended at
        // the second 23:59:59.999, in +05:00.
        assert_eq!(
            cal.day_end(d("2024-02-28")).to_rfc3339(),
            "2024-02-28T23:59:59.999+06:00"
        );
        assert_eq!(
            cal.day_end(d("2024-02-29")).to_rfc3339(),
            "2024-02-29T23:59:59.999+05:00"
        );
        assert_eq!(
            cal.day_end(d("2024-03-01")).to_rfc3339(),
            "2024-03-01T23:59:59.999+05:00"
        );
        assert_eq!(
            cal.day_start(d("2024-03-01")).to_rfc3339(),
            "2024-03-01T00:00:00+05:00"
        );
        // Every day of 2016-2027 ends at local midnight, in +06:00 until
        // the change and +05:00 from its 25-hour day on.
        let mut day = d("2016-01-01");
        while day < d("2028-01-01") {
            let end = cal.day_end(day);
            assert_eq!(
                end.naive_local().time().to_string(),
                "23:59:59.999",
                "{day}"
            );
            let want = if day < d("2024-02-29") { 6 } else { 5 } * 3600;
            assert_eq!(end.offset().local_minus_utc(), want, "{day}");
            day = day.succ_opt().unwrap();
        }
        // A deployment's own zone, by name; a fixed offset is refused.
        let tashkent =
            Calendar::with_overrides(r#"{"time_zone":"Asia/Tashkent","years":[]}"#).unwrap();
        assert_eq!(
            tashkent.day_end(d("2024-02-16")).to_rfc3339(),
            "2024-02-16T23:59:59.999+05:00"
        );
        let fixed = Calendar::with_overrides(r#"{"utc_offset_hours":5,"years":[]}"#);
        assert!(fixed.unwrap_err().to_string().contains("IANA"));
        assert!(Calendar::with_overrides(r#"{"time_zone":"Mars/Olympus","years":[]}"#).is_err());
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
        assert_eq!(
            cal.version_tag(),
            "2016:v1 2017:v1 2018:v1 2019:v1 2020:v1 2021:v1 2022:v1 2023:v1 2024:v1 2025:v1 \
             2026:v2 2027:v1"
        );
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
        assert!(!cal.recording_deadline(d("2028-05-03")).from_published_data);
        // 2028 has no data: by the rule Constitution Day is 15 March (a
        // Wednesday) and 30 August (a Wednesday) is no longer a holiday.
        assert_eq!(cal.working_day(d("2028-03-15")), (false, false));
        assert_eq!(cal.working_day(d("2028-08-30")), (true, false));
        assert_eq!(
            cal.recording_deadline(d("2028-03-14")).deadline_day,
            d("2028-03-16")
        );
    }

    #[test]
    fn overrides_add_versions() {
        let json = r#"{"years":[{"year":2028,"version":1,"published_on":"2027-11-01",
            "source":"test decree","days_off":["2028-01-03"],"working_weekends":["2028-01-08"]}]}"#;
        let cal = Calendar::with_overrides(json).unwrap();
        assert!(cal.is_working_day(d("2028-01-08")));
        assert!(cal.working_day(d("2028-01-04")).1);
        let bad = r#"{"years":[{"year":2028,"version":1,"published_on":"2027-11-01",
            "source":"x","days_off":["2028-01-01"]}]}"#;
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
