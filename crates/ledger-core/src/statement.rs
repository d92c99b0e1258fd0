//! The account statement: what `si-ledger account` prints and the API will
//! serve. Field names are part of the contract for reporting jobs.

use crate::{Account, MergeRecord, Money, Period, PersonData};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub iin: String,
    pub person: Option<StatementPerson>,
    pub contributions_total: Money,
    pub penalties_total: Money,
    pub refunds_total: Money,
    pub returned_total: Money,
    pub participation_months: u32,
    pub late_recordings: u64,
    pub duplicates_ignored: u64,
    /// Lines credited while the register did not know the IIN: for review.
    pub unregistered_lines: u64,
    pub periods: Vec<StatementPeriod>,
    pub benefits: Vec<StatementBenefit>,
    pub rejections: Vec<StatementRejection>,
    pub history_len: u64,
    /// The identifier this one was merged into: it takes nothing more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<MergeRecord>,
    /// Identifiers merged into this one, whose history it holds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<MergeRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementPerson {
    pub source: &'static str,
    #[serde(flatten)]
    pub data: PersonData,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementPeriod {
    pub period: Period,
    pub contributions: Money,
    pub penalties: Money,
    pub refunds: Money,
    /// Contribution and penalty lines for the period returned to their
    /// payer (Rules §6).
    pub returned: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementBenefit {
    pub benefit_id: String,
    pub benefit_type: &'static str,
    pub status: &'static str,
    pub monthly_amount: Money,
    pub start_period: Period,
    pub end_period: Option<Period>,
    pub paid_total: Money,
    pub pension_withheld_total: Money,
    pub returned_total: Money,
    pub payments: u32,
    /// Where the assignment differs from the ledger's calculation: for
    /// review (DOMAIN §5).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub discrepancies: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementRejection {
    pub event_id: String,
    pub reason: String,
}

impl Statement {
    pub fn of(a: &Account) -> Statement {
        Statement {
            iin: a.iin.to_string(),
            // The register's latest record, else the latest credited line's.
            person: match a.register.last() {
                Some(r) => Some(StatementPerson {
                    source: "register",
                    data: r.clone(),
                }),
                None => a.person.as_ref().map(|p| StatementPerson {
                    source: if p.from_register {
                        "register"
                    } else {
                        "contribution_line"
                    },
                    data: p.data.clone(),
                }),
            },
            contributions_total: a.contributions_total,
            penalties_total: a.penalties_total,
            refunds_total: a.refunds_total,
            returned_total: a.returned_total,
            participation_months: a.participation_months(),
            late_recordings: a.late_recordings,
            duplicates_ignored: a.duplicates_ignored,
            unregistered_lines: a.unregistered_lines,
            // Periods with money credited or returned; a period that only
            // had benefits paid shows in the monthly projection.
            periods: a
                .periods
                .iter()
                .filter(|(_, t)| {
                    t.contributions != Money::ZERO
                        || t.penalties != Money::ZERO
                        || t.returned() != Money::ZERO
                })
                .map(|(p, t)| StatementPeriod {
                    period: *p,
                    contributions: t.contributions,
                    penalties: t.penalties,
                    refunds: t
                        .refunded_contributions
                        .checked_add(t.refunded_penalties)
                        .unwrap_or(Money::ZERO),
                    returned: t.returned(),
                })
                .collect(),
            benefits: a
                .benefits
                .iter()
                .map(|(id, b)| StatementBenefit {
                    benefit_id: id.clone(),
                    benefit_type: b.benefit_type.code(),
                    status: b.state.name(),
                    monthly_amount: b.monthly_amount,
                    start_period: b.start_period,
                    end_period: b.end_period,
                    paid_total: b.paid_total,
                    pension_withheld_total: b.pension_withheld_total,
                    returned_total: b.returned_total,
                    payments: b.payments,
                    discrepancies: b.discrepancies.clone(),
                })
                .collect(),
            rejections: a
                .rejections
                .iter()
                .map(|r| StatementRejection {
                    event_id: r.event_id.to_string(),
                    reason: r.reason.clone(),
                })
                .collect(),
            history_len: a.history_len,
            merged_into: a.merged_into.clone(),
            merged_from: a.merged_from.clone(),
        }
    }

    /// A human-readable rendering for the terminal.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "Account {}", self.iin);
        if let Some(p) = &self.person {
            let birth = p.data.birth_date.map(|d| d.to_string()).unwrap_or_default();
            let _ = writeln!(
                s,
                "  person        {} {} {} (born {birth}; from {})",
                p.data.surname, p.data.name, p.data.patronymic, p.source
            );
        }
        let _ = writeln!(
            s,
            "  contributions {:>14}",
            self.contributions_total.to_string()
        );
        let _ = writeln!(
            s,
            "  penalties     {:>14}",
            self.penalties_total.to_string()
        );
        let _ = writeln!(s, "  refunds       {:>14}", self.refunds_total.to_string());
        let _ = writeln!(s, "  returned      {:>14}", self.returned_total.to_string());
        let _ = writeln!(
            s,
            "  participation {} months; late recordings {}; duplicates ignored {}",
            self.participation_months, self.late_recordings, self.duplicates_ignored
        );
        if self.unregistered_lines > 0 {
            let _ = writeln!(
                s,
                "  review: {} lines credited while the register did not know the IIN",
                self.unregistered_lines
            );
        }
        let _ = writeln!(s, "  period    contributions   penalties     refunds");
        for p in &self.periods {
            let _ = writeln!(
                s,
                "  {}  {:>13} {:>11} {:>11}",
                p.period,
                p.contributions.to_string(),
                p.penalties.to_string(),
                p.refunds.to_string()
            );
        }
        for b in &self.benefits {
            let _ = writeln!(
                s,
                "  benefit {} type {} {}: {} a month, paid {} in {} payments, returned {}",
                b.benefit_id,
                b.benefit_type,
                b.status,
                b.monthly_amount,
                b.paid_total,
                b.payments,
                b.returned_total
            );
            for d in &b.discrepancies {
                let _ = writeln!(s, "    for review: {d}");
            }
        }
        for r in &self.rejections {
            let _ = writeln!(s, "  rejected {}: {}", r.event_id, r.reason);
        }
        let merge = |m: &MergeRecord| {
            format!(
                "{} on {} ({}; {})",
                m.other, m.decided_on.0, m.reason, m.event_id
            )
        };
        if let Some(m) = &self.merged_into {
            let _ = writeln!(s, "  CLOSED: merged into {}", merge(m));
        }
        for m in &self.merged_from {
            let _ = writeln!(s, "  merged from {}", merge(m));
        }
        s
    }
}
