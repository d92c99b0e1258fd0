//! Which months may be closed: a month that has ended, in the calendar's
//! time zone, and that the ledger can hold (not before its epoch). Pure:
//! the instant a close is judged at is an input (`close-month` gives the
//! wall clock, which its markers carry; the projector the marker's own
//! record time, the same on every partition).

use crate::{Calendar, Period};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The back-office overrides of a close, recorded in its marker
/// (`MonthClosed.allow_unended`, `allow_before_epoch`): each lets one
/// refusal of [`check_close`] through, on the operator's word.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CloseOverrides {
    /// Close a month that has not ended when the close is judged.
    pub unended: bool,
    /// Close a month that ended before the ledger's epoch.
    pub before_epoch: bool,
}

/// The first instant after `period`, in UTC: the start of the next month's
/// first day in the calendar's zone (Asia/Almaty: UTC+6 before 1 March
/// 2024, UTC+5 since).
pub fn period_end(calendar: &Calendar, period: Period) -> DateTime<Utc> {
    calendar
        .day_start(period.next().first_day())
        .with_timezone(&Utc)
}

/// Why `period` may not be closed at `at` in a ledger whose epoch is
/// `epoch`, unless `allow` overrides it: it has not ended (a month closed
/// early reports as an empty month, and its real lines then as
/// restatements of it), or it ended before the epoch (the ledger takes no
/// record of it: inputs §4).
pub fn check_close(
    calendar: &Calendar,
    epoch: DateTime<Utc>,
    period: Period,
    at: DateTime<Utc>,
    allow: CloseOverrides,
) -> Result<(), String> {
    let end = period_end(calendar, period);
    let show = |t: DateTime<Utc>| {
        t.with_timezone(&calendar.time_zone())
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    };
    if end <= epoch && !allow.before_epoch {
        return Err(format!(
            "{period} ended before the ledger's epoch {}: the ledger holds no record of it \
             (--allow-before-epoch to close it anyway)",
            show(epoch)
        ));
    }
    if at < end && !allow.unended {
        return Err(format!(
            "{period} has not ended: it ends at {} ({}), and the close is judged at {} \
             (--allow-unended to close it anyway)",
            show(end),
            calendar.time_zone(),
            show(at)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn check(period: &str, at: &str, allow: CloseOverrides) -> Result<(), String> {
        check_close(
            &Calendar::built_in(),
            utc("1999-12-31T18:00:00Z"), // 2000-01-01 00:00 in Almaty (UTC+6)
            Period::parse(period).unwrap(),
            utc(at),
            allow,
        )
    }

    #[test]
    fn a_month_closes_from_the_first_instant_after_it_in_almaty() {
        let none = CloseOverrides::default();
        // 2025-06 ends at 2025-07-01 00:00+05:00 = 2025-06-30T19:00Z.
        let err = check("2025-06", "2025-06-30T18:59:59.999Z", none).unwrap_err();
        assert!(err.contains("2025-06 has not ended"), "{err}");
        assert!(err.contains("2025-07-01T00:00:00+05:00"), "{err}");
        assert!(check("2025-06", "2025-06-30T19:00:00Z", none).is_ok());
        // Before March 2024 Almaty was UTC+6: 2024-01 ends at 18:00Z.
        assert!(check("2024-01", "2024-01-31T17:59:59Z", none).is_err());
        assert!(check("2024-01", "2024-01-31T18:00:00Z", none).is_ok());
        // Years ahead, as case 10's 2031-06.
        assert!(check("2031-06", "2026-12-06T10:00:00Z", none).is_err());
        let allowed = CloseOverrides {
            unended: true,
            ..none
        };
        assert!(check("2031-06", "2026-12-06T10:00:00Z", allowed).is_ok());
    }

    #[test]
    fn a_month_before_the_epoch_is_refused_unless_overridden() {
        let none = CloseOverrides::default();
        let err = check("1999-01", "2026-12-06T10:00:00Z", none).unwrap_err();
        assert!(err.contains("before the ledger's epoch"), "{err}");
        // The month that ends at the epoch is before it; the epoch's own
        // month is the ledger's first.
        assert!(check("1999-12", "2026-12-06T10:00:00Z", none).is_err());
        assert!(check("2000-01", "2026-12-06T10:00:00Z", none).is_ok());
        let allowed = CloseOverrides {
            before_epoch: true,
            ..none
        };
        assert!(check("1999-01", "2026-12-06T10:00:00Z", allowed).is_ok());
    }
}
