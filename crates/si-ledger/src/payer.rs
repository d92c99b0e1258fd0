//! What payers see: `refund apply` (a payer's refund application, seed
//! `003_…`), `refund status` and `notices` (returned lines and refund
//! decisions, Rules §6 and Social Code art. 247).

use crate::common::open_existing_store;
use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};
use ledger_core::{mask_id, Iin, Money, PayerId, Period, Ppc};
use ledger_proto::notices::{self, application_status};
use ledger_proto::v1 as pb;
use std::collections::BTreeSet;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum RefundCommand {
    /// Check a payer's refund application as a whole and publish one refund
    /// request per employee; the projector decides each.
    Apply(ApplyArgs),
    /// Where an application stands: requests decided, accepted sum.
    Status(StatusArgs),
}

#[derive(Args)]
pub struct ApplyArgs {
    /// The application, a JSON document (see docs/rules.md, "Refund
    /// applications").
    pub file: PathBuf,
    #[command(flatten)]
    pub to: crate::publish::Target,
    /// Check only; publish nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Where notices are read from: a store, or a ledger topic's `.notices`.
#[derive(Args)]
pub struct NoticeSource {
    /// The data directory of a projected store.
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "brokers",
        conflicts_with = "brokers"
    )]
    pub data: Option<PathBuf>,
    /// Kafka brokers: read `<topic>.notices` from the start.
    #[arg(long, requires = "topic")]
    pub brokers: Option<String>,
    /// The ledger topic (with --brokers).
    #[arg(long, requires = "brokers")]
    pub topic: Option<String>,
    /// With --brokers: the topic is read to its end, taken to be reached
    /// after this long without a record.
    #[arg(long, default_value_t = 3)]
    pub idle_seconds: u64,
    #[command(flatten)]
    pub kafka: crate::cluster::ClientArgs,
}

#[derive(Args)]
pub struct StatusArgs {
    pub application_id: String,
    #[command(flatten)]
    pub from: NoticeSource,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct NoticesArgs {
    #[command(flatten)]
    pub from: NoticeSource,
    /// Only this payer's notices.
    #[arg(long)]
    pub payer: Option<String>,
    #[arg(long)]
    pub json: bool,
}

/// A refund application as a payer files it (seed `003_…`): one payer,
/// one reason, at most 10 employees.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Application {
    application_id: String,
    /// BIN of a legal entity, or IIN of an individual entrepreneur.
    payer_id: String,
    reason: String,
    /// "012" contributions or "017" penalties.
    refunded_ppc: String,
    /// The application's date: it stands as the requests' `decided_on`.
    filed_on: String,
    /// Who signed: the first head (seed `003_…`).
    signed_by: String,
    employees: Vec<Employee>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Employee {
    iin: String,
    period: String,
    amount: String,
}

/// Checks the whole application; every problem is named by its field.
/// Returns the refund requests, one per employee, or every problem found.
fn requests(a: &Application) -> Result<Vec<pb::Envelope>, Vec<String>> {
    let mut problems = Vec::new();
    let mut bad = |field: &str, why: String| problems.push(format!("{field}: {why}"));
    let id_ok = !a.application_id.is_empty()
        && a.application_id.len() <= 100
        && a.application_id.bytes().all(|b| b.is_ascii_graphic());
    if !id_ok {
        bad(
            "application_id",
            "must be 1-100 printable ASCII characters without spaces".into(),
        );
    }
    // A BIN, or an individual entrepreneur's IIN: same length, same check.
    if let Err(e) = PayerId::parse(&a.payer_id) {
        bad("payer_id", e.to_string());
    }
    if a.reason.trim().is_empty() {
        bad(
            "reason",
            "is required: one reason for the whole application".into(),
        );
    }
    match Ppc::parse(&a.refunded_ppc) {
        Ok(p) if p == Ppc::CONTRIBUTION || p == Ppc::PENALTY => {}
        _ => bad(
            "refunded_ppc",
            format!("must be 012 or 017, got {:?}", a.refunded_ppc),
        ),
    }
    if ledger_core::parse_date(&a.filed_on).is_err() {
        bad(
            "filed_on",
            format!("must be YYYY-MM-DD, got {:?}", a.filed_on),
        );
    }
    if a.signed_by.trim().is_empty() {
        bad(
            "signed_by",
            "is required: the payer's first head signs".into(),
        );
    }
    let max = ledger_proto::convert::MAX_APPLICATION_SIZE as usize;
    if a.employees.is_empty() || a.employees.len() > max {
        bad(
            "employees",
            format!(
                "an application names 1 to {max} employees, got {}",
                a.employees.len()
            ),
        );
    }
    let mut seen = BTreeSet::new();
    for (i, e) in a.employees.iter().enumerate() {
        let at = |f: &str| format!("employees[{i}].{f}");
        if let Err(err) = Iin::parse(&e.iin) {
            bad(&at("iin"), format!("{} ({})", err, mask_id(&e.iin)));
        }
        if Period::parse(&e.period).is_err() {
            bad(
                &at("period"),
                format!("must be YYYY-MM, got {:?}", e.period),
            );
        }
        match Money::parse(&e.amount) {
            Ok(m) if m.is_positive() => {}
            _ => bad(
                &at("amount"),
                format!("must be a positive amount, got {:?}", e.amount),
            ),
        }
        if !seen.insert((&e.iin, &e.period)) {
            bad(
                &at("iin"),
                format!("{} is named twice for {}", mask_id(&e.iin), e.period),
            );
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let size = a.employees.len() as u32;
    let out: Vec<pb::Envelope> = a
        .employees
        .iter()
        .enumerate()
        .map(|(i, e)| pb::Envelope {
            event_id: format!("{}/{}", a.application_id, i + 1),
            iin: e.iin.clone(),
            source: "refund-application".into(),
            signature: None,
            payload: Some(pb::envelope::Payload::Refund(pb::ContributionRefunded {
                application_id: a.application_id.clone(),
                reason: a.reason.trim().to_string(),
                refunded_ppc: a.refunded_ppc.clone(),
                period: e.period.clone(),
                amount: e.amount.clone(),
                payer_id: a.payer_id.clone(),
                decided_on: a.filed_on.clone(),
                payment: None,
                application_size: size,
            })),
        })
        .collect();
    // The projector's own check, so nothing published can dead-letter.
    let mut problems = Vec::new();
    for (i, env) in out.iter().enumerate() {
        if let Err(e) = ledger_proto::envelope_from_wire(env) {
            problems.push(format!("employees[{i}]: {e}"));
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

pub fn apply(args: &ApplyArgs) -> Result<i32> {
    let text = crate::input::read_text(&args.file)?;
    // Names the field and the reason, each cut short: both may quote what
    // was sent.
    let refuse = |field: &str, reason: &str| {
        let bounded = ledger_proto::convert::bounded;
        eprintln!(
            "{}: {}: {}",
            args.file.display(),
            bounded(field, 200),
            bounded(reason, 512)
        );
        Ok(2)
    };
    // Read strictly: a repeated key is refused, null is absent.
    let value = match ledger_proto::strict_json::parse(&text) {
        Ok(v) => v,
        Err(e) => return refuse(&e.path, &e.reason),
    };
    let application: Application = match serde_path_to_error::deserialize(value) {
        Ok(a) => a,
        Err(e) => return refuse(&e.path().to_string(), &e.inner().to_string()),
    };
    let envelopes = match requests(&application) {
        Ok(r) => r,
        Err(problems) => {
            for p in &problems {
                let p = ledger_proto::convert::bounded(&p.to_string(), 512);
                eprintln!("{}: {p}", args.file.display());
            }
            eprintln!(
                "application {} refused: {} problem(s); nothing published",
                ledger_proto::convert::bounded(&application.application_id, 128),
                problems.len()
            );
            return Ok(2);
        }
    };
    if args.dry_run {
        println!(
            "application {}: {} requests valid (dry run)",
            application.application_id,
            envelopes.len()
        );
        return Ok(0);
    }
    // Seed `003_…`: an application is decided as a whole. Its id is
    // published once; the same application again (after an interrupted
    // run) is harmless, its requests are duplicates; the id with other
    // content is refused here, before anything is published.
    let ours: Vec<(String, ledger_core::Envelope)> = envelopes
        .iter()
        .filter_map(|e| {
            Some((
                e.event_id.clone(),
                ledger_proto::envelope_from_wire(e).ok()?,
            ))
        })
        .collect();
    let published = published_requests(&args.to, &application.application_id)?;
    if !published.is_empty() {
        // Every request already there is one of ours: the same application,
        // published whole or in part (a run stopped part-way).
        let same = published
            .iter()
            .all(|(pid, penv)| ours.iter().any(|(id, env)| id == pid && env == penv));
        if !same {
            eprintln!(
                "application {}: the id was already published with other content ({} request(s): {}); an application is decided as a whole (seed 003): file it under a new application id. Nothing published",
                ledger_proto::convert::bounded(&application.application_id, 128),
                published.len(),
                published
                    .iter()
                    .map(|(id, _)| ledger_proto::convert::bounded(id, 140))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return Ok(2);
        }
        eprintln!(
            "application {}: {} of its {} requests already published with this content; publishing it again is harmless (those are duplicates)",
            application.application_id,
            published.len(),
            ours.len()
        );
    }
    let mut sink = args.to.sink()?;
    let encoded: Vec<(Vec<u8>, Vec<u8>)> = envelopes
        .iter()
        .map(|e| (e.iin.as_bytes().to_vec(), ledger_proto::encode_envelope(e)))
        .collect();
    let records: Vec<(&[u8], Option<i64>, &[u8])> = encoded
        .iter()
        .map(|(k, v)| (k.as_slice(), None, v.as_slice()))
        .collect();
    sink.send(&records).with_context(|| {
        format!(
            "publishing application {}: some of its {} requests may be in the log; running the same `refund apply` again is safe (it completes the application; what is there counts once)",
            application.application_id,
            records.len()
        )
    })?;
    println!(
        "application {}: {} refund requests published ({} … /{})",
        application.application_id,
        records.len(),
        envelopes[0].event_id,
        records.len()
    );
    Ok(0)
}

/// The refund requests already in the target log under `application_id`
/// (event id and envelope), read from its start. Records that do not
/// decode are passed over: they are not refund requests of this id.
fn published_requests(
    to: &crate::publish::Target,
    application_id: &str,
) -> Result<Vec<(String, ledger_core::Envelope)>> {
    let mut found = Vec::new();
    let mut see = |value: &[u8]| {
        if let Ok((env, _)) = ledger_proto::decode_envelope(value) {
            if let ledger_core::Event::ContributionRefunded(r) = &env.event {
                let id = env.event_id.as_str().to_string();
                // A request published twice is one request.
                if r.application_id == application_id
                    && !found.iter().any(|(i, e)| *i == id && *e == env)
                {
                    found.push((id, env));
                }
            }
        }
    };
    if let (Some(brokers), Some(topic)) = (&to.brokers, &to.topic) {
        // Everything published before, committed: an open transaction is
        // waited for (an idle pause is no end: requests behind it would be
        // missed, and an id reused).
        ledger_kafka::read_to_end(
            &to.kafka.cluster(brokers)?,
            topic,
            "si-ledger-audit-refund-apply",
            |_, value| see(value),
        )
        .with_context(|| format!("reading {topic} for earlier requests"))?;
    } else if let Some(dir) = &to.log {
        if !dir.join("log.json").exists() {
            return Ok(found);
        }
        use ledger_stream::Source as _;
        let log = ledger_stream::EmbeddedLog::open(dir)
            .with_context(|| format!("opening log {}", dir.display()))?;
        let mut source = log.source()?;
        let ends: std::collections::BTreeMap<u32, u64> =
            source.end_offsets()?.into_iter().collect();
        let mut next: std::collections::BTreeMap<u32, u64> = std::collections::BTreeMap::new();
        while ends
            .iter()
            .any(|(p, end)| next.get(p).copied().unwrap_or(0) < *end)
        {
            let records = source.poll(8192, std::time::Duration::from_millis(10))?;
            if records.is_empty() {
                break;
            }
            for r in &records {
                see(&r.value);
                next.insert(r.partition, r.offset + 1);
            }
        }
    }
    Ok(found)
}

/// Every notice the source holds, decoded.
fn read_notices(from: &NoticeSource) -> Result<Vec<pb::Notice>> {
    let mut out = Vec::new();
    if let (Some(brokers), Some(topic)) = (&from.brokers, &from.topic) {
        let mut bad = None;
        ledger_kafka::read_all_quiet(
            &from.kafka.cluster(brokers)?,
            &ledger_kafka::notices_topic(topic),
            std::time::Duration::from_secs(from.idle_seconds),
            "si-ledger-audit-notices",
            |_, value| match notices::decode(value) {
                Ok(n) => out.push(n),
                Err(e) => {
                    bad.get_or_insert(e);
                }
            },
        )?;
        if let Some(e) = bad {
            bail!("{}: {e}", ledger_kafka::notices_topic(topic));
        }
    } else if let Some(data) = &from.data {
        let store = open_existing_store(data)?;
        for v in store.notices()? {
            out.push(notices::decode(&v).map_err(anyhow::Error::msg)?);
        }
    } else {
        bail!("give --data DIR or --brokers and --topic");
    }
    Ok(out)
}

pub fn status(args: &StatusArgs) -> Result<i32> {
    let all = read_notices(&args.from)?;
    let Some(s) = application_status(&args.application_id, &all).map_err(anyhow::Error::msg)?
    else {
        eprintln!(
            "application {}: no decision recorded (not published, or not projected yet)",
            args.application_id
        );
        return Ok(1);
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(if s.foreign.is_empty() { 0 } else { 1 });
    }
    if s.employees == 0 {
        // Refunds recorded directly: no application to count against.
        println!(
            "{}: {} refund(s) recorded directly under this id (not from a payer's application), {} accepted ({}), {} refused",
            s.application_id, s.decided, s.accepted, s.accepted_amount, s.refused
        );
        return Ok(0);
    }
    println!(
        "application {} from payer {}: {} of {} requests decided{}, {} accepted ({}), {} refused",
        s.application_id,
        s.payer_id,
        s.decided,
        s.employees,
        if s.complete { " (all)" } else { "" },
        s.accepted,
        s.accepted_amount,
        s.refused
    );
    for d in &s.decisions {
        let why = if d.reason.is_empty() {
            String::new()
        } else {
            format!(": {}", d.reason)
        };
        println!(
            "  {} {} {} {} {}{why}",
            d.notice_id, d.iin, d.period, d.amount, d.decision
        );
    }
    if !s.foreign.is_empty() {
        println!(
            "  {} decision(s) under this id are not part of this application (another payer or size, or beyond its size: the id was reused):",
            s.foreign.len()
        );
        for d in &s.foreign {
            println!(
                "  {} {} {} {} {}: {}",
                d.notice_id, d.iin, d.period, d.amount, d.decision, d.reason
            );
        }
        return Ok(1);
    }
    Ok(0)
}

/// A notice as a payer's bank reads it; the IIN masked, as everywhere the
/// ledger prints.
fn notice_json(n: &pb::Notice) -> serde_json::Value {
    let kind = pb::NoticeKind::try_from(n.kind)
        .map(|k| k.as_str_name())
        .unwrap_or("NOTICE_KIND_UNSPECIFIED");
    let payment = n.payment.as_ref();
    serde_json::json!({
        "notice_id": n.notice_id,
        "kind": kind,
        "payer_id": n.payer_id,
        "iin": mask_id(&n.iin),
        "document_number": payment.map(|p| p.document_number.as_str()),
        "document_date": payment.map(|p| p.document_date.as_str()),
        "period": n.period,
        "amount": n.amount,
        "ppc": n.ppc,
        "reason": n.reason,
        "application_id": n.application_id,
        "partition": n.partition,
        "offset": n.offset,
    })
}

pub fn list(args: &NoticesArgs) -> Result<i32> {
    let mut all = read_notices(&args.from)?;
    if let Some(p) = &args.payer {
        all.retain(|n| &n.payer_id == p);
    }
    // One per decision: a topic may hold a republished copy (the same id,
    // participant and source record); the same id for another participant
    // or record is another decision, and listed.
    let mut seen = BTreeSet::new();
    all.retain(|n| seen.insert((n.notice_id.clone(), n.iin.clone(), n.partition, n.offset)));
    all.sort_by_key(|n| (n.partition, n.offset));
    if args.json {
        let rows: Vec<_> = all.iter().map(notice_json).collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    println!("{} notices", all.len());
    for n in &all {
        let j = notice_json(n);
        let mut row = format!(
            "  p{}@{} {} payer {} {} {} {}",
            n.partition,
            n.offset,
            j["kind"].as_str().unwrap_or_default(),
            n.payer_id,
            mask_id(&n.iin),
            n.period,
            n.amount
        );
        if let Some(doc) = j["document_number"].as_str().filter(|d| !d.is_empty()) {
            row += &format!(" doc {doc}");
        }
        if !n.application_id.is_empty() {
            row += &format!(" application {}", n.application_id);
        }
        if !n.reason.is_empty() {
            row += &format!(": {}", n.reason);
        }
        println!("{row}");
    }
    Ok(0)
}
