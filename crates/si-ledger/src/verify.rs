//! `si-ledger verify`: recompute or compare every account and print each
//! difference (masked IIN, field, both values); exit 1 on any.

use crate::query::{open_existing_store, project_with_progress};
use anyhow::{bail, Context as _, Result};
use clap::Args;
use ledger_core::{Context, Iin, Statement};
use ledger_store::{LedgerStore, SledKv};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Args)]
pub struct VerifyArgs {
    /// The store to check.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Compare with another projector's store.
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with = "log",
        required_unless_present = "log"
    )]
    pub against: Option<PathBuf>,
    /// Recompute from this embedded log (in a temporary store) and compare.
    #[arg(long, value_name = "DIR")]
    pub log: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

type Accounts = BTreeMap<(u32, Iin), serde_json::Value>;

/// Every account's statement (as JSON), and every partition's offset.
fn load(store: &LedgerStore<SledKv>) -> Result<(Accounts, BTreeMap<u32, u64>)> {
    let mut accounts = BTreeMap::new();
    store.for_each_account(|p, a| {
        let st = serde_json::to_value(Statement::of(&a)).unwrap_or_default();
        accounts.insert((p, a.iin), st);
    })?;
    let partitions = store.meta()?.map_or(0, |m| m.partitions);
    let mut offsets = BTreeMap::new();
    for p in 0..partitions {
        offsets.insert(p, store.offset(p)?.unwrap_or(0));
    }
    Ok((accounts, offsets))
}

/// One difference, printable without personal data.
#[derive(serde::Serialize)]
struct Mismatch {
    iin: String,
    field: String,
    data: String,
    other: String,
}

fn shown(field: &str, v: Option<&serde_json::Value>) -> String {
    match v {
        None => "(absent)".into(),
        // Names and addresses stay out of the report: it says that they differ.
        Some(_) if field == "person" => "(personal data)".into(),
        Some(v) => v.to_string(),
    }
}

pub fn run(ctx: &Context, args: &VerifyArgs) -> Result<i32> {
    let store = open_existing_store(&args.data)?;
    let tmp = tempfile::tempdir()?;
    let other = match (&args.against, &args.log) {
        (Some(dir), _) => open_existing_store(dir)?,
        (None, Some(log_dir)) => {
            let log = ledger_stream::EmbeddedLog::open(log_dir)
                .with_context(|| format!("opening log {}", log_dir.display()))?;
            let fresh = LedgerStore::open(&tmp.path().join("store"))?;
            project_with_progress(
                ctx,
                &log,
                &fresh,
                ledger_projector::DEFAULT_BATCH_SIZE,
                false,
            )?;
            fresh
        }
        (None, None) => bail!("give --against DIR or --log DIR"),
    };
    let (mine, my_offsets) = load(&store)?;
    let (mut theirs, their_offsets) = load(&other)?;
    let mut diffs = Vec::new();
    if my_offsets != their_offsets {
        diffs.push(Mismatch {
            iin: "-".into(),
            field: "offsets".into(),
            data: format!("{my_offsets:?}"),
            other: format!("{their_offsets:?}"),
        });
    }
    for (key, a) in mine {
        let masked = key.1.masked();
        let Some(b) = theirs.remove(&key) else {
            diffs.push(Mismatch {
                iin: masked,
                field: "(account)".into(),
                data: "present".into(),
                other: "(absent)".into(),
            });
            continue;
        };
        let (ea, eb) = (a.as_object(), b.as_object());
        let fields: std::collections::BTreeSet<&String> =
            ea.into_iter().chain(eb).flat_map(|o| o.keys()).collect();
        for f in fields {
            let (va, vb) = (a.get(f.as_str()), b.get(f.as_str()));
            if va != vb {
                diffs.push(Mismatch {
                    iin: masked.clone(),
                    field: f.clone(),
                    data: shown(f, va),
                    other: shown(f, vb),
                });
            }
        }
    }
    for (key, _) in theirs {
        diffs.push(Mismatch {
            iin: key.1.masked(),
            field: "(account)".into(),
            data: "(absent)".into(),
            other: "present".into(),
        });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&diffs)?);
    } else {
        for d in &diffs {
            println!("{}  {}: {} ≠ {}", d.iin, d.field, d.data, d.other);
        }
        if diffs.is_empty() {
            println!("verified: every account and offset equal");
        } else {
            println!("{} differences", diffs.len());
        }
    }
    Ok(if diffs.is_empty() { 0 } else { 1 })
}
