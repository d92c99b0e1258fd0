//! Month close: a `MonthClosed` marker on a partition makes the projector
//! write, for that partition, one `MonthlyProjection` per participant with
//! activity or an open benefit in the period, then the partition's summary.
//! The marker sits in the log, so every replay, on any number of instances,
//! writes the same bytes.

use crate::{ProjectError, Sink, Totals};
use ledger_core::authority::Domain;
use ledger_core::{Authorization, Context};
use ledger_proto::monthly::{self, Control, Provenance, Summary};
use ledger_store::{par_map, Kv, LedgerStore, StoreError};
use ledger_stream::Record;
use prost::Message as _;

/// Accounts read, projected and written at a time: memory stays flat
/// however many participants a partition has.
const CHUNK: usize = 8192;

/// The `<topic>.monthly` key of partition `p`'s summaries.
pub fn summary_key(p: u32) -> Vec<u8> {
    format!("summary/{p}").into_bytes()
}

/// A batch's restated projections, then its summary revisions, as
/// `<topic>.monthly` records.
pub fn restated(w: &ledger_store::WriteBatch) -> Vec<(Vec<u8>, Vec<u8>)> {
    let projections = w
        .projections
        .iter()
        .map(|(_, _, iin, _, b)| (iin.as_bytes().to_vec(), b.clone()));
    let summaries = w
        .summaries
        .iter()
        .map(|(p, _, _, _, b)| (summary_key(*p), b.clone()));
    projections.chain(summaries).collect()
}

/// The control record `r` carries, if it is one that decodes. The loop
/// judges its signature when it reaches it ([`judge_control`]); one that
/// fails is dead-lettered through the event path with its reason.
pub fn marker(r: &Record) -> Option<Control> {
    if !monthly::is_control_key(&r.key) {
        return None;
    }
    monthly::decode_control(&r.value).ok()
}

/// Decodes a control record and judges its signature at its record time
/// or its partition's `clock`, whichever is later (a record time the
/// ledger does not take judges as unauthorized under a trust file).
pub fn judge_control(
    ctx: &Context,
    r: &Record,
    clock: Option<i64>,
) -> Result<(Control, Authorization), String> {
    let (control, signed) = monthly::decode_control_signed(&r.value)?;
    let verdict = match ctx.record_times.check(r.timestamp_ms) {
        Ok(own) => ctx.trust.authorize(
            control.kind(),
            Domain::Control,
            signed.as_ref().map(|(s, b)| (s, b.as_slice())),
            ledger_core::authority::judged_at(own, clock),
        ),
        Err(_) if matches!(ctx.trust, ledger_core::Policy::Open) => Authorization::Open,
        Err(why) => Authorization::Unauthorized(format!(
            "unauthorized: {} cannot be judged: {why}",
            control.kind()
        )),
    };
    if !verdict.is_unauthorized() {
        check_month(ctx, &control, r, clock)?;
    }
    Ok((control, verdict))
}

/// Issue 25: a marker for a month that had not ended when it was recorded
/// (by the later of its record time and its partition's clock), or that
/// ended before the ledger's epoch, closes nothing unless its operator
/// recorded the override: the projector is the last line against a marker
/// another tool published. The refusal is the marker's dead letter.
fn check_month(
    ctx: &Context,
    control: &Control,
    r: &Record,
    clock: Option<i64>,
) -> Result<(), String> {
    let Control::MonthClosed {
        period, overrides, ..
    } = control;
    // Judged by the marker's own record time: `close-month` writes the same
    // one to every partition, so every partition decides alike (a
    // partition's clock can be pushed ahead by one future-dated record and
    // would close a month on that partition alone). The clock stands in
    // only for a marker whose time the ledger does not take.
    let own = ctx.record_times.check(r.timestamp_ms).ok();
    let clock = clock.and_then(chrono::DateTime::from_timestamp_millis);
    let Some(at) = own.or(clock) else {
        return Err(format!(
            "month_closed for {period} cannot be judged: its record time {} ms is not one \
             the ledger takes, and its partition has no clock",
            r.timestamp_ms
        ));
    };
    ledger_core::close::check_close(
        &ctx.calendar,
        ctx.record_times.epoch,
        *period,
        at,
        *overrides,
    )
    .map_err(|why| format!("month_closed refused: {why}"))
}

/// Handles one control record of a partition whose store holds everything
/// before it; writes the partition's next offset past it.
pub fn handle<B: Kv>(
    store: &LedgerStore<B>,
    sink: &mut dyn Sink,
    r: &Record,
    control: Control,
) -> Result<Totals, ProjectError> {
    match control {
        Control::MonthClosed {
            period, closed_by, ..
        } => {
            if let Some((_, at)) = store.closed(r.partition, period)? {
                tracing::info!(
                    partition = r.partition,
                    offset = r.offset,
                    %period,
                    closed_at = at,
                    "period already closed on this partition: marker ignored"
                );
                // Only the offset moves past the marker.
                store.write(&ledger_store::WriteBatch {
                    offsets: vec![(r.partition, r.offset + 1)],
                    ..Default::default()
                })?;
                return Ok(Totals::default());
            }
            close(store, sink, r, period, &closed_by)
        }
    }
}

fn close<B: Kv>(
    store: &LedgerStore<B>,
    sink: &mut dyn Sink,
    r: &Record,
    period: ledger_core::Period,
    closed_by: &str,
) -> Result<Totals, ProjectError> {
    let p = r.partition;
    let started = std::time::Instant::now();
    let mut summary = Summary::default();
    let mut after = None;
    loop {
        let chunk = store.accounts_after(p, after.as_ref(), CHUNK)?;
        let Some(last) = chunk.last() else { break };
        after = Some(last.account.iin);
        let projected = par_map(&chunk, |rec| {
            monthly::projection(
                &rec.account,
                period,
                Provenance {
                    partition: p,
                    offset: r.offset,
                    revision: 1,
                    reason: "month closed".into(),
                    chain_head: rec.head,
                },
            )
            .map(|m| (rec.account.iin, m))
        });
        let mut items = Vec::with_capacity(projected.len());
        for (iin, m) in projected.into_iter().flatten() {
            summary.add(&m).map_err(|e| {
                StoreError::Backend(format!("month close of {period} on partition {p}: {e}"))
            })?;
            items.push((p, period, iin, 1, m.encode_to_vec()));
        }
        store.put_projections(&items)?;
        let keyed: Vec<(Vec<u8>, Vec<u8>)> = items
            .into_iter()
            .map(|(_, _, iin, _, bytes)| (iin.as_bytes().to_vec(), bytes))
            .collect();
        sink.monthly(&keyed).map_err(ProjectError::Publish)?;
    }
    let summary_bytes = summary.to_message(p, period, 1, r.offset).encode_to_vec();
    sink.monthly(&[(summary_key(p), summary_bytes.clone())])
        .map_err(ProjectError::Publish)?;
    store.finish_close(p, period, 1, r.offset, summary_bytes, r.offset + 1)?;
    tracing::info!(
        partition = p,
        offset = r.offset,
        %period,
        closed_by,
        projections = summary.projections,
        seconds = started.elapsed().as_secs_f64(),
        "month closed"
    );
    Ok(Totals {
        months_closed: 1,
        projections: u64::from(summary.projections),
        ..Totals::default()
    })
}
