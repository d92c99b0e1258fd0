//! `si-ledger close-month` (the marker on every partition) and
//! `si-ledger report monthly` (the report to the authorized body, from the
//! projections the markers produced).

use crate::common::open_existing_store;
use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};
use ledger_api::reports;
use ledger_core::Period;
use ledger_proto::monthly::{encode_month_closed_with, MONTH_CLOSED_KEY};
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
    /// Back-office override, recorded in the marker: close a month that
    /// has not ended (in the calendar's zone, by the later of this clock
    /// and the log's last record times). Without it such a month is
    /// refused, here and by the projector.
    #[arg(long)]
    pub allow_unended: bool,
    /// Back-office override, recorded in the marker: close a month that
    /// ended before `--epoch`.
    #[arg(long)]
    pub allow_before_epoch: bool,
    #[command(flatten)]
    pub kafka: crate::cluster::ClientArgs,
}

/// Appends a `MonthClosed` marker to every partition, if the month may be
/// closed ([`ledger_core::close::check_close`]) or the operator overrides.
pub fn close_month(ctx: &ledger_core::Context, args: &CloseMonthArgs) -> Result<i32> {
    let period = Period::parse(&args.period).context("period")?;
    let overrides = ledger_core::close::CloseOverrides {
        unended: args.allow_unended,
        before_epoch: args.allow_before_epoch,
    };
    let signer = crate::trust::signer_for("month_closed")?;
    let value = encode_month_closed_with(period, &args.by, overrides, signer.as_deref());
    let now = chrono::Utc::now().timestamp_millis();
    // Judged at this clock, the time every marker carries and the
    // projector judges it by on each partition. Not by the partitions'
    // clocks: one future-dated record (published with a wide
    // --timestamp-after-max-ms) pushes a clock ahead, and a month closed by
    // it would stand on that partition alone.
    let check = || -> Result<()> {
        let at =
            chrono::DateTime::from_timestamp_millis(now).context("the clock is out of range")?;
        ledger_core::close::check_close(
            &ctx.calendar,
            ctx.record_times.epoch,
            period,
            at,
            overrides,
        )
        .map_err(|why| anyhow::anyhow!("{why}; nothing was published"))
    };
    let placed: Vec<(u32, u64)> = match (&args.log, &args.brokers, &args.topic) {
        (Some(dir), _, _) => {
            let log = ledger_stream::EmbeddedLog::open(dir)
                .with_context(|| format!("opening log {}", dir.display()))?;
            let mut appender = log.appender()?;
            check()?;
            let mut placed = Vec::new();
            for p in 0..log.partitions() {
                let appended = appender
                    .append_to(p, &[(MONTH_CLOSED_KEY, now, &value)])
                    .with_context(|| partly_closed(period, &placed));
                placed.extend(appended?);
            }
            placed
        }
        (None, Some(brokers), Some(topic)) => {
            let cluster = args.kafka.cluster(brokers)?;
            let partitions = ledger_kafka::Watermarks::new(&cluster, topic)?.partitions()?;
            check()?;
            let mut publisher = ledger_kafka::Publisher::new(&cluster, topic)?;
            let mut placed = Vec::new();
            for p in 0..partitions {
                let d = publisher
                    .publish_to(p, &[(MONTH_CLOSED_KEY, None, &value)])
                    .with_context(|| partly_closed(period, &placed))?;
                placed.extend(d.iter().map(|d| (d.partition, d.offset)));
            }
            placed
        }
        _ => bail!("give --log DIR or --brokers B --topic T"),
    };
    for (p, o) in &placed {
        println!("{period} closed on partition {p} at offset {o}");
    }
    if overrides != ledger_core::close::CloseOverrides::default() {
        eprintln!(
            "warning: {period} closed with {}, recorded in its markers",
            [
                (overrides.unended, "--allow-unended"),
                (overrides.before_epoch, "--allow-before-epoch")
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, flag)| *flag)
            .collect::<Vec<_>>()
            .join(" and ")
        );
    }
    Ok(0)
}

/// What a close that failed part-way says: where its markers are, and
/// that closing again is safe.
fn partly_closed(period: Period, placed: &[(u32, u64)]) -> String {
    let on: Vec<String> = placed.iter().map(|(p, _)| p.to_string()).collect();
    format!(
        "closing {period} failed after its marker reached partitions [{}]: run close-month \
         again (a second close of a partition is a no-op)",
        on.join(", ")
    )
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
    if !args.topic.ends_with(".monthly") {
        bail!("--topic names the monthly topic, <ledger topic>.monthly");
    }
    let cluster = args.kafka.cluster(&args.brokers)?;
    // The ledger topic's partition count, which `topics create` gives its
    // derived topics too: a reporting job needs no access to the ledger
    // topic itself (deploy/kafka-acls.sh, role reporting).
    let partitions = ledger_kafka::Watermarks::new(&cluster, &args.topic)?.partitions()?;
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
        // Under the reporting role's group prefix (deploy/kafka-acls.sh).
        "si-ledger-reporting-reader",
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
    let m = reports::Month {
        projections: projections.into_values().collect(),
        summaries,
    };
    // The topic carries no payment lines: `unreconciled_payments` is the
    // store's (`report monthly`) alone.
    let (report, reconciled) = reports::build_report(period, partitions, &m)?;
    std::fs::create_dir_all(&args.out)?;
    let csv_path = args.out.join(format!("report-{period}.csv"));
    std::fs::write(&csv_path, reports::csv(&report))?;
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

pub fn monthly(ctx: &ledger_core::Context, args: &MonthlyArgs) -> Result<i32> {
    let period = Period::parse(&args.period).context("period")?;
    let store = open_existing_store(&args.data)?;
    let reports::Report {
        json: mut report,
        reconciled,
    } = reports::monthly(&store, period)?;
    // Rules §7: payments with a line for the period whose lines exceed or
    // disagree with their header, or are still short past their deadline.
    report["unreconciled_payments"] = crate::payments::unreconciled_in(ctx, &store, period)?.into();
    // Issue 25: only a back-office override (or a store closed before the
    // projector refused such markers) closes a month that has not ended.
    let end = ledger_core::close::period_end(&ctx.calendar, period);
    if chrono::Utc::now() < end {
        eprintln!(
            "warning: {period} has not ended (it ends at {}): this report is provisional",
            end.with_timezone(&ctx.calendar.time_zone())
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
        );
    }
    if let Some(path) = &args.csv {
        std::fs::write(path, reports::csv(&report))
            .with_context(|| format!("writing {}", path.display()))?;
        let svg = path.with_extension("svg");
        std::fs::write(
            &svg,
            reports::chart_svg(&reports::twelve_months(&store, period)?),
        )
        .with_context(|| format!("writing {}", svg.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", text(&report));
    }
    Ok(if reconciled { 0 } else { 1 })
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
