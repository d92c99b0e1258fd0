//! Bitemporal views: an account as the ledger knew it on one day, counting
//! only what was effective by another. "What did the ledger say about March
//! on 10 April?" is `as_known(…, as_of = 31 March, known_on = 10 April)`,
//! and stays answerable after later corrections, because it is recomputed
//! from the recorded history rather than read from today's state.

use crate::{apply, Account, ContentHash, Context, Envelope, Event, EventId, Iin, Recorded};
use chrono::{DateTime, Days, FixedOffset, NaiveDate, TimeZone, Utc};
use std::collections::HashMap;

impl Event {
    /// The day from which an event counts in an as-of view: the first day
    /// of its period for period-bearing events, otherwise its own effective
    /// or decision date; register data without a date always counts.
    pub fn effective_on(&self) -> NaiveDate {
        let first = |p: &crate::Period| p.first_day();
        match self {
            Event::ContributionPaid(c) => first(&c.period),
            Event::ContributionRefunded(r) => first(&r.period),
            Event::BenefitAssigned(b) => first(&b.start_period),
            Event::BenefitStatusChanged(s) => s.effective_on,
            Event::BenefitPaid(b) => first(&b.period),
            Event::BenefitReturned(b) => first(&b.period),
            Event::PersonRegistered(x) | Event::PersonDataChanged(x) => {
                x.effective_on.unwrap_or(NaiveDate::MIN)
            }
        }
    }
}

/// The first instant after `day` ends in Astana (+05:00): records logged
/// before it were known on `day`.
pub fn end_of_day_astana(day: NaiveDate) -> DateTime<Utc> {
    let astana = FixedOffset::east_opt(5 * 3600).expect("+05:00 is a valid offset");
    let next = day.checked_add_days(Days::new(1)).unwrap_or(NaiveDate::MAX);
    astana
        .from_local_datetime(&next.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .single()
        .map_or(DateTime::<Utc>::MAX_UTC, |t| t.with_timezone(&Utc))
}

/// The account of `iin` recomputed from its recorded history (in log
/// order), keeping only records logged before `known_before` whose events
/// are effective on or before `as_of`. Duplicates and conflicts are judged
/// among the kept records alone.
pub fn as_known<'a>(
    ctx: &Context,
    iin: Iin,
    history: impl IntoIterator<Item = &'a Recorded<Envelope>>,
    as_of: NaiveDate,
    known_before: DateTime<Utc>,
) -> Account {
    let mut account = Account::new(iin);
    let mut seen: HashMap<&EventId, ContentHash> = HashMap::new();
    for r in history {
        if r.timestamp >= known_before || r.event.event.effective_on() > as_of {
            continue;
        }
        let prior = seen.get(&r.event.event_id).copied();
        let _ = apply(ctx, &mut account, r, prior);
        seen.entry(&r.event.event_id).or_insert(r.content_hash);
    }
    account
}
