//! `si-ledger duplicates`: participants who look like one person under two
//! identifiers (seeds `001_…`, `002_…`), with the evidence to decide a merge;
//! `si-ledger merge`: the decision, published as the old identifier's
//! closing record.

use crate::common::open_existing_store;
use anyhow::{bail, Context as _, Result};
use clap::Args;
use ledger_core::{identity_key, person_of, Account, IdentityKey, Iin};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Args)]
pub struct DuplicatesArgs {
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    #[arg(long)]
    pub json: bool,
}

/// What an account shows of the person and its activity: what a reviewer
/// weighs before a merge.
fn evidence(partition: u32, a: &Account) -> serde_json::Value {
    let p = person_of(a);
    let periods: Vec<String> = a.periods.keys().map(|p| p.to_string()).collect();
    serde_json::json!({
        "iin": a.iin.to_string(),
        "partition": partition,
        "source": if a.register.is_empty() { "contribution_line" } else { "register" },
        "surname": p.map(|p| p.surname.as_str()),
        "name": p.map(|p| p.name.as_str()),
        "patronymic": p.map(|p| p.patronymic.as_str()),
        "sex": p.and_then(|p| p.sex).map(|s| format!("{s:?}")),
        "document": p.and_then(|p| p.document.as_ref()).map(|d| format!("{} {}", d.series, d.number).trim().to_string()),
        "citizenship": p.map(|p| p.citizenship.as_str()),
        "deceased_on": p.and_then(|p| p.deceased_on).map(|d| d.to_string()),
        "first_period": periods.first(),
        "last_period": periods.last(),
        "contributions_total": a.contributions_total.to_string(),
        "participation_months": a.participation_months(),
        "history_len": a.history_len,
    })
}

pub fn duplicates(args: &DuplicatesArgs) -> Result<i32> {
    let store = open_existing_store(&args.data)?;
    // One pass for the keys (small), then the accounts of the groups.
    let mut groups: BTreeMap<IdentityKey, Vec<(u32, Iin)>> = BTreeMap::new();
    store.for_each_account(|p, a| {
        // A merged identifier is settled: it is not a candidate again.
        if a.merged_into.is_some() {
            return;
        }
        if let Some(k) = identity_key(&a) {
            groups.entry(k).or_default().push((p, a.iin));
        }
    })?;
    groups.retain(|_, ids| ids.len() > 1);
    let mut out = Vec::new();
    for (key, ids) in &groups {
        let mut accounts = Vec::new();
        for (p, iin) in ids {
            if let Some(a) = store.account(*p, iin)? {
                accounts.push(evidence(*p, &a));
            }
        }
        let same_document = {
            let docs: Vec<&str> = accounts
                .iter()
                .filter_map(|a| a["document"].as_str())
                .filter(|d| !d.is_empty())
                .collect();
            docs.len() > 1 && docs.windows(2).all(|w| w[0] == w[1])
        };
        out.push(serde_json::json!({
            "full_name": key.full_name,
            "birth_date": key.birth_date.to_string(),
            "same_document": same_document,
            "accounts": accounts,
        }));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(0);
    }
    println!(
        "{} groups of identifiers that look like one person (same name and birth date)",
        out.len()
    );
    for g in &out {
        println!(
            "  {} born {}{}",
            g["full_name"].as_str().unwrap_or_default(),
            g["birth_date"].as_str().unwrap_or_default(),
            if g["same_document"] == true {
                ", same identity document"
            } else {
                ""
            }
        );
        for a in g["accounts"].as_array().into_iter().flatten() {
            println!(
                "    {} (p{}, {}): {} months {}..{}, contributions {}, {} records",
                a["iin"].as_str().unwrap_or_default(),
                a["partition"],
                a["source"].as_str().unwrap_or_default(),
                a["participation_months"],
                a["first_period"].as_str().unwrap_or("-"),
                a["last_period"].as_str().unwrap_or("-"),
                a["contributions_total"].as_str().unwrap_or_default(),
                a["history_len"]
            );
        }
    }
    Ok(0)
}

#[derive(Args)]
pub struct MergeArgs {
    /// The identifier that closes (its history goes to --into).
    #[arg(long = "from", value_name = "OLD")]
    pub from: String,
    /// The identifier the person keeps.
    #[arg(long, value_name = "NEW")]
    pub into: String,
    /// Why: the decision's grounds (a register correction, a decree).
    #[arg(long)]
    pub reason: String,
    /// The decision's date, YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    pub decided_on: String,
    /// The merge's event id. By default one derived from the two
    /// identifiers and the date, so the same decision published twice is
    /// one merge.
    #[arg(long)]
    pub id: Option<String>,
    /// Check the decision only; publish nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub to: crate::publish::Target,
}

/// The default event id: no identifier in it (ids reach logs), the same
/// for the same decision.
fn merge_id(from: &Iin, into: &Iin, decided_on: &str) -> String {
    use sha2::Digest as _;
    let h = sha2::Sha256::digest(format!("{from}>{into}").as_bytes());
    let hex: String = h[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("merge/{decided_on}/{hex}")
}

/// Publishes the closing record of `--from`, keyed by it. The projector
/// does the rest: it hands the history, and whatever still comes for the
/// old identifier, to the new one (docs/rules.md, "Merges").
pub fn merge(args: &MergeArgs) -> Result<i32> {
    use ledger_proto::v1 as pb;
    let from = Iin::parse(&args.from)
        .with_context(|| format!("--from {}", ledger_core::mask_id(&args.from)))?;
    let into = Iin::parse(&args.into)
        .with_context(|| format!("--into {}", ledger_core::mask_id(&args.into)))?;
    if from == into {
        bail!("--from and --into are the same identifier");
    }
    if args.reason.trim().is_empty() {
        bail!("--reason: is required");
    }
    let decided_on = ledger_core::parse_date(&args.decided_on).context("--decided-on")?;
    let event_id = match &args.id {
        Some(id) => ledger_core::EventId::parse(id)
            .map_err(|e| anyhow::anyhow!("--id: {e}"))?
            .to_string(),
        None => merge_id(&from, &into, &decided_on.to_string()),
    };
    let signer = crate::trust::signer_for("merged")?;
    let mut envelope = pb::Envelope {
        event_id: event_id.clone(),
        iin: from.as_str().to_string(),
        source: "si-ledger/merge".to_string(),
        signature: None,
        payload: Some(pb::envelope::Payload::Merged(pb::IdentifierMerged {
            into_iin: into.as_str().to_string(),
            reason: args.reason.trim().to_string(),
            decided_on: decided_on.to_string(),
        })),
    };
    if let Some(signer) = &signer {
        ledger_proto::sign_envelope(&mut envelope, signer);
    }
    let value = ledger_proto::encode_envelope(&envelope);
    args.to
        .sink()?
        .send(&[(from.as_str().as_bytes(), None, &value)])?;
    println!(
        "merge {event_id}: {} closes into {}; published",
        from.masked(),
        into.masked()
    );
    Ok(0)
}
