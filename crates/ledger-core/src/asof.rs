//! Bitemporal views: an account as the ledger knew it on one day, counting
//! only what was effective by another. "What did the ledger say about March
//! on 10 April?" is `as_known(…, as_of = 31 March, known_by = the end of
//! 10 April)`,
//! and stays answerable after later corrections, because it is recomputed
//! from the recorded history rather than read from today's state.

use crate::{apply, Account, Context, Envelope, Event, EventId, Iin, Recorded};
use chrono::{DateTime, NaiveDate, Utc};
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
            // Once known, a merge counts for every day: the two identifiers
            // were always one person, and a line that came after the close
            // counts where it was redirected, never on both.
            Event::Merged(_) => NaiveDate::MIN,
            // What the old identifier held counts from its own dates (one
            // person's history); the opening record always counts.
            Event::MergeTransfer(t) => match &t.original {
                None => NaiveDate::MIN,
                Some(o) if matches!(o.event, Event::Merged(_)) => NaiveDate::MIN,
                Some(o) => o.event.effective_on(),
            },
        }
    }
}

/// The account of `iin` recomputed from its recorded history (in log
/// order), keeping only records logged by `known_by` (for "as known on a
/// day": `Calendar::day_end` of it) whose events
/// are effective on or before `as_of`. Duplicates and conflicts are judged
/// among the kept records alone.
pub fn as_known<'a>(
    ctx: &Context,
    iin: Iin,
    history: impl IntoIterator<Item = &'a Recorded<Envelope>>,
    as_of: NaiveDate,
    known_by: DateTime<Utc>,
) -> Account {
    let mut account = Account::new(iin);
    let mut seen: HashMap<&EventId, crate::authority::FirstSeen> = HashMap::new();
    for r in history {
        if r.timestamp > known_by || r.event.event.effective_on() > as_of {
            continue;
        }
        let first = seen.entry(&r.event.event_id).or_default();
        let prior = first.prior(&r.event.event);
        let _ = apply(ctx, &mut account, r, prior);
        if !r.authorization.is_unauthorized() {
            first.note(&r.event.event, r.content_hash);
        }
    }
    account
}
