//! `si-ledger duplicates`: participants who look like one person under two
//! identifiers (seeds `001_…`, `002_…`), with the evidence to decide a merge.

use crate::query::open_existing_store;
use anyhow::Result;
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
