//! `si-ledger payments`: every payment order the store's contribution
//! lines belong to, reconciled with its header (Rules §7: the payment's
//! total amount and number of lines; `ledger_core::payments`). Lines of one
//! payment sit on many partitions: they are gathered from the history
//! here, at query time, so the projector's write path carries nothing more.

use crate::common::open_existing_store;
use anyhow::Result;
use clap::Args;
use ledger_core::payments::{reconcile, PaymentHeader, PaymentKey, PaymentLine, Reconciliation};
use ledger_core::{mask_id, Context, Event, IdKind, Outcome, Period};
use ledger_store::{Kv, LedgerStore};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Args)]
pub struct PaymentsArgs {
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Only payments still short of lines or money past their recording
    /// deadline.
    #[arg(long, conflicts_with = "mismatched")]
    pub incomplete: bool,
    /// Only payments whose lines disagree with their header or each other.
    #[arg(long, conflicts_with = "all")]
    pub mismatched: bool,
    /// Every payment, reconciled ones too (without a flag: every one that
    /// is not reconciled: mismatched, incomplete or with nothing to
    /// reconcile with).
    #[arg(long, conflicts_with = "incomplete")]
    pub all: bool,
    #[arg(long)]
    pub json: bool,
}

/// Every payment with a recorded line (credited, returned, or redirected
/// by a merge to the identifier it became), with its
/// lines, reconciled as of the latest record time the store holds (the
/// log's own "now": the same store always gives the same verdicts, and so
/// the same report).
pub fn gather<B: Kv>(
    ctx: &Context,
    store: &LedgerStore<B>,
) -> Result<Vec<(Reconciliation, Vec<PaymentLine>)>> {
    let mut payments: BTreeMap<PaymentKey, Vec<PaymentLine>> = BTreeMap::new();
    let mut failed = None;
    let mut latest = i64::MIN;
    store.for_each_history_entry(|e| {
        latest = latest.max(e.timestamp_ms);
        // A line counts once toward its payment: where it was recorded,
        // credited or returned, or on the identifier it names when a merge
        // redirected it (the transfer that carries it on is not counted
        // again: transfers are not `ContributionPaid` entries).
        if !matches!(
            e.outcome,
            Outcome::Applied { .. } | Outcome::Returned { .. } | Outcome::Redirected { .. }
        ) {
            return true;
        }
        let envelope = match ledger_proto::decode_envelope(&e.event) {
            Ok((envelope, _)) => envelope,
            Err(err) => {
                failed = Some(anyhow::anyhow!(
                    "history entry at partition {} offset {}: {err}",
                    e.position.partition,
                    e.position.offset
                ));
                return false;
            }
        };
        if let Event::ContributionPaid(c) = envelope.event {
            let key = PaymentKey {
                payer: c.payment.payer_id,
                document_number: c.payment.document_number.clone(),
                document_date: c.payment.document_date,
                received_on: c.payment.received_on,
                line: c
                    .payment
                    .document_number
                    .is_empty()
                    .then(|| envelope.event_id.to_string()),
            };
            payments.entry(key).or_default().push(PaymentLine {
                event_id: envelope.event_id.to_string(),
                iin: envelope.iin,
                period: c.period,
                amount: c.amount,
                header: PaymentHeader {
                    ppc: c.payment.ppc,
                    total_amount: c.payment.total_amount,
                    line_count: c.payment.line_count,
                },
                partition: e.position.partition,
                offset: e.position.offset,
                recorded_at: chrono::DateTime::from_timestamp_millis(e.timestamp_ms)
                    .unwrap_or_default(),
            });
        }
        true
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    let now = chrono::DateTime::from_timestamp_millis(latest).unwrap_or_default();
    Ok(payments
        .into_iter()
        .map(|(key, lines)| (reconcile(&ctx.calendar, key, &lines, now), lines))
        .collect())
}

/// Payments with a line for `period` that are not reconciled: what the
/// monthly report counts.
pub fn unreconciled_in<B: Kv>(
    ctx: &Context,
    store: &LedgerStore<B>,
    period: Period,
) -> Result<u64> {
    Ok(gather(ctx, store)?
        .iter()
        .filter(|(r, lines)| r.unreconciled() && lines.iter().any(|l| l.period == period))
        .count() as u64)
}

/// A payer's id as shown: a BIN whole, an entrepreneur's IIN masked.
fn payer(r: &Reconciliation) -> String {
    match r.key.payer.kind() {
        IdKind::Bin => r.key.payer.to_string(),
        IdKind::Iin => mask_id(r.key.payer.as_str()),
    }
}

pub fn run(ctx: &Context, args: &PaymentsArgs) -> Result<i32> {
    let store = open_existing_store(&args.data)?;
    let all = gather(ctx, &store)?;
    let shown: Vec<&(Reconciliation, Vec<PaymentLine>)> = all
        .iter()
        .filter(|(r, _)| {
            if args.incomplete {
                r.overdue
            } else if args.mismatched {
                !r.mismatches.is_empty()
            } else {
                args.all || r.unreconciled() || r.incomplete || r.unverifiable
            }
        })
        .collect();
    use std::fmt::Write as _;
    let mut out = String::new();
    if args.json {
        let rows: Vec<serde_json::Value> = shown
            .iter()
            .map(|(r, lines)| {
                serde_json::json!({
                    "payer": payer(r),
                    "document_number": r.key.document_number,
                    "document_date": r.key.document_date,
                    "received_on": r.key.received_on,
                    "ppc": r.header.ppc.as_str(),
                    "total_amount": r.header.total_amount,
                    "line_count": r.header.line_count,
                    "lines": r.lines,
                    "lines_total": r.total,
                    "mismatches": r.mismatches,
                    "incomplete": r.incomplete,
                    "deadline": r.deadline.to_rfc3339(),
                    "overdue": r.overdue,
                    "unverifiable": r.unverifiable,
                    "recorded": lines.iter().map(|l| serde_json::json!({
                        "event_id": l.event_id,
                        "iin": l.iin.masked(),
                        "period": l.period,
                        "amount": l.amount,
                        "partition": l.partition,
                        "offset": l.offset,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        out = serde_json::to_string_pretty(&rows)?;
        out.push('\n');
    } else {
        let unreconciled = all.iter().filter(|(r, _)| r.unreconciled()).count();
        writeln!(
            out,
            "{} payments, {} unreconciled; {} shown",
            all.len(),
            unreconciled,
            shown.len()
        )?;
        for (r, _) in &shown {
            let total = r
                .header
                .total_amount
                .map_or_else(|| "no total".to_string(), |t| format!("total {t}"));
            let state = if r.unverifiable {
                "no total and no line count: nothing to reconcile with".to_string()
            } else if !r.mismatches.is_empty() {
                format!("MISMATCHED: {}", r.mismatches.join("; "))
            } else if r.overdue {
                format!("INCOMPLETE past its deadline {}", r.deadline.to_rfc3339())
            } else if r.incomplete {
                "incomplete, within its deadline".to_string()
            } else {
                "reconciled".to_string()
            };
            writeln!(
                out,
                "  payer {} document {} received {}: {} of {} lines, {} of {total} — {state}",
                payer(r),
                r.key.document_number,
                r.key.received_on,
                r.lines,
                r.header.line_count,
                r.total
            )?;
        }
    }
    use std::io::Write as _;
    crate::common::output_done(std::io::stdout().lock().write_all(out.as_bytes()))
}
