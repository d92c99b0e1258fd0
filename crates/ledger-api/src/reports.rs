//! The monthly report to the authorized body (Rules, "monthly report"),
//! from the projections and summaries month closes stored: what
//! `si-ledger report monthly` prints and `GET /v1/reports/monthly/{period}`
//! answers (`docs/reporting.md`).

use ledger_core::Period;
use ledger_proto::monthly::Summary;
use ledger_proto::v1 as pb;
use ledger_store::{Kv, LedgerStore, StoreError};
use prost::Message as _;
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Corrupt(String),
    #[error(
        "{period} is not closed on partitions {open:?} of {partitions}: run \
         `si-ledger close-month {period}` and let the projector reach the markers"
    )]
    Open {
        period: Period,
        open: Vec<u32>,
        partitions: u32,
    },
}

/// A month's report: the JSON of `report monthly --json` without
/// `unreconciled_payments` (the caller adds it), and whether the
/// projections' sum equals the partitions' summaries.
pub struct Report {
    pub json: serde_json::Value,
    pub reconciled: bool,
}

/// The report of `period`, if every partition closed it.
pub fn monthly<B: Kv>(store: &LedgerStore<B>, period: Period) -> Result<Report, ReportError> {
    let partitions = store.meta()?.map_or(0, |m| m.partitions);
    let m = month(store, period)?;
    let open = m.open(partitions);
    if !open.is_empty() {
        return Err(ReportError::Open {
            period,
            open,
            partitions,
        });
    }
    let (json, reconciled) = build_report(period, partitions, &m)?;
    Ok(Report { json, reconciled })
}

/// The 12 months up to `period`, oldest first, each with its partitions'
/// summaries added up if every partition closed it.
pub fn twelve_months<B: Kv>(
    store: &LedgerStore<B>,
    period: Period,
) -> Result<Vec<(Period, Option<Summary>)>, ReportError> {
    let partitions = store.meta()?.map_or(0, |m| m.partitions);
    let mut months = Vec::new();
    let mut p = period;
    for _ in 0..12 {
        months.push((p, closed_summary(store, p, partitions)?));
        p = p.previous();
    }
    months.reverse();
    Ok(months)
}

/// The periods every partition has closed, oldest first, with the highest
/// summary revision among the partitions (above 0: restated).
pub fn closed_months<B: Kv>(store: &LedgerStore<B>) -> Result<Vec<(Period, u32)>, ReportError> {
    let partitions = store.meta()?.map_or(0, |m| m.partitions);
    let mut seen: BTreeMap<Period, (u32, u32)> = BTreeMap::new();
    for p in 0..partitions {
        for (period, rev) in store.closed_periods(p)? {
            let e = seen.entry(period).or_insert((0, 0));
            e.0 += 1;
            e.1 = e.1.max(rev);
        }
    }
    Ok(seen
        .into_iter()
        .filter(|(_, (n, _))| *n == partitions)
        .map(|(period, (_, rev))| (period, rev))
        .collect())
}

/// Each partition's latest summary revision of `period`.
pub fn revisions<B: Kv>(
    store: &LedgerStore<B>,
    period: Period,
) -> Result<Vec<(u32, u32)>, ReportError> {
    Ok(latest_summaries(store, period)?
        .iter()
        .map(|(p, s)| (*p, s.revision))
        .collect())
}

/// The latest revision of each participant's projection, and of each
/// partition's summary.
pub struct Month {
    pub projections: Vec<pb::MonthlyProjection>,
    pub summaries: BTreeMap<u32, pb::PartitionMonthSummary>,
}

fn month<B: Kv>(store: &LedgerStore<B>, period: Period) -> Result<Month, ReportError> {
    let mut latest: BTreeMap<(u32, ledger_core::Iin), (u32, Vec<u8>)> = BTreeMap::new();
    for p in store.projections(period)? {
        let e = latest
            .entry((p.partition, p.iin))
            .or_insert((0, Vec::new()));
        if p.revision >= e.0 {
            *e = (p.revision, p.bytes);
        }
    }
    let projections = latest
        .into_values()
        .map(|(_, b)| pb::MonthlyProjection::decode(b.as_slice()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ReportError::Corrupt(format!("a stored projection does not decode: {e}")))?;
    let summaries = latest_summaries(store, period)?;
    Ok(Month {
        projections,
        summaries,
    })
}

/// Each partition's latest summary of `period`, for the partitions that
/// closed it.
fn latest_summaries<B: Kv>(
    store: &LedgerStore<B>,
    period: Period,
) -> Result<BTreeMap<u32, pb::PartitionMonthSummary>, ReportError> {
    let partitions = store.meta()?.map_or(0, |m| m.partitions);
    let mut out = BTreeMap::new();
    for p in 0..partitions {
        if let Some((_, bytes)) = store.latest_summary(p, period)? {
            let m = pb::PartitionMonthSummary::decode(bytes.as_slice()).map_err(|e| {
                ReportError::Corrupt(format!("a stored summary does not decode: {e}"))
            })?;
            out.insert(p, m);
        }
    }
    Ok(out)
}

/// The partitions' summaries added up.
fn total<'a>(
    summaries: impl IntoIterator<Item = &'a pb::PartitionMonthSummary>,
) -> Result<Summary, ReportError> {
    let mut total = Summary::default();
    for s in summaries {
        total
            .merge(&Summary::from_message(s).map_err(ReportError::Corrupt)?)
            .map_err(ReportError::Corrupt)?;
    }
    Ok(total)
}

/// The sum of the latest summaries of `period`, if every partition closed it.
pub fn closed_summary<B: Kv>(
    store: &LedgerStore<B>,
    period: Period,
    partitions: u32,
) -> Result<Option<Summary>, ReportError> {
    let last = latest_summaries(store, period)?;
    if last.len() as u32 != partitions {
        return Ok(None);
    }
    Ok(Some(total(last.values())?))
}

/// An SVG chart of up to 12 months: contributions as bars, the share of
/// lines recorded within one working day as a line; months not closed on
/// every partition are marked "open".
pub fn chart_svg(months: &[(Period, Option<Summary>)]) -> String {
    let (w, h, left, top, bottom) = (760.0, 360.0, 70.0, 40.0, 300.0);
    let amount = |s: &Summary| s.contributions.to_string().parse::<f64>().unwrap_or(0.0);
    let max = months
        .iter()
        .filter_map(|(_, s)| s.as_ref().map(amount))
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let slot = (w - left - 20.0) / months.len().max(1) as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         font-family=\"sans-serif\" font-size=\"11\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{left}\" y=\"20\" font-size=\"14\">Contributions by month (bars) and share \
         recorded within one working day (line)</text>\n\
         <text x=\"{}\" y=\"{top}\" text-anchor=\"end\">{max:.0}</text>\n\
         <text x=\"{}\" y=\"{bottom}\" text-anchor=\"end\">0</text>\n\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"darkorange\">100% on time</text>\n\
         <line x1=\"{left}\" y1=\"{bottom}\" x2=\"{}\" y2=\"{bottom}\" stroke=\"black\"/>\n",
        left - 4.0,
        left - 4.0,
        w - 20.0,
        top - 6.0,
        w - 20.0
    );
    let mut points = Vec::new();
    for (i, (period, s)) in months.iter().enumerate() {
        let x = left + i as f64 * slot;
        svg.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{period}</text>\n",
            x + slot / 2.0,
            bottom + 16.0
        ));
        let Some(s) = s else {
            svg.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\" fill=\"gray\">open</text>\n",
                x + slot / 2.0,
                bottom - 6.0
            ));
            continue;
        };
        let bar = (bottom - top) * amount(s) / max;
        svg.push_str(&format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bar:.1}\" fill=\"steelblue\">\
             <title>{period}: {}</title></rect>\n",
            x + slot * 0.15,
            bottom - bar,
            slot * 0.7,
            s.contributions
        ));
        let share = if s.lines == 0 {
            1.0
        } else {
            f64::from(s.lines - s.late_recordings.min(s.lines)) / f64::from(s.lines)
        };
        points.push(format!(
            "{:.1},{:.1}",
            x + slot / 2.0,
            bottom - (bottom - top) * share
        ));
    }
    if !points.is_empty() {
        svg.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"darkorange\" stroke-width=\"2\"/>\n",
            points.join(" ")
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

fn share(on_time: u32, all: u32) -> String {
    if all == 0 {
        return "1.0000".into();
    }
    format!("{:.4}", f64::from(on_time) / f64::from(all))
}

impl Month {
    /// Partitions without a summary of the period.
    fn open(&self, partitions: u32) -> Vec<u32> {
        (0..partitions)
            .filter(|p| !self.summaries.contains_key(p))
            .collect()
    }
}

/// The report's figures from a month's latest projections and summaries,
/// and whether the two reconcile.
pub fn build_report(
    period: Period,
    partitions: u32,
    m: &Month,
) -> Result<(serde_json::Value, bool), ReportError> {
    let mut from_projections = Summary::default();
    for p in &m.projections {
        from_projections.add(p).map_err(ReportError::Corrupt)?;
    }
    let from_summaries = total(m.summaries.values())?;
    let reconciled = from_projections == from_summaries;
    let t = &from_projections;
    let revision = m.summaries.values().map(|s| s.revision).max().unwrap_or(0);
    let by_ppc: BTreeMap<&String, serde_json::Value> = t
        .by_ppc
        .iter()
        .map(|(k, (c, r))| {
            (
                k,
                serde_json::json!({"credited": c.to_string(), "refunded": r.to_string()}),
            )
        })
        .collect();
    let benefits: BTreeMap<&String, String> = t
        .benefits_paid
        .iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
    let mut report = serde_json::json!({
        "period": period.to_string(),
        "revision": revision,
        "partitions": partitions,
        "projections": t.projections,
        "participants": t.participants_with_contributions,
        "on_time_share": share(t.lines - t.late_recordings.min(t.lines), t.lines),
        "by_ppc": by_ppc,
        "benefit_recipients": t.benefit_recipients,
        "benefits_by_type": benefits,
        "pension_withheld_total": t.pension_withheld.to_string(),
        "reconciliation": {
            "projections_sum_equals_partition_summaries": reconciled,
            "summary_projections": from_summaries.projections,
            "summary_contributions_total": from_summaries.contributions.to_string(),
        },
    });
    if let serde_json::Value::Object(r) = &mut report {
        r.extend(totals_json(t));
    }
    Ok((report, reconciled))
}

/// One row per figure: `figure,code,value`.
pub fn csv(r: &serde_json::Value) -> String {
    let mut out = String::from("figure,code,value\n");
    let plain = [
        "period",
        "revision",
        "partitions",
        "projections",
        "participants",
        "contributions_total",
        "penalties_total",
        "refunds_total",
        "returned_total",
        "lines",
        "late_recordings",
        "on_time_share",
        "benefit_recipients",
        "pension_withheld_total",
        "unreconciled_payments",
    ];
    let value = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    for k in plain.into_iter().filter(|k| !r[*k].is_null()) {
        out.push_str(&format!("{k},,{}\n", value(&r[k])));
    }
    for (ppc, v) in r["by_ppc"].as_object().into_iter().flatten() {
        out.push_str(&format!("ppc_credited,{ppc},{}\n", value(&v["credited"])));
        out.push_str(&format!("ppc_refunded,{ppc},{}\n", value(&v["refunded"])));
    }
    for (t, v) in r["benefits_by_type"].as_object().into_iter().flatten() {
        out.push_str(&format!("benefits_paid,{t},{}\n", value(v)));
    }
    out
}

/// A month's sums and line counts as the report and the API's 12 months
/// name them: `contributions_total`, `penalties_total`, `refunds_total`,
/// `returned_total` (decimal strings, tenge), `lines`, `late_recordings`.
pub fn totals_json(t: &Summary) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert(
        "contributions_total".into(),
        t.contributions.to_string().into(),
    );
    m.insert("penalties_total".into(), t.penalties.to_string().into());
    m.insert("refunds_total".into(), t.refunds.to_string().into());
    m.insert("returned_total".into(), t.returned.to_string().into());
    m.insert("lines".into(), t.lines.into());
    m.insert("late_recordings".into(), t.late_recordings.into());
    m
}
