//! `si-ledger close-month` (the marker on every partition) and
//! `si-ledger report monthly` (the report to the authorized body, from the
//! projections the markers produced).

use crate::common::open_existing_store;
use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};
use ledger_core::Period;
use ledger_proto::monthly::{encode_month_closed, Summary, MONTH_CLOSED_KEY};
use ledger_proto::v1 as pb;
use prost::Message as _;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Args)]
pub struct CloseMonthArgs {
    /// The period to close, `YYYY-MM`.
    pub period: String,
    /// The embedded log to append the marker to.
    #[arg(long, value_name = "DIR", conflicts_with = "brokers")]
    pub log: Option<PathBuf>,
    /// Kafka bootstrap brokers (with --topic).
    #[arg(long, requires = "topic")]
    pub brokers: Option<String>,
    #[arg(long, requires = "brokers")]
    pub topic: Option<String>,
    /// Who closes the month (recorded in the marker).
    #[arg(long, default_value = "si-ledger")]
    pub by: String,
    #[command(flatten)]
    pub kafka: crate::cluster::ClientArgs,
}

/// Appends a `MonthClosed` marker to every partition.
pub fn close_month(args: &CloseMonthArgs) -> Result<i32> {
    let period = Period::parse(&args.period).context("period")?;
    let signer = crate::trust::signer_for("month_closed")?;
    let value = encode_month_closed(period, &args.by, signer.as_deref());
    let now = chrono::Utc::now().timestamp_millis();
    let placed: Vec<(u32, u64)> = match (&args.log, &args.brokers, &args.topic) {
        (Some(dir), _, _) => {
            let log = ledger_stream::EmbeddedLog::open(dir)
                .with_context(|| format!("opening log {}", dir.display()))?;
            let mut appender = log.appender()?;
            let mut placed = Vec::new();
            for p in 0..log.partitions() {
                placed.extend(appender.append_to(p, &[(MONTH_CLOSED_KEY, now, &value)])?);
            }
            placed
        }
        (None, Some(brokers), Some(topic)) => {
            let cluster = args.kafka.cluster(brokers)?;
            let partitions = ledger_kafka::Watermarks::new(&cluster, topic)?.partitions()?;
            let mut publisher = ledger_kafka::Publisher::new(&cluster, topic)?;
            let mut placed = Vec::new();
            for p in 0..partitions {
                let d = publisher.publish_to(p, &[(MONTH_CLOSED_KEY, None, &value)])?;
                placed.extend(d.iter().map(|d| (d.partition, d.offset)));
            }
            placed
        }
        _ => bail!("give --log DIR or --brokers B --topic T"),
    };
    for (p, o) in &placed {
        println!("{period} closed on partition {p} at offset {o}");
    }
    Ok(0)
}

#[derive(Subcommand)]
pub enum ReportCommand {
    /// The monthly report to the authorized body (Rules §5).
    Monthly(MonthlyArgs),
    /// Every stored projection of a period, every revision, one JSON line
    /// each (proto3 JSON), by partition, IIN and revision.
    Projections(ProjectionsArgs),
    /// An example reporting job: reads `<T>.monthly`, waits for a summary of
    /// the period from every ledger partition, checks the counts, and
    /// writes the report (CSV and JSON).
    Consume(ConsumeArgs),
}

#[derive(Args)]
pub struct ConsumeArgs {
    #[arg(long)]
    pub brokers: String,
    /// The monthly topic, `<ledger topic>.monthly`.
    #[arg(long)]
    pub topic: String,
    /// The period, `YYYY-MM`.
    #[arg(long)]
    pub period: String,
    /// Where `report-<period>.csv` and `.json` go.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Give up after this many seconds without a new record.
    #[arg(long, default_value_t = 60)]
    pub idle_seconds: u64,
    #[command(flatten)]
    pub kafka: crate::cluster::ClientArgs,
}

/// The example reporting job: what any team's consumer does (see
/// docs/reporting.md), in Rust.
pub fn consume(args: &ConsumeArgs) -> Result<i32> {
    let period = Period::parse(&args.period).context("period")?;
    let Some(ledger_topic) = args.topic.strip_suffix(".monthly") else {
        bail!("--topic names the monthly topic, <ledger topic>.monthly");
    };
    let cluster = args.kafka.cluster(&args.brokers)?;
    let partitions = ledger_kafka::Watermarks::new(&cluster, ledger_topic)?.partitions()?;
    let wanted = period.to_string();
    // Latest revision per participant (with its ledger partition) and per
    // partition's summary.
    let mut projections: BTreeMap<String, pb::MonthlyProjection> = BTreeMap::new();
    let mut summaries: BTreeMap<u32, pb::PartitionMonthSummary> = BTreeMap::new();
    let mut bad: Option<anyhow::Error> = None;
    // Participants held per ledger partition.
    let mut held: BTreeMap<u32, u32> = BTreeMap::new();
    // Complete: a summary from every partition, and each summary's count of
    // projections matches the participants held for its partition.
    let complete = |held: &BTreeMap<u32, u32>,
                    summaries: &BTreeMap<u32, pb::PartitionMonthSummary>| {
        summaries.len() as u32 == partitions
            && summaries
                .iter()
                .all(|(p, s)| held.get(p).copied().unwrap_or(0) == s.projections)
    };
    ledger_kafka::read_from_start(
        &cluster,
        &args.topic,
        std::time::Duration::from_secs(args.idle_seconds),
        |key, value| {
            let decoded = if key.starts_with(b"summary/") {
                pb::PartitionMonthSummary::decode(value).map(|s| {
                    if s.period == wanted {
                        let keep = summaries
                            .get(&s.partition)
                            .is_none_or(|o| o.revision < s.revision);
                        if keep {
                            summaries.insert(s.partition, s);
                        }
                    }
                })
            } else {
                pb::MonthlyProjection::decode(value).map(|m| {
                    if m.period == wanted {
                        match projections.get(&m.iin) {
                            Some(o) if o.revision >= m.revision => {}
                            Some(_) => {
                                projections.insert(m.iin.clone(), m);
                            }
                            None => {
                                *held.entry(m.partition).or_default() += 1;
                                projections.insert(m.iin.clone(), m);
                            }
                        }
                    }
                })
            };
            if let Err(e) = decoded {
                bad = Some(anyhow::anyhow!(
                    "a record of {} does not decode: {e}",
                    args.topic
                ));
                return false;
            }
            !complete(&held, &summaries)
        },
    )
    .with_context(|| {
        format!(
            "{period}: {} of {partitions} partition summaries and {} projections read",
            summaries.len(),
            projections.len()
        )
    })?;
    if let Some(e) = bad {
        return Err(e);
    }
    let m = Month {
        projections: projections.into_values().collect(),
        summaries,
    };
    // The topic carries no payment lines: `unreconciled_payments` is the
    // store's (`report monthly`) alone.
    let (report, reconciled) = build_report(period, partitions, &m)?;
    std::fs::create_dir_all(&args.out)?;
    let csv_path = args.out.join(format!("report-{period}.csv"));
    std::fs::write(&csv_path, csv(&report))?;
    std::fs::write(
        args.out.join(format!("report-{period}.json")),
        serde_json::to_string_pretty(&report)?,
    )?;
    println!(
        "{period}: {} projections from {partitions} partitions, counts checked; wrote {}",
        m.projections.len(),
        csv_path.display()
    );
    Ok(if reconciled { 0 } else { 1 })
}

#[derive(Args)]
pub struct ProjectionsArgs {
    /// The period, `YYYY-MM`.
    pub period: String,
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
}

pub fn projections(args: &ProjectionsArgs) -> Result<i32> {
    use std::io::Write as _;
    let period = Period::parse(&args.period).context("period")?;
    let store = open_existing_store(&args.data)?;
    let mut out = String::new();
    for p in store.projections(period)? {
        let m = pb::MonthlyProjection::decode(p.bytes.as_slice())
            .context("a stored projection does not decode")?;
        out.push_str(&serde_json::to_string(&m)?);
        out.push('\n');
    }
    crate::common::output_done(std::io::stdout().lock().write_all(out.as_bytes()))
}

#[derive(Args)]
pub struct MonthlyArgs {
    /// The period, `YYYY-MM`.
    pub period: String,
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Also write the report as CSV (one row per figure), and next to it
    /// (same name, `.svg`) a chart of the last 12 months.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

/// The latest revision of each participant's projection, and of each
/// partition's summary.
struct Month {
    projections: Vec<pb::MonthlyProjection>,
    summaries: BTreeMap<u32, pb::PartitionMonthSummary>,
}

fn month(store: &ledger_store::LedgerStore<ledger_store::DiskKv>, period: Period) -> Result<Month> {
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
        .context("a stored projection does not decode")?;
    let summaries = latest_summaries(store, period)?;
    Ok(Month {
        projections,
        summaries,
    })
}

/// Each partition's latest summary of `period`, for the partitions that
/// closed it.
fn latest_summaries(
    store: &ledger_store::LedgerStore<ledger_store::DiskKv>,
    period: Period,
) -> Result<BTreeMap<u32, pb::PartitionMonthSummary>> {
    let partitions = store.meta()?.map_or(0, |m| m.partitions);
    let mut out = BTreeMap::new();
    for p in 0..partitions {
        if let Some((_, bytes)) = store.latest_summary(p, period)? {
            let m = pb::PartitionMonthSummary::decode(bytes.as_slice())
                .context("a stored summary does not decode")?;
            out.insert(p, m);
        }
    }
    Ok(out)
}

/// The partitions' summaries added up.
fn total<'a>(
    summaries: impl IntoIterator<Item = &'a pb::PartitionMonthSummary>,
) -> Result<Summary> {
    let mut total = Summary::default();
    for s in summaries {
        total
            .merge(&Summary::from_message(s).map_err(anyhow::Error::msg)?)
            .map_err(anyhow::Error::msg)?;
    }
    Ok(total)
}

/// The sum of the latest summaries of `period`, if every partition closed it.
fn closed_summary(
    store: &ledger_store::LedgerStore<ledger_store::DiskKv>,
    period: Period,
    partitions: u32,
) -> Result<Option<Summary>> {
    let last = latest_summaries(store, period)?;
    if last.len() as u32 != partitions {
        return Ok(None);
    }
    Ok(Some(total(last.values())?))
}

/// An SVG chart of up to 12 months: contributions as bars, the share of
/// lines recorded within one working day as a line; months not closed on
/// every partition are marked "open".
fn chart(months: &[(Period, Option<Summary>)]) -> String {
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
fn build_report(period: Period, partitions: u32, m: &Month) -> Result<(serde_json::Value, bool)> {
    let mut from_projections = Summary::default();
    for p in &m.projections {
        from_projections.add(p).map_err(anyhow::Error::msg)?;
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
    let report = serde_json::json!({
        "period": period.to_string(),
        "revision": revision,
        "partitions": partitions,
        "projections": t.projections,
        "participants": t.participants_with_contributions,
        "contributions_total": t.contributions.to_string(),
        "penalties_total": t.penalties.to_string(),
        "refunds_total": t.refunds.to_string(),
        "returned_total": t.returned.to_string(),
        "lines": t.lines,
        "late_recordings": t.late_recordings,
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
    Ok((report, reconciled))
}

pub fn monthly(ctx: &ledger_core::Context, args: &MonthlyArgs) -> Result<i32> {
    let period = Period::parse(&args.period).context("period")?;
    let store = open_existing_store(&args.data)?;
    let partitions = store.meta()?.map_or(0, |m| m.partitions);
    let m = month(&store, period)?;
    let open = m.open(partitions);
    if !open.is_empty() {
        bail!(
            "{period} is not closed on partitions {open:?} of {partitions}: run \
             `si-ledger close-month {period}` and let the projector reach the markers"
        );
    }
    let (mut report, reconciled) = build_report(period, partitions, &m)?;
    // Rules §7: payments with a line for the period whose lines exceed or
    // disagree with their header, or are still short past their deadline.
    report["unreconciled_payments"] = crate::payments::unreconciled_in(ctx, &store, period)?.into();
    if let Some(path) = &args.csv {
        std::fs::write(path, csv(&report))
            .with_context(|| format!("writing {}", path.display()))?;
        let mut months = Vec::new();
        let mut p = period;
        for _ in 0..12 {
            months.push((p, closed_summary(&store, p, partitions)?));
            p = p.previous();
        }
        months.reverse();
        let svg = path.with_extension("svg");
        std::fs::write(&svg, chart(&months))
            .with_context(|| format!("writing {}", svg.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", text(&report));
    }
    Ok(if reconciled { 0 } else { 1 })
}

/// One row per figure: `figure,code,value`.
fn csv(r: &serde_json::Value) -> String {
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

fn text(r: &serde_json::Value) -> String {
    let s = |k: &str| match &r[k] {
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    let mut out = format!(
        "monthly report {} (revision {}), {} partitions\n\
         participants with contributions  {}\n\
         contributions                    {}\n\
         penalties                        {}\n\
         refunds                          {}\n\
         returned to payers               {}\n\
         lines / late                     {} / {} (on time {})\n\
         benefit recipients               {}\n\
         pension contributions withheld   {}\n\
         unreconciled payments (Rules §7) {}\n",
        s("period"),
        s("revision"),
        s("partitions"),
        s("participants"),
        s("contributions_total"),
        s("penalties_total"),
        s("refunds_total"),
        s("returned_total"),
        s("lines"),
        s("late_recordings"),
        s("on_time_share"),
        s("benefit_recipients"),
        s("pension_withheld_total"),
        s("unreconciled_payments"),
    );
    for (ppc, v) in r["by_ppc"].as_object().into_iter().flatten() {
        out.push_str(&format!(
            "  ppc {ppc}: credited {}, refunded {}\n",
            v["credited"].as_str().unwrap_or_default(),
            v["refunded"].as_str().unwrap_or_default()
        ));
    }
    for (t, v) in r["benefits_by_type"].as_object().into_iter().flatten() {
        out.push_str(&format!(
            "  benefits {t}: {}\n",
            v.as_str().unwrap_or_default()
        ));
    }
    let ok = r["reconciliation"]["projections_sum_equals_partition_summaries"] == true;
    out.push_str(&format!(
        "reconciliation: sum of {} projections {} the partitions' summaries\n",
        s("projections"),
        if ok { "equals" } else { "DIFFERS FROM" }
    ));
    out
}
