//! A participant's account: the state `apply` folds events into, and the
//! statement that shows it.

use crate::{
    BenefitStatus, BenefitType, EventId, Iin, Money, PayerId, Period, PersonData, Position, Ppc,
};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Sums for one period (the period an event is for, whenever it was
/// recorded), as credited (refunds are the accepted ones): what a monthly
/// projection of the period reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodTotals {
    pub contributions: Money,
    pub penalties: Money,
    pub refunded_contributions: Money,
    pub refunded_penalties: Money,
    /// Contribution and penalty lines for the period, credited or returned.
    pub lines: u32,
    /// What few periods have: kept apart so that the account record, which
    /// is rewritten at every event, stays small (one byte when absent).
    pub more: Option<Box<PeriodMore>>,
}

/// The rarer sums of a period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodMore {
    /// Contribution and penalty lines for the period returned to the payer.
    pub returned: Money,
    /// Lines recorded after their deadline (Rules §7).
    pub late_lines: u32,
    /// Benefits paid for the period, by type.
    pub benefits_paid: BTreeMap<BenefitType, Money>,
    /// Pension contributions withheld from those benefits.
    pub pension_withheld: Money,
}

impl PeriodTotals {
    /// Counts one contribution or penalty line for the period.
    pub(crate) fn count_line(&mut self, late: bool) {
        self.lines = self.lines.saturating_add(1);
        if late {
            let more = self.more_mut();
            more.late_lines = more.late_lines.saturating_add(1);
        }
    }

    pub(crate) fn more_mut(&mut self) -> &mut PeriodMore {
        self.more.get_or_insert_with(Default::default)
    }

    pub fn returned(&self) -> Money {
        self.more.as_ref().map_or(Money::ZERO, |m| m.returned)
    }

    pub fn late_lines(&self) -> u32 {
        self.more.as_ref().map_or(0, |m| m.late_lines)
    }

    pub fn pension_withheld(&self) -> Money {
        self.more
            .as_ref()
            .map_or(Money::ZERO, |m| m.pension_withheld)
    }

    pub fn benefits_paid(&self) -> impl Iterator<Item = (BenefitType, Money)> + '_ {
        self.more
            .iter()
            .flat_map(|m| m.benefits_paid.iter().map(|(t, a)| (*t, *a)))
    }
}

/// What one payer paid under one code for one period, and what of it was
/// refunded: the limit a refund is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PayerKey {
    pub period: Period,
    pub ppc: Ppc,
    pub payer: PayerId,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayerLine {
    pub credited: Money,
    pub refunded: Money,
}

/// Where a benefit stands (Rules §11): assigned (paid), suspended (and
/// resumed back to assigned), or terminated, which is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BenefitState {
    Assigned,
    Suspended,
    Terminated,
}

impl BenefitState {
    pub fn name(&self) -> &'static str {
        match self {
            BenefitState::Assigned => "ASSIGNED",
            BenefitState::Suspended => "SUSPENDED",
            BenefitState::Terminated => "TERMINATED",
        }
    }

    /// The state a status change leads to from this one, or why it may not
    /// happen (Rules §11: suspended ⇄ resumed, terminated is final).
    pub(crate) fn after(self, status: BenefitStatus) -> Result<BenefitState, &'static str> {
        use BenefitState as S;
        use BenefitStatus as C;
        match (self, status) {
            (S::Terminated, _) => Err("is terminated"),
            (S::Assigned, C::Suspended) => Ok(S::Suspended),
            (S::Suspended, C::Suspended) => Err("is already suspended"),
            (S::Suspended, C::Resumed) => Ok(S::Assigned),
            (S::Assigned, C::Resumed) => Err("is not suspended"),
            (_, C::Terminated) => Ok(S::Terminated),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenefitRecord {
    pub benefit_type: BenefitType,
    pub state: BenefitState,
    pub monthly_amount: Money,
    pub start_period: Period,
    pub end_period: Option<Period>,
    /// The application date: contributions for periods up to its month
    /// were counted in the participation length the benefit was assigned
    /// on (seed `003_…`: their refund is refused).
    #[serde(with = "crate::time::date_serde")]
    pub applied_on: NaiveDate,
    /// Every accepted status change, in effective-date order (Rules §11,
    /// §14: suspensions, resumptions and terminations are recorded).
    pub changes: Vec<(Day, BenefitStatus)>,
    pub paid_total: Money,
    pub pension_withheld_total: Money,
    pub returned_total: Money,
    pub payments: u32,
    /// Paid for each period, net of what came back for it.
    pub paid_by_period: BTreeMap<Period, Money>,
    /// What needs review on this benefit; the Fund's records stand: where
    /// the assignment disagrees with what the ledger computes from the
    /// contributions (DOMAIN §5), and payments beyond the assignment (a
    /// second payment for one period, one above the monthly amount, a
    /// total above the assigned months' amounts; Rules §12).
    pub discrepancies: Vec<String>,
}

/// A contribution line credited after its due date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatePaid {
    pub period: Period,
    pub payer: PayerId,
    pub received_on: Day,
    pub amount: Money,
}

/// A contribution (012) refund applied to the account, with its decision
/// date: a benefit calculation as of an earlier date puts the amount back
/// (DOMAIN §5: what the Fund saw on the application date). Rare, so kept
/// apart from the per-payer sums, like [`LatePaid`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundedLine {
    pub period: Period,
    pub payer: PayerId,
    pub decided_on: Day,
    pub amount: Money,
}

/// A refund application as the first of its requests on this account
/// named it (seed `003_…`: decided as a whole, one reason), and how many of
/// its requests this account has decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundApplication {
    pub payer: PayerId,
    pub reason: String,
    pub refunded_ppc: Ppc,
    pub decided_on: Day,
    /// Employees the application names (at least 1: a request of size 0
    /// is not from an application and is not kept here).
    pub size: u32,
    pub requests: u32,
    /// The periods of this employee's requests decided so far.
    pub periods: Vec<Period>,
}

impl RefundApplication {
    /// The application as `r`, one of its requests, names it; no request
    /// decided yet.
    pub fn of(r: &crate::ContributionRefunded) -> RefundApplication {
        RefundApplication {
            payer: r.payer_id,
            reason: r.reason.clone(),
            refunded_ppc: r.refunded_ppc,
            decided_on: Day(r.decided_on),
            size: r.application_size,
            requests: 0,
            periods: Vec::new(),
        }
    }
}

/// A date as an account stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Day(#[serde(with = "crate::time::date_serde")] pub NaiveDate);

impl BenefitRecord {
    /// The last period whose contributions the assignment counted.
    pub fn counted_through(&self) -> Period {
        Period::of(self.applied_on)
    }

    /// Whether the benefit was open in `period`: assigned for it (suspended
    /// or not) and not terminated before the period began. A month closed
    /// after a later termination still sees the benefit open.
    pub fn open_in(&self, period: Period) -> bool {
        let terminated_before = self.changes.iter().any(|&(Day(on), status)| {
            status == BenefitStatus::Terminated && on <= period.first_day()
        });
        self.start_period <= period
            && self.end_period.is_none_or(|end| period <= end)
            && !terminated_before
    }

    /// Whether the benefit was payable on some day of `period`: within its
    /// assigned periods, and not suspended or terminated for the whole
    /// month (Rules §11-12: a suspension or termination from the 15th
    /// still leaves the first half of the month payable).
    pub fn active_in(&self, period: Period) -> bool {
        if period < self.start_period || self.end_period.is_some_and(|end| period > end) {
            return false;
        }
        let (first, next) = (period.first_day(), period.next().first_day());
        // Walk the active intervals: active from the start, toggled by the
        // changes.
        let mut active_since = Some(self.start_period.first_day());
        for &(Day(on), status) in &self.changes {
            match (status, active_since) {
                (BenefitStatus::Resumed, None) => active_since = Some(on),
                (BenefitStatus::Suspended | BenefitStatus::Terminated, Some(since)) => {
                    if since < next && on > first {
                        return true;
                    }
                    active_since = None;
                }
                _ => {}
            }
        }
        active_since.is_some_and(|since| since < next)
    }
}

/// Where the account's person data came from: the state register, or the
/// latest credited contribution line when the register has not spoken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRecord {
    pub from_register: bool,
    pub data: PersonData,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub event_id: EventId,
    pub reason: String,
}

/// One participant's personalized record (Rules §3-4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub iin: Iin,
    /// What the latest credited line said of the person, while the
    /// register has not spoken (its records are in `register`).
    pub person: Option<PersonRecord>,
    pub contributions_total: Money,
    pub penalties_total: Money,
    pub refunds_total: Money,
    pub returned_total: Money,
    pub late_recordings: u64,
    pub duplicates_ignored: u64,
    /// Lines credited while the register did not know the IIN (Rules §6,
    /// `UnknownIin::AcceptAndFlag`): for review.
    pub unregistered_lines: u64,
    /// Every record the register of individuals sent, in log order (Rules
    /// §9: changes are kept, not overwritten).
    pub register: Vec<PersonData>,
    pub periods: BTreeMap<Period, PeriodTotals>,
    pub payers: BTreeMap<PayerKey, PayerLine>,
    pub benefits: BTreeMap<String, BenefitRecord>,
    pub rejections: Vec<Rejection>,
    /// Contribution (012) lines credited after their due date (the 25th of
    /// the month after the period), with their receipt dates: the only
    /// lines a benefit calculation as of an earlier date must leave out
    /// (DOMAIN §5). Rare, so kept apart from the per-payer sums.
    pub late_paid: Vec<LatePaid>,
    /// Contribution (012) refunds with their decision dates: a benefit
    /// calculation as of an earlier date leaves them out (DOMAIN §5).
    pub refunded_lines: Vec<RefundedLine>,
    /// Refund applications by id (seed `003_…`), for refusing a reused id.
    pub refund_applications: BTreeMap<String, RefundApplication>,
    /// Records in this account's history, including duplicates and refusals.
    pub history_len: u64,
    /// Set by the closing record of a merge (seed `002_…`): the identifier
    /// this one became. The account takes nothing more.
    pub merged_into: Option<MergeRecord>,
    /// Identifiers merged into this one, in the order their merges opened.
    pub merged_from: Vec<MergeRecord>,
}

/// One side of a merge of two identifiers of one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeRecord {
    /// The other identifier: the new one on the old account, the old one on
    /// the new account.
    pub other: Iin,
    /// The closing record's event id: the merge's name.
    pub event_id: EventId,
    pub reason: String,
    pub decided_on: Day,
    /// This account's record of the merge.
    pub position: Position,
}

impl Account {
    pub fn new(iin: Iin) -> Account {
        Account {
            iin,
            person: None,
            contributions_total: Money::ZERO,
            penalties_total: Money::ZERO,
            refunds_total: Money::ZERO,
            returned_total: Money::ZERO,
            late_recordings: 0,
            duplicates_ignored: 0,
            unregistered_lines: 0,
            register: Vec::new(),
            periods: BTreeMap::new(),
            payers: BTreeMap::new(),
            benefits: BTreeMap::new(),
            rejections: Vec::new(),
            late_paid: Vec::new(),
            refunded_lines: Vec::new(),
            refund_applications: BTreeMap::new(),
            history_len: 0,
            merged_into: None,
            merged_from: Vec::new(),
        }
    }

    /// Number of distinct periods whose credited 012 contributions minus
    /// accepted 012 refunds are greater than zero.
    pub fn participation_months(&self) -> u32 {
        let n = self
            .periods
            .values()
            .filter(|t| {
                t.contributions
                    .checked_sub(t.refunded_contributions)
                    .is_some_and(|net| net.is_positive())
            })
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period(s: &str) -> Period {
        Period::parse(s).unwrap()
    }

    fn day(s: &str) -> Day {
        Day(crate::parse_date(s).unwrap())
    }

    #[test]
    fn open_and_active_follow_the_dated_changes() {
        let b = BenefitRecord {
            benefit_type: BenefitType::LossOfJob,
            state: BenefitState::Terminated,
            monthly_amount: Money::ZERO,
            start_period: period("2025-02"),
            end_period: Some(period("2025-12")),
            applied_on: crate::parse_date("2025-01-10").unwrap(),
            changes: vec![
                (day("2025-04-01"), BenefitStatus::Suspended),
                (day("2025-05-16"), BenefitStatus::Resumed),
                (day("2025-08-01"), BenefitStatus::Terminated),
            ],
            paid_total: Money::ZERO,
            pension_withheld_total: Money::ZERO,
            returned_total: Money::ZERO,
            payments: 0,
            paid_by_period: BTreeMap::new(),
            discrepancies: Vec::new(),
        };
        let open: Vec<bool> = ["2025-01", "2025-02", "2025-04", "2025-07", "2025-08"]
            .iter()
            .map(|p| b.open_in(period(p)))
            .collect();
        // Terminated now, yet open in the months before its termination;
        // a suspended month is open.
        assert_eq!(open, [false, true, true, true, false]);
        let active: Vec<bool> = ["2025-02", "2025-04", "2025-05", "2025-07", "2025-08"]
            .iter()
            .map(|p| b.active_in(period(p)))
            .collect();
        assert_eq!(active, [true, false, true, true, false]);
    }
}
