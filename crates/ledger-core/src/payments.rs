//! Payment reconciliation (Rules §7: each line is recorded with "the total
//! amount of the payment" and "the number of contribution lines in it").
//! The lines of one payment order arrive as separate events, keyed by each
//! employee's IIN and so spread over partitions; this reconciles them once
//! they are gathered, whatever their order.
//!
//! *Decision (Rules §6-7):* a payment whose lines disagree with its header
//! is **flagged for review, not returned**. Rules §6 returns a line that
//! disagrees with the state registers; a payment order that disagrees with
//! itself is the payer's bank's error, no single line can be named as the
//! wrong one (lines arrive in any order, over partitions), and a return
//! decided by arrival order would make accounts depend on it. The lines are
//! credited as recorded; `si-ledger payments --mismatched` lists the
//! payment with its lines and the monthly report counts it.

use crate::{Calendar, Iin, Money, PayerId, Period, Ppc};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// What identifies one payment order: the payer, the document's number and
/// date, and the day the money was received. A line without a document
/// number is a payment of its own (`line`: its event id), never grouped
/// with other unnumbered lines.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PaymentKey {
    pub payer: PayerId,
    pub document_number: String,
    pub document_date: Option<NaiveDate>,
    pub received_on: NaiveDate,
    pub line: Option<String>,
}

/// What each line says of its payment's header.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PaymentHeader {
    pub ppc: Ppc,
    pub total_amount: Option<Money>,
    pub line_count: u32,
}

/// One recorded line (credited or returned) of a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentLine {
    pub event_id: String,
    pub iin: Iin,
    pub period: Period,
    pub amount: Money,
    pub header: PaymentHeader,
    pub partition: u32,
    pub offset: u64,
    pub recorded_at: DateTime<Utc>,
}

/// A payment's lines against its header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    pub key: PaymentKey,
    /// What the lines say the payment is: the largest total and line count
    /// any of them gives (where they disagree, that is a mismatch too).
    pub header: PaymentHeader,
    pub lines: u32,
    pub total: Money,
    /// Where the lines disagree with the header or with each other.
    pub mismatches: Vec<String>,
    /// Fewer lines, or less money, than the header says.
    pub incomplete: bool,
    /// Rules §7: the end of the working day after the receipt.
    pub deadline: DateTime<chrono::FixedOffset>,
    /// Incomplete when the deadline had passed (at `now`).
    pub overdue: bool,
    /// Neither a total nor a line count: nothing to reconcile with. Listed
    /// as such, never as reconciled.
    pub unverifiable: bool,
}

impl Reconciliation {
    /// Mismatched, or incomplete past its deadline.
    pub fn unreconciled(&self) -> bool {
        !self.mismatches.is_empty() || self.overdue
    }
}

/// Reconciles one payment's lines (at least one) as of `now`; the verdict
/// does not depend on the lines' order. A header without a total or a line
/// count (0) is not compared on that figure.
pub fn reconcile(
    calendar: &Calendar,
    key: PaymentKey,
    lines: &[PaymentLine],
    now: DateTime<Utc>,
) -> Reconciliation {
    let mut headers: std::collections::BTreeMap<&PaymentHeader, u32> = Default::default();
    let mut total = Money::ZERO;
    let mut overflow = false;
    for l in lines {
        *headers.entry(&l.header).or_default() += 1;
        match total.checked_add(l.amount) {
            Some(t) => total = t,
            None => overflow = true,
        }
    }
    let header = PaymentHeader {
        ppc: headers
            .keys()
            .map(|h| h.ppc)
            .min()
            .unwrap_or(Ppc::CONTRIBUTION),
        total_amount: headers.keys().filter_map(|h| h.total_amount).max(),
        line_count: headers.keys().map(|h| h.line_count).max().unwrap_or(0),
    };
    let mut mismatches = Vec::new();
    if headers.len() > 1 {
        let told: Vec<String> = headers
            .iter()
            .map(|(h, n)| {
                format!(
                    "ppc {}, total {}, {} lines ({n} of them)",
                    h.ppc,
                    shown(h.total_amount),
                    h.line_count
                )
            })
            .collect();
        mismatches.push(format!(
            "the lines disagree on the header: {}",
            told.join("; ")
        ));
    }
    let n = u32::try_from(lines.len()).unwrap_or(u32::MAX);
    if overflow {
        mismatches.push("the lines' amounts overflow".into());
    }
    if header.line_count > 0 && n > header.line_count {
        mismatches.push(format!(
            "{n} lines, more than its line count {}",
            header.line_count
        ));
    }
    if let Some(t) = header.total_amount {
        if total > t {
            mismatches.push(format!("the lines sum to {total}, more than its total {t}"));
        }
    }
    let short_of_lines = header.line_count > 0 && n < header.line_count;
    let short_of_money = header.total_amount.is_some_and(|t| total < t);
    let incomplete = short_of_lines || short_of_money;
    let deadline = calendar.recording_deadline(key.received_on).deadline;
    let unverifiable = header.line_count == 0 && header.total_amount.is_none();
    Reconciliation {
        unverifiable,
        overdue: incomplete && now > deadline,
        key,
        header,
        lines: n,
        total,
        mismatches,
        incomplete,
        deadline,
    }
}

fn shown(m: Option<Money>) -> String {
    m.map_or_else(|| "none".to_string(), |m| m.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Bin, Sex};

    fn line(n: u16, amount: &str, total: &str, count: u32) -> PaymentLine {
        let born = NaiveDate::from_ymd_opt(1990, 5, 17).unwrap();
        PaymentLine {
            event_id: format!("e{n}"),
            iin: (n..)
                .find_map(|s| Iin::generate(born, Sex::Female, s))
                .unwrap(),
            period: Period::parse("2025-03").unwrap(),
            amount: Money::parse(amount).unwrap(),
            header: PaymentHeader {
                ppc: Ppc::CONTRIBUTION,
                total_amount: (!total.is_empty()).then(|| Money::parse(total).unwrap()),
                line_count: count,
            },
            partition: 0,
            offset: u64::from(n),
            recorded_at: "2025-04-10T10:00:00Z".parse().unwrap(),
        }
    }

    fn key() -> PaymentKey {
        PaymentKey {
            payer: (0..).find_map(|s| Bin::generate(15, 3, s)).unwrap().into(),
            document_number: "PP-1".into(),
            document_date: None,
            received_on: NaiveDate::from_ymd_opt(2025, 4, 10).unwrap(),
            line: None,
        }
    }

    /// Inputs §7, as a table: (lines as (amount, total, count), mismatched,
    /// incomplete).
    #[test]
    fn rules_7_lines_are_reconciled_with_their_payment() {
        type Row = (&'static [(&'static str, &'static str, u32)], bool, bool);
        let table: [Row; 8] = [
            // The case: 425,000.00 under a total of 4,250.00.
            (&[("425000.00", "4250.00", 1)], true, false),
            (&[("4250.00", "4250.00", 1)], false, false),
            (
                &[("1000.00", "3000.00", 2), ("2000.00", "3000.00", 2)],
                false,
                false,
            ),
            (&[("1000.00", "3000.00", 2)], false, true),
            (
                &[
                    ("1000.00", "3000.00", 2),
                    ("2000.00", "3000.00", 2),
                    ("1.00", "3000.00", 2),
                ],
                true,
                false,
            ),
            (
                &[("1000.00", "3000.00", 2), ("2000.00", "3500.00", 2)],
                true,
                true,
            ),
            (&[("1000.00", "", 0), ("2000.00", "", 0)], false, false),
            (&[("1000.00", "", 3), ("2000.00", "", 3)], false, true),
        ];
        let cal = Calendar::built_in();
        let later: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let same_day: DateTime<Utc> = "2025-04-10T12:00:00Z".parse().unwrap();
        // Neither a total nor a count: nothing to reconcile with.
        let bare = reconcile(&cal, key(), &[line(1, "1000.00", "", 0)], later);
        assert!(bare.unverifiable && !bare.unreconciled(), "{bare:?}");
        for (i, (lines, mismatched, incomplete)) in table.iter().enumerate() {
            let lines: Vec<PaymentLine> = lines
                .iter()
                .enumerate()
                .map(|(n, (a, t, c))| line(n as u16 + 1, a, t, *c))
                .collect();
            let r = reconcile(&cal, key(), &lines, later);
            assert_eq!(!r.mismatches.is_empty(), *mismatched, "row {i}: {r:?}");
            assert_eq!(r.incomplete, *incomplete, "row {i}: {r:?}");
            assert_eq!(r.overdue, *incomplete, "row {i}");
            assert_eq!(r.unreconciled(), *mismatched || *incomplete, "row {i}");
            // Before the deadline an incomplete payment is still arriving.
            let early = reconcile(&cal, key(), &lines, same_day);
            assert!(!early.overdue, "row {i}");
            // Order does not matter.
            let mut reversed = lines.clone();
            reversed.reverse();
            assert_eq!(reconcile(&cal, key(), &reversed, later), r, "row {i}");
        }
    }
}
