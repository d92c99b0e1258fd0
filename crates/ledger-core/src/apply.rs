//! `apply`: the one function that decides what an event does to an account.
//! Pure: no clock, no I/O; the log timestamp and the calendar are inputs.

use crate::account::{
    BenefitRecord, BenefitState, Day, LatePaid, MergeRecord, PayerKey, PersonRecord,
    RefundApplication, RefundedLine, Rejection,
};
use crate::entitlement::{Parameters, Request};
use crate::{
    Account, BenefitAssigned, BenefitPaid, BenefitStatusChanged, Calendar, ContentHash,
    ContributionPaid, ContributionRefunded, Envelope, Event, IdentifierMerged, Iin, MergeTransfer,
    Money, Period, PersonData, Ppc, RecordTimes, Recorded,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What the ledger knows besides the account itself.
#[derive(Debug, Clone)]
pub struct Context {
    pub calendar: Calendar,
    /// What a contribution line for an IIN the state register has not
    /// spoken for gets (Rules §6). A deployment's choice: it must stay the
    /// same for the life of a log, or replays decide differently.
    pub unknown_iin: UnknownIin,
    /// Dated rates and minimum wages, for checking benefit assignments
    /// against the contributions (DOMAIN §5).
    pub parameters: Parameters,
    /// Which record times the ledger takes (inputs §4). A deployment's
    /// choice, fixed for the life of a log like `unknown_iin`.
    pub record_times: RecordTimes,
    /// Who may publish privileged records ([`crate::authority`]): the
    /// deployment's trust file, fixed in what it decides for a log's life
    /// (a later file only extends it, [`crate::authority::Trust::follows`]).
    pub trust: crate::Policy,
}

/// The policy for lines whose IIN the register does not know (yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownIin {
    /// Credit the line and count it in the account's `unregistered_lines`
    /// for review: the register's feed may lag the banks'.
    #[default]
    AcceptAndFlag,
    /// Return the line to its payer, as a discrepancy with the register.
    Return,
}

impl Default for Context {
    fn default() -> Self {
        let calendar = Calendar::built_in();
        let record_times = RecordTimes {
            epoch: calendar
                .day_start(DEFAULT_EPOCH)
                .with_timezone(&chrono::Utc),
            after_max_ms: RecordTimes::DEFAULT_AFTER_MAX_MS,
        };
        Context {
            calendar,
            unknown_iin: UnknownIin::default(),
            parameters: Parameters::built_in(),
            record_times,
            trust: crate::Policy::Open,
        }
    }
}

/// The default epoch: no record of the ledger is older (inputs §4).
pub const DEFAULT_EPOCH: chrono::NaiveDate = match chrono::NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(d) => d,
    None => panic!("a valid date"),
};

/// What happened to one record. Every record gets exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Credited or recorded. `late` for contribution lines logged after their
    /// recording deadline (Rules §7).
    Applied { late: bool },
    /// A contribution line that disagrees with the register, returned to the
    /// payer (Rules §6): recorded, never credited.
    Returned { reason: String, late: bool },
    /// A business refusal, recorded with its reason; no balance changes.
    Refused { reason: String },
    /// The same event id with the same content again: no effect.
    Duplicate,
    /// The same event id with different content: no effect, dead-lettered.
    Conflict { reason: String },
    /// A record for an identifier merged into another, after its close:
    /// no effect here; the projector hands it to `into` (seed `002_…`).
    Redirected { into: Iin },
}

impl Outcome {
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Applied { .. } => "applied",
            Outcome::Returned { .. } => "returned",
            Outcome::Refused { .. } => "refused",
            Outcome::Duplicate => "duplicate",
            Outcome::Conflict { .. } => "conflict",
            Outcome::Redirected { .. } => "redirected",
        }
    }
    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Returned { reason, .. }
            | Outcome::Refused { reason }
            | Outcome::Conflict { reason } => Some(reason),
            _ => None,
        }
    }
    /// A privileged record refused for want of an authority's signature
    /// ([`crate::authority`]): it claims nothing, not even its event id.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Outcome::Refused { reason } if reason.starts_with(crate::authority::UNAUTHORIZED))
    }

    pub fn is_late(&self) -> bool {
        matches!(
            self,
            Outcome::Applied { late: true } | Outcome::Returned { late: true, .. }
        )
    }
}

/// Applies one recorded event to its participant's account.
///
/// `prior` is the content hash already stored under this event id, if any
/// (the caller looks it up in the event-id index). The account's IIN must be
/// the envelope's; the projector routes by it.
pub fn apply(
    ctx: &Context,
    account: &mut Account,
    rec: &Recorded<Envelope>,
    prior: Option<ContentHash>,
) -> Outcome {
    debug_assert_eq!(account.iin, rec.event.iin, "routed to the wrong account");
    account.history_len += 1;
    // Issue 15: a privileged record without an authority's valid signature
    // is recorded as refused and claims nothing, not even its event id
    // (`Outcome::is_unauthorized`: the projector's duplicate check passes
    // over it), so a forgery published first cannot make the genuine
    // record a duplicate or a conflict.
    if let crate::Authorization::Unauthorized(reason) = &rec.authorization {
        account.rejections.push(Rejection {
            event_id: rec.event.event_id.clone(),
            reason: reason.clone(),
        });
        return Outcome::Refused {
            reason: reason.clone(),
        };
    }
    let transfer = matches!(rec.event.event, Event::MergeTransfer(_));
    let outcome = match prior {
        // A transfer under an id the account already holds: the record is
        // here already (sent again after a crash, or published for both
        // identifiers before the merge). Never counted twice.
        Some(h) if h == rec.content_hash || transfer => {
            account.duplicates_ignored += 1;
            Outcome::Duplicate
        }
        Some(_) => Outcome::Conflict {
            reason: format!(
                "event id {} was already recorded with different content",
                rec.event.event_id
            ),
        },
        None => match &account.merged_into {
            // Seed `002_…`: the old identifier takes nothing after its
            // close; what still comes for it goes to the one it became.
            Some(m) if !matches!(rec.event.event, Event::Merged(_)) => {
                Outcome::Redirected { into: m.other }
            }
            _ => decide(ctx, account, rec),
        },
    };
    if let Some(reason) = outcome.reason() {
        account.rejections.push(Rejection {
            event_id: rec.event.event_id.clone(),
            reason: reason.to_string(),
        });
    }
    if outcome.is_late() {
        account.late_recordings += 1;
    }
    outcome
}

fn refused(reason: impl Into<String>) -> Outcome {
    Outcome::Refused {
        reason: reason.into(),
    }
}

const OVERFLOW: &str = "amount would overflow the account's totals";

fn decide(ctx: &Context, account: &mut Account, rec: &Recorded<Envelope>) -> Outcome {
    match &rec.event.event {
        Event::ContributionPaid(c) => contribution(ctx, account, rec.timestamp, None, c),
        Event::ContributionRefunded(r) => refund_request(account, &rec.event.event_id, r),
        Event::BenefitAssigned(b) => {
            if account.benefits.contains_key(&b.benefit_id) {
                return refused(format!("benefit {} is already assigned", b.benefit_id));
            }
            let discrepancies = discrepancies(ctx, account, b);
            account.benefits.insert(
                b.benefit_id.clone(),
                BenefitRecord {
                    benefit_type: b.benefit_type,
                    state: BenefitState::Assigned,
                    monthly_amount: b.monthly_amount,
                    start_period: b.start_period,
                    end_period: b.end_period,
                    applied_on: b.applied_on,
                    changes: Vec::new(),
                    paid_total: Money::ZERO,
                    pension_withheld_total: Money::ZERO,
                    returned_total: Money::ZERO,
                    payments: 0,
                    paid_by_period: std::collections::BTreeMap::new(),
                    discrepancies,
                },
            );
            Outcome::Applied { late: false }
        }
        Event::BenefitStatusChanged(s) => match account.benefits.get_mut(&s.benefit_id) {
            None => refused(format!("benefit {} is not assigned", s.benefit_id)),
            Some(b) => status_change(b, s),
        },
        Event::BenefitPaid(p) => benefit_paid(account, p),
        Event::BenefitReturned(r) => match account.benefits.get_mut(&r.benefit_id) {
            None => refused(format!("benefit {} is not assigned", r.benefit_id)),
            Some(b) => {
                // Rules §12.25: an overpayment returned to the Fund; more
                // than was paid out cannot come back.
                let Some(total) = b.returned_total.checked_add(r.amount) else {
                    return refused(OVERFLOW);
                };
                if total > b.paid_total {
                    return refused(format!(
                        "return of {} would bring the returns of benefit {} to {total}, more than the {} paid",
                        r.amount, r.benefit_id, b.paid_total
                    ));
                }
                b.returned_total = total;
                if let Some(net) = b.paid_by_period.get_mut(&r.period) {
                    *net = net
                        .checked_sub(r.amount)
                        .unwrap_or(Money::ZERO)
                        .max(Money::ZERO);
                }
                Outcome::Applied { late: false }
            }
        },
        Event::PersonRegistered(p) | Event::PersonDataChanged(p) => {
            // Kept once, in the register's history; what a line said of
            // the person is no longer needed.
            account.person = None;
            account.register.push(p.clone());
            Outcome::Applied { late: false }
        }
        Event::Merged(m) => merge_close(account, rec, m),
        Event::MergeTransfer(t) => merge_transfer(ctx, account, rec, t),
    }
}

/// Seeds `001_…`, `002_…`: the closing record of an identifier found to be
/// a duplicate of another. The account keeps its history and figures as
/// they were; from here on it takes nothing (see [`apply`]).
fn merge_close(account: &mut Account, rec: &Recorded<Envelope>, m: &IdentifierMerged) -> Outcome {
    if m.into == account.iin {
        return refused("an identifier cannot be merged into itself");
    }
    if let Some(done) = &account.merged_into {
        return refused(format!(
            "already merged into {} by {}",
            done.other.masked(),
            done.event_id
        ));
    }
    account.merged_into = Some(MergeRecord {
        other: m.into,
        event_id: rec.event.event_id.clone(),
        reason: m.reason.clone(),
        decided_on: Day(m.decided_on),
        position: rec.position,
    });
    Outcome::Applied { late: false }
}

/// The new identifier's side of a merge: the opening record, then each
/// record the old account had applied (taken over with its effect, not
/// judged again: it was judged when it came), then each record that came
/// for the old identifier after its close (judged here, as if it had come
/// here).
fn merge_transfer(
    ctx: &Context,
    account: &mut Account,
    rec: &Recorded<Envelope>,
    t: &MergeTransfer,
) -> Outcome {
    // The opening: the merge's closing record itself (issue 15: signed by
    // the operator), or nothing where no trust file asks for it.
    let opening = match &t.original {
        None => true,
        Some(o) => match &o.event {
            Event::Merged(m) => {
                if o.iin != t.from || m.into != account.iin || o.event_id != t.merge_event_id {
                    return refused(format!(
                        "the merge record merge {} carries is another merge's",
                        t.merge_event_id
                    ));
                }
                true
            }
            _ => false,
        },
    };
    let original = match (&t.original, opening) {
        (Some(o), false) => o,
        _ => {
            if account
                .merged_from
                .iter()
                .any(|m| m.event_id == t.merge_event_id)
            {
                return refused(format!("merge {} is already open", t.merge_event_id));
            }
            account.merged_from.push(MergeRecord {
                other: t.from,
                event_id: t.merge_event_id.clone(),
                reason: t.reason.clone(),
                decided_on: Day(t.decided_on),
                position: rec.position,
            });
            return Outcome::Applied { late: false };
        }
    };
    if !account
        .merged_from
        .iter()
        .any(|m| m.event_id == t.merge_event_id && m.other == t.from)
    {
        return refused(format!(
            "merge {} was not opened on this account",
            t.merge_event_id
        ));
    }
    // A transfer carries a record under that record's own id (so a record
    // handed over twice is a duplicate), and a privileged one only if it
    // is the old identifier's own: the projector's key cannot move another
    // person's register or Fund record. (A record an earlier merge handed
    // to the old identifier keeps its first owner's IIN: a bank's line
    // goes on, a privileged one stops there; docs/authority.md.)
    let foreign = original.iin != t.from && crate::authority::is_privileged(original.event.kind());
    if foreign || original.event_id != rec.event.event_id {
        return refused(format!(
            "merge {} carries a record that is not {}'s own under its id",
            t.merge_event_id,
            t.from.masked()
        ));
    }
    match &original.event {
        Event::ContributionPaid(c) if !t.redirected => {
            // Credited when it came: taken over as credited, on time.
            credit(account, c, false, true)
        }
        Event::ContributionRefunded(r) if !t.redirected => {
            // Decided on the old identifier; its application is this
            // person's too, so a reuse of its id here is judged against it.
            if r.application_size > 0 {
                let known = account
                    .refund_applications
                    .entry(r.application_id.clone())
                    .or_insert_with(|| RefundApplication::of(r));
                known.requests += 1;
                known.periods.push(r.period);
            }
            refund(account, r, true)
        }
        Event::ContributionPaid(c) => {
            contribution(ctx, account, t.recorded_at, Some(original.iin), c)
        }
        Event::Merged(_) | Event::MergeTransfer(_) => {
            refused("a merge record cannot itself be transferred")
        }
        _ => {
            // The transfer's own signature (the projector's) vouches for
            // the original, which the old account judged when it came.
            let inner = Recorded {
                position: t.from_position,
                timestamp: t.recorded_at,
                content_hash: rec.content_hash,
                event: original.clone(),
                authorization: rec.authorization.clone(),
            };
            decide(ctx, account, &inner)
        }
    }
}

/// DOMAIN §5: where an assignment's figures differ from what the ledger
/// computes from the contributions as of the application date. Flagged for
/// review; the Fund's figures stand. A figure the Fund left out (zero or
/// empty) is not compared.
fn discrepancies(ctx: &Context, account: &Account, b: &BenefitAssigned) -> Vec<String> {
    let req = Request {
        benefit_type: b.benefit_type,
        as_of: b.applied_on,
        risk_date: b.risk_date,
        dependants: b.dependants,
        capacity_loss_percent: b.work_capacity_loss_percent,
        leave_days: b.leave_days,
    };
    let e = match crate::entitlement(account, &ctx.parameters, &req) {
        Ok(e) => e,
        Err(why) => return vec![format!("cannot be checked: {why}")],
    };
    let mut out = Vec::new();
    if b.participation_months != 0 && b.participation_months != e.participation_months {
        out.push(format!(
            "participation_months {} differs from the ledger's {}",
            b.participation_months, e.participation_months
        ));
    }
    if let Some(avg) = b.average_monthly_income {
        if avg != e.average_monthly_income {
            out.push(format!(
                "average_monthly_income {avg} differs from the ledger's {}",
                e.average_monthly_income
            ));
        }
    }
    if b.monthly_amount.is_positive() && b.monthly_amount != e.amount {
        out.push(format!(
            "amount {} differs from the ledger's {} ({})",
            b.monthly_amount, e.amount, e.formula
        ));
    }
    out
}

/// Rules §11: suspended ⇄ resumed, terminated is final; changes come in
/// effective-date order.
fn status_change(b: &mut BenefitRecord, s: &BenefitStatusChanged) -> Outcome {
    let next = match b.state.after(s.status) {
        Ok(next) => next,
        Err(why) => {
            return refused(format!(
                "benefit {} {why}: cannot be {}",
                s.benefit_id,
                s.status.name().to_lowercase()
            ))
        }
    };
    if let Some((Day(last), _)) = b.changes.last() {
        if s.effective_on < *last {
            return refused(format!(
                "benefit {}: a change effective {} precedes the last one, effective {last}",
                s.benefit_id, s.effective_on
            ));
        }
    }
    b.state = next;
    b.changes.push((Day(s.effective_on), s.status));
    Outcome::Applied { late: false }
}

/// Rules §11-12: a payment is for a period in which the benefit was active;
/// the pension contribution withheld is part of the amount.
fn benefit_paid(account: &mut Account, p: &BenefitPaid) -> Outcome {
    // Another assignment of the same type already paid for this period: the
    // same month paid twice under two assignments.
    let paid_elsewhere: Vec<String> = match account.benefits.get(&p.benefit_id) {
        Some(this) => account
            .benefits
            .iter()
            .filter(|(id, b)| {
                **id != p.benefit_id
                    && b.benefit_type == this.benefit_type
                    && b.paid_by_period
                        .get(&p.period)
                        .is_some_and(Money::is_positive)
            })
            .map(|(id, _)| id.clone())
            .collect(),
        None => Vec::new(),
    };
    let Some(b) = account.benefits.get_mut(&p.benefit_id) else {
        return refused(format!("benefit {} is not assigned", p.benefit_id));
    };
    if !b.active_in(p.period) {
        let end = b.end_period.map(|e| e.to_string()).unwrap_or_default();
        return refused(format!(
            "benefit {} was not active in {} (assigned {}..{end}, {})",
            p.benefit_id,
            p.period,
            b.start_period,
            b.state.name().to_lowercase()
        ));
    }
    if p.pension_contribution_withheld > p.amount {
        return refused(format!(
            "pension contribution withheld {} exceeds the amount {}",
            p.pension_contribution_withheld, p.amount
        ));
    }
    let t = account.periods.get(&p.period);
    let period_paid = t
        .and_then(|t| t.more.as_ref())
        .and_then(|m| m.benefits_paid.get(&b.benefit_type))
        .copied()
        .unwrap_or(Money::ZERO);
    let period_withheld = t.map_or(Money::ZERO, |t| t.pension_withheld());
    let (Some(paid), Some(withheld), Some(period_paid), Some(period_withheld)) = (
        b.paid_total.checked_add(p.amount),
        b.pension_withheld_total
            .checked_add(p.pension_contribution_withheld),
        period_paid.checked_add(p.amount),
        period_withheld.checked_add(p.pension_contribution_withheld),
    ) else {
        return refused(OVERFLOW);
    };
    // Applied (the Fund's payment stands), but flagged for review where it
    // goes beyond the assignment.
    let before = b
        .paid_by_period
        .get(&p.period)
        .copied()
        .unwrap_or(Money::ZERO);
    for other in &paid_elsewhere {
        b.discrepancies.push(format!(
            "{} is also paid under benefit {other} of the same type ({})",
            p.period,
            b.benefit_type.code()
        ));
    }
    if before.is_positive() {
        b.discrepancies.push(format!(
            "a second payment for {}: {} after {before} already paid for it",
            p.period, p.amount
        ));
    }
    if b.monthly_amount.is_positive() && p.amount > b.monthly_amount {
        b.discrepancies.push(format!(
            "payment for {} of {} is above the monthly amount {}",
            p.period, p.amount, b.monthly_amount
        ));
    }
    if let Some(end) = b.end_period {
        let mut months = 0i64;
        let mut q = b.start_period;
        while q <= end && months <= 1200 {
            months += 1;
            q = q.next();
        }
        let assigned = b
            .monthly_amount
            .decimal()
            .checked_mul(months.into())
            .unwrap_or(rust_decimal::Decimal::MAX);
        let was = b.paid_total.decimal() - b.returned_total.decimal();
        let now = paid.decimal() - b.returned_total.decimal();
        if b.monthly_amount.is_positive() && now > assigned && was <= assigned {
            b.discrepancies.push(format!(
                "payments reach {now}, above the {assigned} assigned ({months} months of {})",
                b.monthly_amount
            ));
        }
    }
    b.paid_by_period
        .insert(p.period, before.checked_add(p.amount).unwrap_or(p.amount));
    b.paid_total = paid;
    b.pension_withheld_total = withheld;
    b.payments += 1;
    let benefit_type = b.benefit_type;
    let more = account.periods.entry(p.period).or_default().more_mut();
    more.benefits_paid.insert(benefit_type, period_paid);
    more.pension_withheld = period_withheld;
    Outcome::Applied { late: false }
}

/// A contribution or penalty line recorded at `recorded`. `named` is the
/// identifier the line itself names when that is not the account's (a
/// line redirected after a merge).
fn contribution(
    ctx: &Context,
    account: &mut Account,
    recorded: DateTime<Utc>,
    named: Option<Iin>,
    c: &ContributionPaid,
) -> Outcome {
    // Rules §7: recorded within one working day of the money's receipt.
    let late = ctx
        .calendar
        .recording_deadline(c.payment.received_on)
        .is_late(recorded);
    // Rules §6: a line disagreeing with the state registers is returned to
    // the payer. The register of individuals decides when it knows the
    // person: an IIN whose digits encode another birth date than the
    // person's exists (assigned in error, and an IIN is never changed,
    // DOMAIN §2), and the register then holds the true one. The digits are
    // the fallback for a person the register does not know, or whose
    // record has no birth date.
    let registered = !account.register.is_empty();
    let mut disagreement = register_disagreement(account, c);
    let register_has_birth_date =
        register_in_force(account, c.payment.received_on).is_some_and(|r| r.birth_date.is_some());
    if disagreement.is_none() && !register_has_birth_date {
        let id = named.unwrap_or(account.iin);
        if let Some(encoded) = id.birth_date() {
            if encoded != c.person.birth_date {
                // A Kyrgyz PIN encodes it too (DOMAIN §2).
                let scheme = if id.as_str().len() == 14 {
                    "PIN"
                } else {
                    "IIN"
                };
                disagreement = Some(format!(
                    "birth date {} differs from {} encoded in the {scheme}",
                    c.person.birth_date, encoded
                ));
            }
        }
    }
    // No contribution is owed for a month before the person was born: a
    // mistyped century digit (an IIN "born 2099") gives a valid number of
    // a person not yet born.
    if disagreement.is_none() && c.period < Period::of(c.person.birth_date) {
        disagreement = Some(format!(
            "period {} is before the person's birth month (born {})",
            c.period, c.person.birth_date
        ));
    }
    if disagreement.is_none() && !registered && ctx.unknown_iin == UnknownIin::Return {
        disagreement = Some("the IIN is not in the register of individuals".to_string());
    }
    if let Some(reason) = disagreement {
        let period_returned = account
            .periods
            .get(&c.period)
            .map_or(Money::ZERO, |t| t.returned());
        return match (
            account.returned_total.checked_add(c.amount),
            period_returned.checked_add(c.amount),
        ) {
            (Some(total), Some(in_period)) => {
                account.returned_total = total;
                let t = account.periods.entry(c.period).or_default();
                t.more_mut().returned = in_period;
                t.count_line(late);
                Outcome::Returned { reason, late }
            }
            _ => refused(OVERFLOW),
        };
    }
    credit(account, c, late, registered)
}

/// Credits a line that passed the register checks (or was taken over from
/// a merged identifier, where it passed them).
fn credit(account: &mut Account, c: &ContributionPaid, late: bool, registered: bool) -> Outcome {
    let key = PayerKey {
        period: c.period,
        ppc: c.payment.ppc,
        payer: c.payment.payer_id,
    };
    let totals = account.periods.get(&c.period).cloned().unwrap_or_default();
    let line = account.payers.get(&key).cloned().unwrap_or_default();
    let is_penalty = c.payment.ppc == Ppc::PENALTY;
    let (period_sum, grand_total) = if is_penalty {
        (totals.penalties, account.penalties_total)
    } else {
        (totals.contributions, account.contributions_total)
    };
    let (Some(period_sum), Some(grand_total), Some(credited)) = (
        period_sum.checked_add(c.amount),
        grand_total.checked_add(c.amount),
        line.credited.checked_add(c.amount),
    ) else {
        return refused(OVERFLOW);
    };
    let t = account.periods.entry(c.period).or_default();
    t.count_line(late);
    if is_penalty {
        t.penalties = period_sum;
        account.penalties_total = grand_total;
    } else {
        t.contributions = period_sum;
        account.contributions_total = grand_total;
    }
    account.payers.entry(key).or_default().credited = credited;
    if !is_penalty && c.payment.received_on > c.period.due_date() {
        account.late_paid.push(LatePaid {
            period: c.period,
            payer: c.payment.payer_id,
            received_on: Day(c.payment.received_on),
            amount: c.amount,
        });
    }
    if !registered {
        // Rules §6 with `UnknownIin::AcceptAndFlag`: credited, counted for
        // review; the line's own person data stands in for the register's.
        account.unregistered_lines += 1;
        account.person = Some(PersonRecord {
            from_register: false,
            data: PersonData::from(&c.person),
        });
    }
    Outcome::Applied { late }
}

/// A name the way the register and payers' lines are compared and
/// grouped: Unicode NFC first (a `й` typed as `и` + U+0306, an `ё` as
/// `е` + U+0308, a Latin `é` as `e` + U+0301 are the composed letter), then
/// case, surrounding and repeated spaces and Ё/Е do not count, and the fold
/// banks' systems apply does not either (`shared/reference/mt102.md`,
/// "Encodings": CP866 has none of the Kazakh letters, cp1251 only І):
/// invisible format characters (soft hyphen, zero-width spaces) are dropped,
/// Latin and Greek look-alikes become the Cyrillic letter they look like
/// (a c e o p x y i ı h k; A B C E H I K M O P T X Y; α ε ι κ ο ρ τ υ χ and
/// their capitals), then the Kazakh letters their bases
/// Ә→А, Ғ→Г, Қ→К, Ң→Н, Ө→О, Ұ→У, Ү→У, Һ→Х, І→И. docs/rules.md, "Names".
pub fn normalize_name(s: &str) -> String {
    fold_name(s, 'И')
}

/// Whether a line's name is the register's under [`normalize_name`], or
/// with the register's І folded to Ы as one system folds it.
pub fn names_agree(register: &str, line: &str) -> bool {
    let folded = normalize_name(line);
    // Only the register's І may have become the line's Ы: a line's і (or a
    // Latin i) is И, so `Салiмов` is not the register's `Салымов`.
    register == line || normalize_name(register) == folded || fold_name(register, 'Ы') == folded
}

fn fold_name(s: &str, kazakh_i: char) -> String {
    use unicode_normalization::UnicodeNormalization;
    let composed: String = s.nfc().collect();
    let looks_like = |c: char| match c {
        'a' => 'а',
        'c' => 'с',
        'e' => 'е',
        'o' => 'о',
        'p' => 'р',
        'x' => 'х',
        'y' => 'у',
        'i' => 'і',
        'h' => 'һ',
        'k' => 'к',
        // Latin dotless ı, schwa, barred o, e with diaeresis; Greek
        // look-alikes.
        'ı' => 'і',
        'ə' => 'ә',
        'Ə' => 'Ә',
        'ɵ' => 'ө',
        'Ɵ' => 'Ө',
        'ë' => 'ё',
        'Ë' => 'Ё',
        'α' => 'а',
        'ε' => 'е',
        'ι' => 'і',
        'κ' => 'к',
        'ο' => 'о',
        'ρ' => 'р',
        'τ' => 'т',
        'υ' => 'у',
        'χ' => 'х',
        'Α' => 'А',
        'Β' => 'В',
        'Ε' => 'Е',
        'Η' => 'Н',
        'Ι' => 'І',
        'Κ' => 'К',
        'Μ' => 'М',
        'Ν' => 'Н',
        'Ο' => 'О',
        'Ρ' => 'Р',
        'Τ' => 'Т',
        'Υ' => 'У',
        'Χ' => 'Х',
        'A' => 'А',
        'B' => 'В',
        'C' => 'С',
        'E' => 'Е',
        'H' => 'Н',
        'I' => 'І',
        'K' => 'К',
        'M' => 'М',
        'O' => 'О',
        'P' => 'Р',
        'T' => 'Т',
        'X' => 'Х',
        'Y' => 'У',
        c => c,
    };
    // Invisible format characters (a soft hyphen, cp1251's 0xAD; zero-width
    // spaces and joiners; a byte-order mark) are not letters.
    let cyrillic: String = composed
        .chars()
        .filter(|c| {
            !matches!(
                c,
                '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}'
            )
        })
        .map(looks_like)
        .collect();
    // Dashes are one hyphen, with no space around it (`Иванова - Петрова`,
    // `Иванова–Петрова` are `Иванова-Петрова`).
    let dashed: String = cyrillic
        .chars()
        .map(|c| match c {
            '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
            c => c,
        })
        .collect();
    dashed
        .split('-')
        .map(|part| part.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("-")
        .to_uppercase()
        .chars()
        .map(|c| match c {
            'Ё' => 'Е',
            'Ә' => 'А',
            'Ғ' => 'Г',
            'Қ' => 'К',
            'Ң' => 'Н',
            'Ө' => 'О',
            'Ұ' | 'Ү' => 'У',
            'Һ' => 'Х',
            'І' => kazakh_i,
            c => c,
        })
        .collect()
}

/// The register's data in force on `received`: the latest record effective
/// by then, else the earliest (Rules §6, §9).
fn register_in_force(account: &Account, received: chrono::NaiveDate) -> Option<&PersonData> {
    account
        .register
        .iter()
        .enumerate()
        .filter(|(_, r)| r.effective_on.is_none_or(|e| e <= received))
        .max_by_key(|(i, r)| (r.effective_on, *i))
        .map(|(_, r)| r)
        .or_else(|| account.register.iter().min_by_key(|r| r.effective_on))
}

/// Rules §6 against the register of individuals: the register's data in
/// force on the money's receipt date (the latest record effective by then;
/// the earliest if none is yet) must carry the line's surname and birth
/// date, and the person must not be registered as deceased before the
/// period paid for.
fn register_disagreement(account: &Account, c: &ContributionPaid) -> Option<String> {
    let received = c.payment.received_on;
    if let Some(died) = account.register.iter().filter_map(|r| r.deceased_on).min() {
        if died < c.period.first_day() {
            return Some(format!(
                "the register records the person as deceased on {died}, before {}",
                c.period
            ));
        }
    }
    let in_force = register_in_force(account, received)?;
    // Formatted only for a return: most lines agree.
    let since = || {
        in_force
            .effective_on
            .map(|d| format!(" (in force since {d})"))
            .unwrap_or_default()
    };
    // Most lines carry the register's spelling: compare as is first.
    if !names_agree(&in_force.surname, &c.person.surname) {
        return Some(format!(
            "surname {:?} differs from the register's {:?}{}",
            c.person.surname,
            in_force.surname,
            since()
        ));
    }
    if let Some(born) = in_force.birth_date {
        if born != c.person.birth_date {
            return Some(format!(
                "birth date {} differs from the register's {born}{}",
                c.person.birth_date,
                since()
            ));
        }
    }
    None
}

/// Social Code art. 247: a refund is accepted up to what that payer paid
/// under that code for that period, net of earlier refunds.
/// A refund request; `taken_over` when it was decided on a merged
/// identifier already, whose decision stands.
/// Seed `003_…`: an application is decided as a whole and carries one
/// reason. Every request names its application's payer, reason, refunded
/// PPC, date and size; a request under an application id this account
/// already holds with other such content, or one more request than the
/// application's size, is refused whole (the payer files a new
/// application). The check is per account, so it is deterministic on every
/// path; `refund apply` checks across employees before publishing. A
/// request of size 0 is not from an application and is not checked.
fn refund_request(
    account: &mut Account,
    event_id: &crate::EventId,
    r: &ContributionRefunded,
) -> Outcome {
    if r.application_size == 0 {
        // Not from an application (a refund the Fund or an operator
        // records directly): its id names no application to keep whole,
        // unless a payer's application here already has that id.
        if let Some(known) = account.refund_applications.get(&r.application_id) {
            return refused(format!(
                "application {} is a payer's application of {} employee(s): a refund under its id must be one of its requests (seed 003)",
                r.application_id, known.size
            ));
        }
        return refund(account, r, false);
    }
    // Each request is `<application>/<n>`, n from 1 to its size, as
    // `refund apply` writes them: a request beyond the size, or under
    // another application's name, is not part of it (deterministic on
    // every partition, whatever other employees' requests say).
    let number = event_id
        .as_str()
        .strip_prefix(r.application_id.as_str())
        .and_then(|rest| rest.strip_prefix('/'))
        // The number as written: `01` is not request 1.
        .filter(|n| !n.starts_with('0'))
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| (1..=r.application_size).contains(n));
    if number.is_none() {
        return refused(format!(
            "request {} is not one of application {}'s {} (ids {}/1 to {}/{}, seed 003)",
            event_id,
            r.application_id,
            r.application_size,
            r.application_id,
            r.application_id,
            r.application_size
        ));
    }
    let header = RefundApplication::of(r);
    if let Some(known) = account.refund_applications.get(&r.application_id) {
        let mut differs = Vec::new();
        if known.payer != header.payer {
            differs.push(format!("payer {} (was {})", header.payer, known.payer));
        }
        if known.reason != header.reason {
            differs.push(format!(
                "reason {:?} (was {:?})",
                header.reason, known.reason
            ));
        }
        if known.refunded_ppc != header.refunded_ppc {
            differs.push(format!(
                "ppc {} (was {})",
                header.refunded_ppc, known.refunded_ppc
            ));
        }
        if known.decided_on != header.decided_on {
            differs.push(format!(
                "date {} (was {})",
                header.decided_on.0, known.decided_on.0
            ));
        }
        if known.size != header.size {
            differs.push(format!("size {} (was {})", header.size, known.size));
        }
        if !differs.is_empty() {
            return refused(format!(
                "application {} was already decided with other content: {}; an application is decided as a whole (seed 003): file a new application id",
                r.application_id,
                differs.join(", ")
            ));
        }
        if known.requests >= known.size {
            return refused(format!(
                "application {} names {} employee(s), all already decided: a further request is not part of it (seed 003)",
                r.application_id, known.size
            ));
        }
        if known.periods.contains(&r.period) {
            return refused(format!(
                "application {} already names this employee for {}: one request per employee and period (seed 003)",
                r.application_id, r.period
            ));
        }
    }
    let known = account
        .refund_applications
        .entry(r.application_id.clone())
        .or_insert(header);
    known.requests += 1;
    known.periods.push(r.period);
    refund(account, r, false)
}

fn refund(account: &mut Account, r: &ContributionRefunded, taken_over: bool) -> Outcome {
    // Seed `003_…`: contributions already counted in the participation
    // length of an assigned benefit are not refunded. Penalties (017) are
    // not participation and stay refundable.
    if r.refunded_ppc != Ppc::PENALTY && !taken_over {
        if let Some((id, b)) = account
            .benefits
            .iter()
            .find(|(_, b)| r.period <= b.counted_through())
        {
            return refused(format!(
                "contributions for {} were counted in the participation length of benefit {id} ({}, applied {})",
                r.period,
                b.benefit_type.code(),
                b.applied_on
            ));
        }
    }
    let key = PayerKey {
        period: r.period,
        ppc: r.refunded_ppc,
        payer: r.payer_id,
    };
    let line = account.payers.get(&key).cloned().unwrap_or_default();
    let available = line
        .credited
        .checked_sub(line.refunded)
        .unwrap_or(Money::ZERO);
    if r.amount > available {
        return refused(format!(
            "refund of {} exceeds {} credited from payer {} under ppc {} for {} net of earlier refunds",
            r.amount, available, r.payer_id, r.refunded_ppc, r.period
        ));
    }
    let totals = account.periods.get(&r.period).cloned().unwrap_or_default();
    let is_penalty = r.refunded_ppc == Ppc::PENALTY;
    let period_refunded = if is_penalty {
        totals.refunded_penalties
    } else {
        totals.refunded_contributions
    };
    let (Some(refunded), Some(period_refunded), Some(total)) = (
        line.refunded.checked_add(r.amount),
        period_refunded.checked_add(r.amount),
        account.refunds_total.checked_add(r.amount),
    ) else {
        return refused(OVERFLOW);
    };
    account.payers.entry(key).or_default().refunded = refunded;
    let t = account.periods.entry(r.period).or_default();
    if is_penalty {
        t.refunded_penalties = period_refunded;
    } else {
        t.refunded_contributions = period_refunded;
        account.refunded_lines.push(RefundedLine {
            period: r.period,
            payer: r.payer_id,
            decided_on: Day(r.decided_on),
            amount: r.amount,
        });
    }
    account.refunds_total = total;
    Outcome::Applied { late: false }
}
