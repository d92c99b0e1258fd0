//! Notices to payers (`proto/si/ledger/v1/notices.proto`): what the ledger
//! decided about a payer's line (returned, Rules §6) or refund request
//! (accepted or refused, seed `003_…`). Pure: a history entry gives the
//! same notice bytes every time it is decided, so a replay or redelivery
//! republishes identical records.

use crate::v1 as pb;
use ledger_core::{Outcome, Position};
use prost::Message as _;
use std::collections::BTreeMap;

/// Whether a record with this event and outcome gives a notice: a
/// returned line, or a decided refund. Cheap: the projector asks it of
/// every record before building the few notices there are.
pub fn due(event: &ledger_core::Event, outcome: &Outcome) -> bool {
    use ledger_core::Event;
    if let Event::MergeTransfer(t) = event {
        // A record redirected after a merge is decided here for the first
        // time; one taken over with the history was noticed when decided.
        return match (&t.original, t.redirected) {
            (Some(o), true) => due(&o.event, outcome),
            _ => false,
        };
    }
    matches!(
        (event, outcome),
        (Event::ContributionPaid(_), Outcome::Returned { .. })
            | (
                Event::ContributionRefunded(_),
                Outcome::Applied { .. } | Outcome::Refused { .. }
            )
    )
}

/// The notice a decided record gives its payer, if any: a returned line,
/// or a refund request accepted or refused. `canonical` is the record's
/// canonical envelope bytes as the store keeps them.
pub fn notice(
    canonical: &[u8],
    outcome: &Outcome,
    position: Position,
    recorded_at_ms: i64,
) -> Option<pb::Notice> {
    use pb::envelope::Payload as P;
    let kind = match outcome {
        Outcome::Returned { .. } => pb::NoticeKind::LineReturned,
        Outcome::Applied { .. } => pb::NoticeKind::RefundAccepted,
        Outcome::Refused { .. } => pb::NoticeKind::RefundRefused,
        Outcome::Duplicate | Outcome::Conflict { .. } | Outcome::Redirected { .. } => return None,
    };
    let mut envelope = pb::Envelope::decode(canonical).ok()?;
    if let Some(P::MergeTransfer(t)) = &envelope.payload {
        // Taken over with a merged history: noticed when first decided.
        if !t.redirected {
            return None;
        }
        // Redirected after a merge: the payer's own record, decided on the
        // identifier it was redirected to.
        let original = pb::Envelope::decode(t.original.as_slice()).ok()?;
        envelope.payload = original.payload;
    }
    let mut n = pb::Notice {
        notice_id: envelope.event_id,
        kind: kind as i32,
        iin: envelope.iin,
        reason: outcome.reason().unwrap_or_default().to_string(),
        partition: position.partition,
        offset: position.offset,
        recorded_at_ms,
        ..Default::default()
    };
    match (envelope.payload?, kind) {
        (P::Contribution(c), pb::NoticeKind::LineReturned) => {
            let payment = c.payment?;
            n.payer_id = payment.payer_id.clone();
            n.ppc = payment.ppc.clone();
            n.payment = Some(payment);
            n.period = c.period;
            n.amount = c.amount;
        }
        (P::Refund(r), pb::NoticeKind::RefundAccepted | pb::NoticeKind::RefundRefused) => {
            n.payer_id = r.payer_id;
            n.ppc = r.refunded_ppc;
            n.payment = r.payment;
            n.period = r.period;
            n.amount = r.amount;
            n.application_id = r.application_id;
            n.application_size = r.application_size;
        }
        _ => return None,
    }
    Some(n)
}

/// A notice as a `<topic>.notices` record: keyed by payer id.
pub fn record(n: &pb::Notice) -> (Vec<u8>, Vec<u8>) {
    (n.payer_id.as_bytes().to_vec(), n.encode_to_vec())
}

pub fn decode(value: &[u8]) -> Result<pb::Notice, String> {
    pb::Notice::decode(value).map_err(|e| format!("notice: {e}"))
}

/// Where a refund application stands, from its notices.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApplicationStatus {
    pub application_id: String,
    pub payer_id: String,
    /// Employees the application names (0 if no notice said).
    pub employees: u32,
    pub decided: u32,
    pub accepted: u32,
    pub refused: u32,
    /// The sum of the accepted refunds.
    pub accepted_amount: String,
    /// Every request decided so far: all, when `decided == employees`.
    pub complete: bool,
    /// Each decided request: (notice id, IIN masked, period, amount,
    /// decision, reason).
    pub decisions: Vec<Decision>,
    /// Decisions under this application id that are not part of it: a
    /// notice naming another payer or size than the application's first
    /// request, or a request beyond the size it names (an id reused for
    /// another application, seed `003_…`). Never counted in `decided`.
    pub foreign: Vec<Decision>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Decision {
    pub notice_id: String,
    pub iin: String,
    pub period: String,
    pub amount: String,
    pub decision: &'static str,
    pub reason: String,
}

/// Folds notices (in any order, repeats allowed) into the status of
/// `application_id`; `None` if no notice names it.
pub fn application_status<'a>(
    application_id: &str,
    notices: impl IntoIterator<Item = &'a pb::Notice>,
) -> Result<Option<ApplicationStatus>, String> {
    // One per decision: a repeat of one (the same id, participant and
    // source record) is a republished copy; the same id decided for
    // another participant or from another record is another decision (an
    // id reused), kept and listed apart below. Ordered by length, then id
    // (`<application>/2` before `<application>/10`), then by when the
    // decided record was logged: the first decision of an id counts.
    type Key<'k> = (usize, &'k str, i64, u32, u64, &'k str);
    let mut by_id: BTreeMap<Key<'_>, &pb::Notice> = BTreeMap::new();
    for n in notices {
        if n.application_id == application_id {
            by_id
                .entry((
                    n.notice_id.len(),
                    n.notice_id.as_str(),
                    n.recorded_at_ms,
                    n.partition,
                    n.offset,
                    n.iin.as_str(),
                ))
                .or_insert(n);
        }
    }
    let Some(first) = by_id.values().next() else {
        return Ok(None);
    };
    let mut s = ApplicationStatus {
        application_id: application_id.to_string(),
        payer_id: first.payer_id.clone(),
        employees: first.application_size,
        decided: 0,
        accepted: 0,
        refused: 0,
        accepted_amount: String::new(),
        complete: false,
        decisions: Vec::new(),
        foreign: Vec::new(),
    };
    let mut sum = ledger_core::Money::ZERO;
    for n in by_id.values() {
        let accepted = n.kind == pb::NoticeKind::RefundAccepted as i32;
        let decision = Decision {
            notice_id: n.notice_id.clone(),
            iin: ledger_core::mask_id(&n.iin),
            period: n.period.clone(),
            amount: n.amount.clone(),
            decision: if accepted { "accepted" } else { "refused" },
            reason: n.reason.clone(),
        };
        // `<application>/<n>`, n within the size: how its requests are named.
        let numbered = n
            .notice_id
            .strip_prefix(application_id)
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(|k| k.parse::<u32>().ok())
            .is_some_and(|k| (1..=s.employees).contains(&k));
        if n.payer_id != s.payer_id
            || n.application_size != s.employees
            || (s.employees > 0 && (s.decided >= s.employees || !numbered))
        {
            s.foreign.push(decision);
            continue;
        }
        s.decided += 1;
        if accepted {
            s.accepted += 1;
            let amount = ledger_core::Money::parse(&n.amount)
                .map_err(|e| format!("notice {}: amount: {e}", n.notice_id))?;
            sum = sum
                .checked_add(amount)
                .ok_or("the accepted sum overflows")?;
        } else {
            s.refused += 1;
        }
        s.decisions.push(decision);
    }
    s.accepted_amount = sum.to_string();
    s.complete = s.employees > 0 && s.decided >= s.employees;
    Ok(Some(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decided(n: u32, accepted: bool, amount: &str) -> pb::Notice {
        pb::Notice {
            notice_id: format!("APP-1/{n}"),
            kind: if accepted {
                pb::NoticeKind::RefundAccepted
            } else {
                pb::NoticeKind::RefundRefused
            } as i32,
            payer_id: "150340000179".into(),
            iin: "900517400015".into(),
            amount: amount.into(),
            application_id: "APP-1".into(),
            application_size: 10,
            ..Default::default()
        }
    }

    #[test]
    fn status_counts_each_request_once_in_its_order() {
        // Request 7 is not decided yet.
        let mut all: Vec<pb::Notice> = (1..=10)
            .filter(|n| *n != 7)
            .map(|n| decided(n, n != 2, "10.00"))
            .collect();
        all.reverse();
        all.push(decided(3, true, "10.00")); // a republished copy
        let s = application_status("APP-1", &all).unwrap().unwrap();
        let order: Vec<&str> = s.decisions.iter().map(|d| d.notice_id.as_str()).collect();
        assert_eq!(order[..3], ["APP-1/1", "APP-1/2", "APP-1/3"]);
        assert_eq!(order[8], "APP-1/10");
        assert_eq!((s.decided, s.accepted, s.refused), (9, 8, 1));
        assert_eq!(s.accepted_amount, "80.00");
        assert!(!s.complete, "9 of 10 decided");
        assert_eq!(s.decisions[0].iin, "9005******15");
        assert_eq!(application_status("APP-2", &all).unwrap(), None);
    }

    #[test]
    fn the_same_request_id_decided_for_two_participants_is_two_decisions() {
        // Found by the attack on issue 26: a request id published again for
        // another employee (behind an open transaction, `refund apply`'s
        // check did not see the first) was hidden as a "republished copy".
        let mut one = decided(1, true, "1000.00");
        one.application_size = 1;
        one.offset = 10;
        let copy = one.clone(); // republished: same record, same decision
        let mut other = one.clone();
        other.iin = "881204400022".into();
        other.offset = 57;
        let s = application_status("APP-1", &[one, copy, other])
            .unwrap()
            .unwrap();
        assert_eq!((s.decided, s.accepted), (1, 1));
        assert_eq!(s.foreign.len(), 1, "the second decision is listed apart");
        assert_eq!(s.foreign[0].iin, "8812******22");
    }

    #[test]
    fn status_never_counts_more_decided_than_requested() {
        // Wave 3, case 3: APP-1 named one employee; a reuse of its id for a
        // two-employee application (another size) and an eleventh request
        // are listed apart, not counted.
        let mut one = decided(1, true, "100.00");
        one.application_size = 1;
        let mut reused = decided(2, true, "5000.00");
        reused.application_size = 2;
        let mut extra = decided(3, false, "1.00");
        extra.application_size = 1;
        let mut odd = decided(1, true, "1.00");
        odd.application_size = 1;
        odd.notice_id = "APP-1/x".into();
        let s = application_status("APP-1", &[reused, extra, odd, one])
            .unwrap()
            .unwrap();
        assert_eq!((s.decided, s.employees, s.accepted), (1, 1, 1));
        assert_eq!(s.accepted_amount, "100.00");
        assert!(s.complete);
        let foreign: Vec<&str> = s.foreign.iter().map(|d| d.notice_id.as_str()).collect();
        assert_eq!(foreign, ["APP-1/2", "APP-1/3", "APP-1/x"]);
    }
}
