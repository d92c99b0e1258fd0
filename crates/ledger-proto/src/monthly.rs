//! Month close's messages (`proto/si/ledger/v1/reporting.proto`): a
//! participant's [`projection`] of one period from the account, and a
//! partition's [`Summary`] of its projections. Pure: the same account gives
//! the same bytes.

use crate::v1 as pb;
use ledger_core::authority::{Domain, Signature, Signer};
use ledger_core::close::CloseOverrides;
use ledger_core::{Account, Money, Period, Ppc};
use std::collections::BTreeMap;

/// The key prefix of control records.
pub const CONTROL_KEY_PREFIX: &[u8] = b"control/";
/// The key of a month-closed marker.
pub const MONTH_CLOSED_KEY: &[u8] = b"control/month-closed";

/// A decoded control record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    MonthClosed {
        period: Period,
        closed_by: String,
        /// What the operator let through ([`ledger_core::close::check_close`]).
        overrides: CloseOverrides,
    },
}

/// Whether a record key names a control record.
pub fn is_control_key(key: &[u8]) -> bool {
    key.starts_with(CONTROL_KEY_PREFIX)
}

/// Decodes a control record's value.
pub fn decode_control(value: &[u8]) -> Result<Control, String> {
    decode_control_signed(value).map(|(c, _)| c)
}

/// [`decode_control`], with the record's signature and its canonical bytes
/// without it (what the operator signed), if signed.
pub fn decode_control_signed(
    value: &[u8],
) -> Result<(Control, Option<crate::convert::Signed>), String> {
    use prost::Message as _;
    let mut c = pb::Control::decode(value).map_err(|e| format!("control record: {e}"))?;
    let control = match &c.payload {
        Some(pb::control::Payload::MonthClosed(m)) => Control::MonthClosed {
            period: Period::parse(&m.period).map_err(|e| format!("month_closed.period: {e}"))?,
            closed_by: m.closed_by.clone(),
            overrides: CloseOverrides {
                unended: m.allow_unended,
                before_epoch: m.allow_before_epoch,
            },
        },
        None => return Err("control record: no payload".into()),
    };
    if let Some(sig) = &c.signature {
        crate::convert::check_signature(sig).map_err(|e| format!("control record: {e}"))?;
    }
    let signed = c.signature.take().map(|s| {
        (
            Signature {
                key_id: s.key_id,
                value: s.value,
            },
            c.encode_to_vec(),
        )
    });
    Ok((control, signed))
}

impl Control {
    /// The payload's wire name (`oneof payload` in `reporting.proto`).
    pub fn kind(&self) -> &'static str {
        match self {
            Control::MonthClosed { .. } => "month_closed",
        }
    }
}

/// The value of a month-closed marker, signed by `signer` if given (the
/// operator's key).
pub fn encode_month_closed(period: Period, closed_by: &str, signer: Option<&Signer>) -> Vec<u8> {
    encode_month_closed_with(period, closed_by, CloseOverrides::default(), signer)
}

/// [`encode_month_closed`] with the operator's `overrides` recorded.
pub fn encode_month_closed_with(
    period: Period,
    closed_by: &str,
    overrides: CloseOverrides,
    signer: Option<&Signer>,
) -> Vec<u8> {
    use prost::Message as _;
    let mut c = pb::Control {
        payload: Some(pb::control::Payload::MonthClosed(pb::MonthClosed {
            period: period.to_string(),
            closed_by: closed_by.to_string(),
            allow_unended: overrides.unended,
            allow_before_epoch: overrides.before_epoch,
        })),
        signature: None,
    };
    if let Some(signer) = signer {
        let s = signer.sign(Domain::Control, &c.encode_to_vec());
        c.signature = Some(pb::Signature {
            key_id: s.key_id,
            value: s.value,
        });
    }
    c.encode_to_vec()
}

fn add(a: Money, b: Money) -> Result<Money, String> {
    a.checked_add(b)
        .ok_or_else(|| "a monthly sum overflows".to_string())
}

/// Where a projection comes from besides the account.
pub struct Provenance {
    pub partition: u32,
    pub offset: u64,
    pub revision: u32,
    pub reason: String,
    pub chain_head: [u8; 32],
}

/// The account's projection of `period`, if it had activity for the period
/// (a line, a refund, a benefit paid) or a benefit open in it.
pub fn projection(
    account: &Account,
    period: Period,
    from: Provenance,
) -> Option<pb::MonthlyProjection> {
    if account.merged_into.is_some() {
        // Its figures went to the identifier it was merged into, which
        // projects them (see `merged_away`).
        return None;
    }
    let t = account.periods.get(&period);
    let active = t.is_some();
    if !active && !account.benefits.values().any(|b| b.open_in(period)) {
        return None;
    }
    let t = t.cloned().unwrap_or_default();
    let mut by_ppc: BTreeMap<Ppc, (Money, Money)> = BTreeMap::new();
    for (k, line) in account.payers.iter().filter(|(k, _)| k.period == period) {
        let e = by_ppc.entry(k.ppc).or_insert((Money::ZERO, Money::ZERO));
        e.0 = e.0.checked_add(line.credited).unwrap_or(e.0);
        e.1 = e.1.checked_add(line.refunded).unwrap_or(e.1);
    }
    let participation = account
        .periods
        .iter()
        .filter(|(p, t)| {
            **p <= period
                && t.contributions
                    .checked_sub(t.refunded_contributions)
                    .is_some_and(|net| net.is_positive())
        })
        .count();
    Some(pb::MonthlyProjection {
        iin: account.iin.as_str().to_string(),
        period: period.to_string(),
        revision: from.revision,
        reason: from.reason,
        contributions: t.contributions.to_string(),
        penalties: t.penalties.to_string(),
        refunds: t
            .refunded_contributions
            .checked_add(t.refunded_penalties)
            .unwrap_or(Money::ZERO)
            .to_string(),
        returned: t.returned().to_string(),
        benefits_paid: t
            .benefits_paid()
            .map(|(ty, a)| pb::BenefitAmount {
                benefit_type: ty.code().to_string(),
                amount: a.to_string(),
            })
            .collect(),
        pension_withheld: t.pension_withheld().to_string(),
        participation_months: u32::try_from(participation).unwrap_or(u32::MAX),
        lines: t.lines,
        late_recordings: t.late_lines(),
        by_ppc: by_ppc
            .into_iter()
            .map(|(ppc, (credited, refunded))| pb::PpcAmounts {
                ppc: ppc.as_str().to_string(),
                credited: credited.to_string(),
                refunded: refunded.to_string(),
            })
            .collect(),
        account_chain_head: from.chain_head.to_vec(),
        partition: from.partition,
        offset: from.offset,
    })
}

/// The projection that restates an identifier's earlier projection of
/// `period` after it was merged into another (seed `002_…`): every figure
/// zero, since the other identifier's projection now carries them.
pub fn merged_away(account: &Account, period: Period, from: Provenance) -> pb::MonthlyProjection {
    let zero = Money::ZERO.to_string();
    pb::MonthlyProjection {
        iin: account.iin.as_str().to_string(),
        period: period.to_string(),
        revision: from.revision,
        reason: from.reason,
        contributions: zero.clone(),
        penalties: zero.clone(),
        refunds: zero.clone(),
        returned: zero.clone(),
        pension_withheld: zero,
        account_chain_head: from.chain_head.to_vec(),
        partition: from.partition,
        offset: from.offset,
        // No lines, benefits or participation.
        ..Default::default()
    }
}

fn money(s: &str) -> Result<Money, String> {
    Money::parse(s).map_err(|e| format!("projection amount {s:?}: {e}"))
}

/// Counts and sums over a partition's projections of one period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub projections: u32,
    pub participants_with_contributions: u32,
    pub benefit_recipients: u32,
    pub contributions: Money,
    pub penalties: Money,
    pub refunds: Money,
    pub returned: Money,
    pub lines: u32,
    pub late_recordings: u32,
    pub pension_withheld: Money,
    pub benefits_paid: BTreeMap<String, Money>,
    /// PPC → (credited, refunded).
    pub by_ppc: BTreeMap<String, (Money, Money)>,
}

impl Summary {
    /// One projection as a summary of one.
    pub fn of(p: &pb::MonthlyProjection) -> Result<Summary, String> {
        let contributions = money(&p.contributions)?;
        let mut benefits_paid: BTreeMap<String, Money> = BTreeMap::new();
        for b in &p.benefits_paid {
            let e = benefits_paid.entry(b.benefit_type.clone()).or_default();
            *e = add(*e, money(&b.amount)?)?;
        }
        let mut by_ppc: BTreeMap<String, (Money, Money)> = BTreeMap::new();
        for x in &p.by_ppc {
            let e = by_ppc.entry(x.ppc.clone()).or_default();
            e.0 = add(e.0, money(&x.credited)?)?;
            e.1 = add(e.1, money(&x.refunded)?)?;
        }
        Ok(Summary {
            projections: 1,
            participants_with_contributions: u32::from(contributions.is_positive()),
            benefit_recipients: u32::from(!p.benefits_paid.is_empty()),
            contributions,
            penalties: money(&p.penalties)?,
            refunds: money(&p.refunds)?,
            returned: money(&p.returned)?,
            lines: p.lines,
            late_recordings: p.late_recordings,
            pension_withheld: money(&p.pension_withheld)?,
            benefits_paid,
            by_ppc,
        })
    }

    /// Adds one projection.
    pub fn add(&mut self, p: &pb::MonthlyProjection) -> Result<(), String> {
        self.combine(&Summary::of(p)?, true)
    }

    /// Takes one projection out again (a restatement replaces it).
    pub fn remove(&mut self, p: &pb::MonthlyProjection) -> Result<(), String> {
        self.combine(&Summary::of(p)?, false)
    }

    /// Adds another summary (for totals over partitions).
    pub fn merge(&mut self, o: &Summary) -> Result<(), String> {
        self.combine(o, true)
    }

    /// Adds `o` (`plus`) or takes it away; sums that reach zero leave the
    /// per-code maps, so a summary equals one built from what remains.
    fn combine(&mut self, o: &Summary, plus: bool) -> Result<(), String> {
        let count = |a: u32, b: u32| {
            if plus {
                a.saturating_add(b)
            } else {
                a.saturating_sub(b)
            }
        };
        let sum = |a: Money, b: Money| {
            if plus {
                a.checked_add(b)
            } else {
                a.checked_sub(b)
            }
            .ok_or_else(|| "a monthly sum overflows".to_string())
        };
        self.projections = count(self.projections, o.projections);
        self.participants_with_contributions = count(
            self.participants_with_contributions,
            o.participants_with_contributions,
        );
        self.benefit_recipients = count(self.benefit_recipients, o.benefit_recipients);
        self.lines = count(self.lines, o.lines);
        self.late_recordings = count(self.late_recordings, o.late_recordings);
        self.contributions = sum(self.contributions, o.contributions)?;
        self.penalties = sum(self.penalties, o.penalties)?;
        self.refunds = sum(self.refunds, o.refunds)?;
        self.returned = sum(self.returned, o.returned)?;
        self.pension_withheld = sum(self.pension_withheld, o.pension_withheld)?;
        for (k, v) in &o.benefits_paid {
            let e = self.benefits_paid.entry(k.clone()).or_default();
            *e = sum(*e, *v)?;
            if e.is_zero() {
                self.benefits_paid.remove(k);
            }
        }
        for (k, (c, r)) in &o.by_ppc {
            let e = self.by_ppc.entry(k.clone()).or_default();
            e.0 = sum(e.0, *c)?;
            e.1 = sum(e.1, *r)?;
            if e.0.is_zero() && e.1.is_zero() {
                self.by_ppc.remove(k);
            }
        }
        Ok(())
    }

    pub fn to_message(
        &self,
        partition: u32,
        period: Period,
        revision: u32,
        offset: u64,
    ) -> pb::PartitionMonthSummary {
        pb::PartitionMonthSummary {
            partition,
            period: period.to_string(),
            revision,
            offset,
            projections: self.projections,
            participants_with_contributions: self.participants_with_contributions,
            contributions: self.contributions.to_string(),
            penalties: self.penalties.to_string(),
            refunds: self.refunds.to_string(),
            returned: self.returned.to_string(),
            lines: self.lines,
            late_recordings: self.late_recordings,
            benefits_paid: self
                .benefits_paid
                .iter()
                .map(|(t, a)| pb::BenefitAmount {
                    benefit_type: t.clone(),
                    amount: a.to_string(),
                })
                .collect(),
            pension_withheld: self.pension_withheld.to_string(),
            by_ppc: self
                .by_ppc
                .iter()
                .map(|(ppc, (c, r))| pb::PpcAmounts {
                    ppc: ppc.clone(),
                    credited: c.to_string(),
                    refunded: r.to_string(),
                })
                .collect(),
            benefit_recipients: self.benefit_recipients,
        }
    }

    /// A summary message read back.
    pub fn from_message(m: &pb::PartitionMonthSummary) -> Result<Summary, String> {
        let mut benefits_paid = BTreeMap::new();
        for b in &m.benefits_paid {
            benefits_paid.insert(b.benefit_type.clone(), money(&b.amount)?);
        }
        let mut by_ppc = BTreeMap::new();
        for x in &m.by_ppc {
            by_ppc.insert(x.ppc.clone(), (money(&x.credited)?, money(&x.refunded)?));
        }
        Ok(Summary {
            projections: m.projections,
            participants_with_contributions: m.participants_with_contributions,
            benefit_recipients: m.benefit_recipients,
            contributions: money(&m.contributions)?,
            penalties: money(&m.penalties)?,
            refunds: money(&m.refunds)?,
            returned: money(&m.returned)?,
            lines: m.lines,
            late_recordings: m.late_recordings,
            pension_withheld: money(&m.pension_withheld)?,
            benefits_paid,
            by_ppc,
        })
    }
}
