//! `si-ledger snapshot` and `restore`, and `project --restore-from`: a
//! lost instance is seeded from a snapshot and replays only the log's tail
//! (`ledger_store::snapshot` has the file's layout). A snapshot is signed
//! with the projector's key; a restore checks that signature against the
//! trust file and recomputes every restored account from its history
//! before it reports success, and `project` takes only a snapshot of the
//! log it is given (issue 25).

use crate::common::{open_existing_store, open_store, store_dir};
use anyhow::{bail, Context as _, Result};
use clap::Args;
use ledger_core::authority::{Domain, Signature, Signer, Trust};
use ledger_core::{Authorization, Context, Policy};
use ledger_store::{DiskKv, LedgerStore, RestoreChecks, SnapshotInfo};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Args)]
pub struct SnapshotArgs {
    /// The data directory whose store is snapshotted. While a projector
    /// runs on it (one process per store), the projector writes the
    /// snapshot at its next batch boundary and goes on; this command
    /// waits for it.
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
    /// How long to wait for a running projector to write the snapshot, s.
    #[arg(long, default_value_t = 600, value_name = "S")]
    pub wait: u64,
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
    let signed = info.seal.as_ref().map(|s| s.key_id.clone());
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
                "signed_by": signed,
            })
        );
    } else {
        let by = signed.map_or_else(|| "unsigned".to_string(), |k| format!("signed by key {k}"));
        println!(
            "{what} {}: partitions {:?} of {}, {} keys, {by}, digest {digest}",
            path.display(),
            info.header.partitions,
            info.header.log_partitions,
            info.trailer.pairs
        );
    }
}

/// The key a snapshot is signed with: the projector's (`--signing-key`),
/// which the trust file (`--trust`, else the store's) must accept for the
/// projector's own records (`merge_transfer`); unsigned only under an
/// explicit `--trust none`, which says so.
fn snapshot_signer(store: &LedgerStore<DiskKv>) -> Result<Option<Arc<Signer>>> {
    let signer = crate::trust::signer()?;
    let Some(s) = &signer else {
        if crate::trust::explicitly_open() {
            eprintln!(
                "warning: --trust none and no --signing-key: the snapshot is unsigned, and only \
                 a restore under --trust none takes it"
            );
            return Ok(None);
        }
        bail!(
            "a snapshot is signed with the projector's key: give it with --signing-key FILE (or \
             SI_LEDGER_SIGNING_KEY_FILE); only under --trust none may a snapshot be unsigned"
        );
    };
    let policy = match crate::trust::chosen() {
        Some(c) => c.policy.clone(),
        None => crate::trust::of_store_choice(store)?.policy,
    };
    crate::trust::check_current(&policy, s, "merge_transfer", chrono::Utc::now())
        .context("the snapshot's signing key")?;
    Ok(signer)
}

/// Checks a snapshot's seal against the run's trust file: signed by a key
/// the file lists under an authority allowed the projector's own records
/// (`merge_transfer`), valid when the snapshot was taken. Under `--trust
/// none` nothing is checked, and that is said; with no `--trust` at all
/// the restore is refused.
fn check_seal(info: &SnapshotInfo) -> Result<(), String> {
    let Some(choice) = crate::trust::chosen() else {
        return Err(
            "its signature is checked against the deployment's trust file: give it \
                    with --trust FILE (or SI_LEDGER_TRUST); `--trust none` restores it unchecked"
                .into(),
        );
    };
    let trust: &Trust = match &choice.policy {
        Policy::Open => {
            // Said once a run, however many snapshots it looks at.
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                eprintln!(
                    "warning: --trust none: snapshot signatures are not checked, and an \
                     unsigned snapshot is taken"
                )
            });
            return Ok(());
        }
        Policy::Enforced(t) => t,
    };
    let Some(seal) = &info.seal else {
        return Err(
            "it is unsigned: a snapshot is signed with the projector's key when it is \
                    taken, and only `--trust none` restores an unsigned one"
                .into(),
        );
    };
    // A snapshot has no "before signatures": `enforced_from` does not apply.
    let policy = Policy::Enforced(Arc::new(Trust {
        enforced_from: None,
        ..trust.clone()
    }));
    let taken = chrono::DateTime::from_timestamp_millis(info.header.taken_at_ms)
        .ok_or("its time of taking is out of range")?;
    let signature = Signature {
        key_id: seal.key_id.clone(),
        value: seal.signature.clone(),
    };
    match policy.authorize(
        "merge_transfer",
        Domain::Snapshot,
        Some((&signature, &info.checksum)),
        taken,
    ) {
        Authorization::Unauthorized(why) => Err(format!(
            "its signature is not the projector's under this trust file ({why})"
        )),
        _ => Ok(()),
    }
}

/// What every restore checks once it has written (the seal,
/// [`check_seal`], is checked before): every account of the store
/// recomputed from its history, as `verify` does, under the trust file
/// the store was projected with.
fn recomputed(ctx: &Context) -> impl Fn(&LedgerStore<DiskKv>, &[u32]) -> Result<(), String> + '_ {
    move |store: &LedgerStore<DiskKv>, _: &[u32]| {
        let choice = crate::trust::of_store_choice(store).map_err(|e| format!("{e:#}"))?;
        let ctx = Context {
            trust: choice.policy,
            ..ctx.clone()
        };
        match crate::verify::recompute(&ctx, store) {
            Ok(None) => Ok(()),
            Ok(Some(why)) => Err(format!(
                "what it restores does not follow from its own history (forged or damaged): {why}"
            )),
            Err(e) => Err(format!("recomputing what it restores: {e:#}")),
        }
    }
}

pub fn snapshot(args: &SnapshotArgs) -> Result<i32> {
    let store = match open_existing_store(&args.data) {
        Ok(store) => store,
        Err(e) if in_use(&e) => return ask_the_projector(args),
        Err(e) => return Err(e),
    };
    let signer = snapshot_signer(&store)?;
    let info = store
        .snapshot(&args.out, args.partitions.as_deref(), signer.as_deref())
        .with_context(|| format!("writing snapshot {}", args.out.display()))?;
    print(&info, "wrote", &args.out, args.json);
    Ok(0)
}

fn in_use(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<ledger_store::StoreError>(),
            Some(ledger_store::StoreError::InUse { .. })
        )
    })
}

/// Where `snapshot` leaves requests for the projector running on `data`
/// (`<id>.request`, JSON `{"out", "partitions"}`), and the projector its
/// answers (`<id>.result`, JSON `{"ok": …}` or `{"error": …}`).
fn requests_dir(data: &Path) -> PathBuf {
    data.join("snapshot-requests")
}

/// Writes `text` to `path` whole or not at all (a temporary file renamed).
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("writing {}", path.display()))
}

/// The store is open in a running projector: it takes the snapshot at its
/// next batch boundary (when no write is in flight), and this waits.
fn ask_the_projector(args: &SnapshotArgs) -> Result<i32> {
    let dir = requests_dir(&args.data);
    if !dir.is_dir() {
        bail!(
            "the store at {} is open in another process, and no projector there takes \
             snapshot requests ({} is missing): stop that process, or snapshot from the projector",
            args.data.display(),
            dir.display()
        );
    }
    let out =
        std::path::absolute(&args.out).with_context(|| format!("--out {}", args.out.display()))?;
    let id = format!(
        "{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
    );
    let request = dir.join(format!("{id}.request"));
    let result = dir.join(format!("{id}.result"));
    let body = serde_json::json!({"out": out, "partitions": args.partitions});
    write_atomically(&request, &body.to_string())?;
    eprintln!(
        "the store is open in a running projector: asked it for the snapshot (waiting up to {} s)",
        args.wait
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(args.wait);
    while std::time::Instant::now() < deadline {
        if let Some(code) = answered(&result, &out, args.json)? {
            return Ok(code);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Withdrawn, unless the projector took it meanwhile: then it is being
    // written, and its answer will come.
    if std::fs::rename(&request, request.with_extension("withdrawn")).is_ok() {
        let _ = std::fs::remove_file(request.with_extension("withdrawn"));
        bail!(
            "no projector answered within {} s (is one running on {}, and projecting?)",
            args.wait,
            args.data.display()
        );
    }
    eprintln!("the projector is writing the snapshot; waiting for it to finish");
    loop {
        if let Some(code) = answered(&result, &out, args.json)? {
            return Ok(code);
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// The projector's answer at `result`, if it has come: the snapshot at
/// `out` checked through and printed (exit 0), or its failure.
fn answered(result: &Path, out: &Path, json: bool) -> Result<Option<i32>> {
    let Ok(text) = std::fs::read_to_string(result) else {
        return Ok(None);
    };
    let _ = std::fs::remove_file(result);
    let answer: serde_json::Value =
        serde_json::from_str(&text).context("the projector's answer")?;
    if let Some(why) = answer["error"].as_str() {
        bail!("the projector could not write the snapshot: {why}");
    }
    let info =
        ledger_store::check_snapshot(out).with_context(|| format!("checking {}", out.display()))?;
    print(&info, "wrote", out, json);
    Ok(Some(0))
}

pub fn restore(ctx: &Context, args: &RestoreArgs) -> Result<i32> {
    let after = recomputed(ctx);
    let checks = RestoreChecks {
        before: &check_seal,
        after: &after,
    };
    let dir = store_dir(&args.data);
    if ledger_store::engine_of(&dir)?.is_some() {
        // Only a restore cut short is run again into the same directory.
        let store = open_store(&dir)?;
        if store.unfinished_restore()?.is_none() {
            bail!(
                "{} already holds a store: restore seeds a new one (give a new --data)",
                args.data.display()
            );
        }
        let info = store
            .restore(&args.file, args.partitions.as_deref(), &checks)
            .with_context(|| format!("restoring {}", args.file.display()))?;
        unchecked_is_open(&store)?;
        restored(&info, &args.file, args.json);
        return Ok(0);
    }
    let created = !dir.exists();
    let result = open_store(&dir).and_then(|store| {
        let info = store
            .restore(&args.file, args.partitions.as_deref(), &checks)
            .with_context(|| format!("restoring {}", args.file.display()))?;
        unchecked_is_open(&store)?;
        Ok(info)
    });
    match result {
        Ok(info) => {
            restored(&info, &args.file, args.json);
            Ok(0)
        }
        Err(e) => {
            // A refused restore leaves no store behind to be mistaken for one.
            if created {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(anyhow::anyhow!(
                    "{e:#} (nothing was restored: {} was removed)",
                    dir.display()
                ));
            }
            Err(e)
        }
    }
}

/// Under `--trust none` the snapshot's seal was not checked: the restored
/// store is then one projected under `--trust none`, whatever trust file
/// the snapshot named, so a trust file later given to `project` is held
/// to what the store's unsigned past requires (`enforced_from` from now
/// on, docs/authority.md), never taken as having vouched for it.
fn unchecked_is_open(store: &LedgerStore<DiskKv>) -> Result<()> {
    if crate::trust::explicitly_open() && store.trust_text()?.as_deref() != Some("none") {
        store.set_trust_text("none")?;
        eprintln!(
            "note: restored under --trust none, its seal unchecked: the store is marked as              projected under --trust none (a trust file given to it later must set              enforced_from from then on)"
        );
    }
    Ok(())
}

/// A restore that passed every check: what it restored, said once every
/// account was recomputed (the digest is the restored store's, checked).
fn restored(info: &SnapshotInfo, path: &Path, json: bool) {
    print(info, "restored", path, json);
    if !json {
        println!(
            "verified: every restored account follows from its history; project it from the \
             log it was taken from (`project` checks the log's identity)"
        );
    }
}

/// `project --restore-from`: seeds each partition `store` has no state for
/// (or whose restore was cut short) from the snapshot reaching furthest
/// into the log: a file, or the `*.snapshot` files of a directory. A file
/// named on its own must be whole; a damaged one in a directory is passed
/// over with a warning. With no partition to seed, nothing is read.
/// Partitions no snapshot holds are left to the log.
///
/// Only snapshots of the log `hash_at` reads are chosen: one whose log
/// anchors name another log (another deployment's) or whose signature the
/// trust file does not accept is passed over with a warning in a
/// directory, and refused when named on its own.
pub fn restore_missing(
    ctx: &Context,
    store: &LedgerStore<DiskKv>,
    from: &Path,
    hash_at: &mut crate::logid::HashAt,
) -> Result<()> {
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
    let needs =
        |p: u32| -> Result<bool> { Ok(store.offset(p)?.is_none() || store.has_restore_mark(p)?) };
    // A store with every partition of its log projected needs nothing.
    if let Some(meta) = store.meta()? {
        let mut any = false;
        for p in 0..meta.partitions {
            any |= needs(p)?;
        }
        if !any {
            return Ok(());
        }
    }
    // The snapshots that pass the checks made before restoring, with the
    // partitions they hold and how far.
    let mut usable: Vec<(&Path, Vec<(u32, u64)>)> = Vec::new();
    for f in &files {
        let checked = ledger_store::check_snapshot(f)
            .map_err(anyhow::Error::from)
            .and_then(|info| {
                check_seal(&info)
                    .map_err(|why| anyhow::anyhow!("snapshot {}: {why}", f.display()))?;
                of_this_log(&info, hash_at)?;
                Ok(info)
            });
        let info = match checked {
            Ok(info) => info,
            Err(e) if from.is_dir() => {
                eprintln!("--restore-from: passing over {}: {e:#}", f.display());
                continue;
            }
            Err(e) => return Err(e).with_context(|| format!("--restore-from {}", f.display())),
        };
        let states = info
            .trailer
            .states
            .iter()
            .map(|s| (s.partition, s.next_offset))
            .collect();
        usable.push((f.as_path(), states));
    }
    let after = recomputed(ctx);
    let checks = RestoreChecks {
        before: &check_seal,
        after: &after,
    };
    // Each partition from the furthest snapshot holding it; one whose
    // restore is refused after writing (it does not follow from its own
    // history) is passed over in a directory, and the next furthest tried.
    loop {
        let mut best: std::collections::BTreeMap<u32, (u64, &Path)> = Default::default();
        for (f, states) in &usable {
            for &(p, next) in states {
                if needs(p)? && best.get(&p).is_none_or(|(at, _)| next > *at) {
                    best.insert(p, (next, f));
                }
            }
        }
        let mut by_file: std::collections::BTreeMap<&Path, Vec<u32>> = Default::default();
        for (p, (_, f)) in &best {
            by_file.entry(f).or_default().push(*p);
        }
        let Some((f, partitions)) = by_file.into_iter().next() else {
            return Ok(());
        };
        let info = match store.restore(f, Some(&partitions), &checks) {
            Ok(info) => info,
            Err(e) if from.is_dir() => {
                eprintln!("--restore-from: passing over {}: {e:#}", f.display());
                usable.retain(|(u, _)| *u != f);
                continue;
            }
            Err(e) => return Err(e).with_context(|| format!("--restore-from {}", f.display())),
        };
        // Every partition it was best for is restored: it has no more to give.
        usable.retain(|(u, _)| *u != f);
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
}

/// Refuses a snapshot not of the log `hash_at` reads: each partition it
/// holds with state must have a log anchor the log has too.
fn of_this_log(info: &SnapshotInfo, hash_at: &mut crate::logid::HashAt) -> Result<()> {
    for s in &info.trailer.states {
        if s.next_offset == 0 {
            continue;
        }
        let Some(a) = info.anchor(s.partition) else {
            bail!(
                "partition {} has state but no log identity: it cannot show which log it is of",
                s.partition
            );
        };
        let found = hash_at(s.partition, a.offset)?;
        if found != Some(a.hash) {
            bail!(
                "it is a snapshot of another log: its partition {} was projected from a log \
                 whose record at offset {} has hash {}, and this log {}",
                s.partition,
                a.offset,
                hex::encode(a.hash),
                found.map_or("holds no record there".into(), |h| format!(
                    "has {} there",
                    hex::encode(h)
                ))
            );
        }
    }
    Ok(())
}

/// A projector's side of `snapshot` requests: it makes the requests
/// directory when it starts (mode 0700: whoever may ask may write there)
/// and removes it when it stops, so that `snapshot` knows whether anyone
/// will answer. [`Requests::serve`] is called at each batch boundary, with
/// no write in flight: on fjall the snapshot is read from one instant of
/// the store on a thread of its own while the projector goes on (every
/// write is atomic, so any instant is a batch boundary); on sled, which has
/// no read snapshots, the projector pauses while it writes the file. Cheap
/// when there is no request (one directory read).
pub struct Requests {
    dir: PathBuf,
    data: PathBuf,
    writing: std::sync::Arc<std::sync::Mutex<()>>,
    /// The projector's key, which signs the snapshots it writes.
    signer: Option<Arc<Signer>>,
}

impl Requests {
    pub fn new(data: &Path, signer: Option<Arc<Signer>>) -> Result<Requests> {
        use std::os::unix::fs::DirBuilderExt as _;
        let dir = requests_dir(data);
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
        }
        // What a projector that died mid-snapshot left: answered never.
        for e in std::fs::read_dir(&dir)?.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "taken" || x == "tmp") {
                let _ = std::fs::remove_file(&p);
            }
        }
        Ok(Requests {
            dir,
            data: std::path::absolute(data)?,
            writing: Default::default(),
            signer,
        })
    }

    /// Answers every pending request; failures are answered, not raised.
    pub fn serve(&self, store: &LedgerStore<DiskKv>) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().is_none_or(|x| x != "request") {
                continue;
            }
            // Taken: a request is answered once.
            let taken = path.with_extension("taken");
            if std::fs::rename(&path, &taken).is_err() {
                continue;
            }
            let signer = self.signer.clone();
            let answer = move |store: &LedgerStore<DiskKv>, data: &Path| {
                let answer = match Self::take(store, data, &taken, signer.as_deref()) {
                    Ok(info) => serde_json::json!({"ok": {
                        "pairs": info.trailer.pairs,
                        "digest": hex::encode(info.trailer.digest),
                    }}),
                    Err(e) => serde_json::json!({"error": format!("{e:#}")}),
                };
                let _ = std::fs::remove_file(&taken);
                if let Err(e) =
                    write_atomically(&path.with_extension("result"), &answer.to_string())
                {
                    tracing::error!(error = %e, "answering a snapshot request");
                }
            };
            match store.backend() {
                DiskKv::Fjall(_) => {
                    let (store, data) = (store.clone(), self.data.clone());
                    let writing = std::sync::Arc::clone(&self.writing);
                    std::thread::spawn(move || {
                        // One snapshot at a time.
                        let _one = writing.lock();
                        answer(&store, &data);
                    });
                }
                DiskKv::Sled(_) => answer(store, &self.data),
            }
        }
    }

    fn take(
        store: &LedgerStore<DiskKv>,
        data: &Path,
        request: &Path,
        signer: Option<&Signer>,
    ) -> Result<SnapshotInfo> {
        let text = std::fs::read_to_string(request)?;
        let body: serde_json::Value = serde_json::from_str(&text).context("the request")?;
        let out = PathBuf::from(body["out"].as_str().context("the request names no out")?);
        // Never over the projector's own files.
        if !out.is_absolute() || out.starts_with(data) {
            bail!(
                "{} is not a place for a snapshot (an absolute path outside {})",
                out.display(),
                data.display()
            );
        }
        let partitions: Option<Vec<u32>> = serde_json::from_value(body["partitions"].clone())
            .context("the request's partitions")?;
        let info = store.snapshot(&out, partitions.as_deref(), signer)?;
        eprintln!(
            "wrote snapshot {} at a batch boundary ({} keys)",
            out.display(),
            info.trailer.pairs
        );
        Ok(info)
    }
}

impl Drop for Requests {
    fn drop(&mut self) {
        // Whoever asks later learns at once that nobody answers. A
        // snapshot still being written keeps the directory until it ends.
        let _one = self.writing.lock();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
