//! `si-ledger snapshot` and `restore`, and `project --restore-from`: a
//! lost instance is seeded from a snapshot and replays only the log's tail
//! (`ledger_store::snapshot` has the file's layout).

use crate::common::{open_existing_store, open_store, store_dir};
use anyhow::{bail, Context as _, Result};
use clap::Args;
use ledger_store::{DiskKv, LedgerStore, SnapshotInfo};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct SnapshotArgs {
    /// The data directory whose store is snapshotted. The store must not
    /// be open in a running projector (one process per store): stop it at
    /// a batch boundary (SIGTERM finishes the batch), snapshot, start it.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// The snapshot file to write (replaced if it exists, only once the
    /// new one is complete).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Only these partitions (comma-separated; default: all).
    #[arg(long, value_delimiter = ',', value_name = "P,…")]
    pub partitions: Option<Vec<u32>>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// The snapshot file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// A new data directory: restore refuses one that holds a store. Its
    /// engine is `--store`'s (or the default), whatever the snapshotted
    /// store's was.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Only these partitions of the snapshot (comma-separated; default:
    /// all it holds).
    #[arg(long, value_delimiter = ',', value_name = "P,…")]
    pub partitions: Option<Vec<u32>>,
    #[arg(long)]
    pub json: bool,
}

fn print(info: &SnapshotInfo, what: &str, path: &Path, json: bool) {
    let digest = hex::encode(info.trailer.digest);
    if json {
        let states: Vec<_> = info
            .trailer
            .states
            .iter()
            .map(|s| {
                serde_json::json!({
                    "partition": s.partition, "next_offset": s.next_offset,
                    "chain_head": hex::encode(s.head.link), "items": s.head.items,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "file": path.display().to_string(),
                "log_partitions": info.header.log_partitions,
                "partitions": info.header.partitions,
                "pairs": info.trailer.pairs,
                "states": states,
                "digest": digest,
            })
        );
    } else {
        println!(
            "{what} {}: partitions {:?} of {}, {} keys, digest {digest}",
            path.display(),
            info.header.partitions,
            info.header.log_partitions,
            info.trailer.pairs
        );
    }
}

pub fn snapshot(args: &SnapshotArgs) -> Result<i32> {
    let store = open_existing_store(&args.data)?;
    let info = store
        .snapshot(&args.out, args.partitions.as_deref())
        .with_context(|| format!("writing snapshot {}", args.out.display()))?;
    print(&info, "wrote", &args.out, args.json);
    Ok(0)
}

pub fn restore(args: &RestoreArgs) -> Result<i32> {
    let dir = store_dir(&args.data);
    if ledger_store::engine_of(&dir)?.is_some() {
        bail!(
            "{} already holds a store: restore seeds a new one (give a new --data)",
            args.data.display()
        );
    }
    let created = !dir.exists();
    let result = open_store(&dir).and_then(|store| {
        store
            .restore(&args.file, args.partitions.as_deref())
            .with_context(|| format!("restoring {}", args.file.display()))
    });
    match result {
        Ok(info) => {
            print(&info, "restored", &args.file, args.json);
            Ok(0)
        }
        Err(e) => {
            // A refused restore leaves no store behind to be mistaken for one.
            if created {
                let _ = std::fs::remove_dir_all(&dir);
            }
            Err(e)
        }
    }
}

/// `project --restore-from`: seeds each partition `store` has no state for
/// from the snapshot (a file, or the newest of a directory's `*.snapshot`
/// files that holds the partition) that reaches furthest into the log.
/// Partitions with state, and those no snapshot holds, are left to the log.
pub fn restore_missing(store: &LedgerStore<DiskKv>, from: &Path) -> Result<()> {
    let files: Vec<PathBuf> = if from.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(from)
            .with_context(|| format!("reading {}", from.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "snapshot"))
            .collect();
        v.sort();
        v
    } else {
        vec![from.to_path_buf()]
    };
    if files.is_empty() {
        bail!("--restore-from {}: no *.snapshot file", from.display());
    }
    // Partition → (next offset, file): the furthest snapshot of each.
    let mut best: std::collections::BTreeMap<u32, (u64, &Path)> = Default::default();
    for f in &files {
        let info = ledger_store::check_snapshot(f)
            .with_context(|| format!("--restore-from {}", f.display()))?;
        for s in &info.trailer.states {
            let has_state = store.offset(s.partition)?.is_some();
            let unfinished = store.has_restore_mark(s.partition)?;
            if has_state && !unfinished {
                continue;
            }
            if best
                .get(&s.partition)
                .is_none_or(|(at, _)| s.next_offset > *at)
            {
                best.insert(s.partition, (s.next_offset, f));
            }
        }
    }
    let mut by_file: std::collections::BTreeMap<&Path, Vec<u32>> = Default::default();
    for (p, (_, f)) in &best {
        by_file.entry(f).or_default().push(*p);
    }
    for (f, partitions) in by_file {
        let info = store
            .restore(f, Some(&partitions))
            .with_context(|| format!("--restore-from {}", f.display()))?;
        for s in info
            .trailer
            .states
            .iter()
            .filter(|s| partitions.contains(&s.partition))
        {
            eprintln!(
                "restored partition {} from {} up to offset {}; the log's tail follows",
                s.partition,
                f.display(),
                s.next_offset
            );
        }
    }
    Ok(())
}
