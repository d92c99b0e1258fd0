//! The auditor's proof commands (issue 27, `docs/tamper-evidence.md`):
//! `checkpoint`, `prove`, `consistency` and `verify-proof`.

use crate::common::open_existing_store;
use anyhow::{bail, Context as _, Result};
use clap::Args;
use ledger_api::proofs;
use ledger_core::{mask_id, Context, Iin};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct CheckpointArgs {
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// The partition whose signed checkpoint to print.
    #[arg(long, value_name = "K", required_unless_present = "vkeys")]
    pub partition: Option<u32>,
    /// The checkpoint of this tree size (default: the latest).
    #[arg(long, value_name = "N", requires = "partition")]
    pub size: Option<u64>,
    /// Print each partition's verifier key (`<origin>/p<k>+<id>+<key>`),
    /// then the origin's (for `digest`), one per line.
    #[arg(long, conflicts_with_all = ["partition", "size"])]
    pub vkeys: bool,
}

/// `si-ledger checkpoint`: a signed checkpoint exactly as signed, or the
/// verifier keys.
pub fn checkpoint(args: &CheckpointArgs) -> Result<i32> {
    let store = open_existing_store(&args.data)?;
    if args.vkeys {
        for k in proofs::verifier_keys(&store)? {
            println!("{k}");
        }
        return Ok(0);
    }
    let p = args.partition.expect("clap requires --partition");
    let partitions = store.meta()?.map_or(0, |m| m.partitions);
    if p >= partitions {
        bail!(
            "--partition {p}: the store has partitions 0 to {}",
            partitions.saturating_sub(1)
        );
    }
    let (_, note) = proofs::checkpoint(&store, p, args.size)?;
    use std::io::Write as _;
    std::io::stdout().write_all(&note)?;
    Ok(0)
}

#[derive(Args)]
pub struct ProveArgs {
    /// The participant's IIN.
    pub iin: String,
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// A new directory for the proofs and the statement.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// A checkpoint of the account's partition the auditor saved earlier:
    /// the directory also gets the consistency proof from it to the
    /// proofs' checkpoint (`p<K>-from-<size>.tlog-witness`), which
    /// `verify-proof --checkpoint` takes from there. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub old: Vec<PathBuf>,
}

/// `si-ledger prove`: one C2SP proof file per history entry of an account,
/// and the statement they prove.
pub fn prove(args: &ProveArgs) -> Result<i32> {
    let iin = Iin::parse(&args.iin).with_context(|| format!("IIN {}", mask_id(&args.iin)))?;
    let mut saved: Vec<Vec<u8>> = Vec::new();
    for f in &args.old {
        let bytes = read_small(f).with_context(|| format!("--old {}", f.display()))?;
        // The same checkpoint twice is one proof.
        if !saved.contains(&bytes) {
            saved.push(bytes);
        }
    }
    let store = open_existing_store(&args.data)?;
    let mut dir = proofs::prove(&store, &iin)?;
    let proofs_written = dir.files.len() - 1;
    proofs::add_consistency(&store, &mut dir, &saved)?;
    write_dir(&args.out, &dir.files)?;
    println!(
        "{} proofs of {}'s history against partition {}'s checkpoint of size {}, {}{}, in {}",
        proofs_written,
        iin.masked(),
        dir.partition,
        dir.size,
        proofs::STATEMENT_FILE,
        if saved.is_empty() {
            String::new()
        } else {
            format!(
                " and {} consistency proofs from saved checkpoints",
                saved.len()
            )
        },
        args.out.display()
    );
    Ok(0)
}

/// Writes `files` into a new directory, through a temporary one renamed
/// into place: an interrupted run leaves no partial proof directory.
fn write_dir(out: &Path, files: &BTreeMap<String, Vec<u8>>) -> Result<()> {
    // A dangling symbolic link counts as there: nothing is written through it.
    if out.symlink_metadata().is_ok() {
        bail!("{} exists: give a new --out directory", out.display());
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".prove-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a directory in {}", parent.display()))?;
    for (name, bytes) in files {
        std::fs::write(tmp.path().join(name), bytes).with_context(|| format!("writing {name}"))?;
    }
    let tmp = tmp.keep();
    if let Err(e) = std::fs::rename(&tmp, out) {
        // Nothing of it stays behind: it holds personal data.
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e).with_context(|| format!("moving into {}", out.display()));
    }
    Ok(())
}

#[derive(Args)]
pub struct ConsistencyArgs {
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    #[arg(long, value_name = "K")]
    pub partition: u32,
    /// A checkpoint of this partition saved earlier.
    #[arg(long, value_name = "FILE")]
    pub old: PathBuf,
}

/// `si-ledger consistency`: the `tlog-witness` add-checkpoint body from a
/// saved checkpoint to the latest.
pub fn consistency(args: &ConsistencyArgs) -> Result<i32> {
    let saved = read_small(&args.old).context("--old")?;
    let store = open_existing_store(&args.data)?;
    let body = proofs::consistency(&store, args.partition, &saved)?;
    use std::io::Write as _;
    std::io::stdout().write_all(&body)?;
    Ok(0)
}

#[derive(Args)]
pub struct VerifyProofArgs {
    /// A directory `prove` wrote.
    pub dir: PathBuf,
    /// Verifier keys, one per line (`si-ledger checkpoint --vkeys`).
    #[arg(long, value_name = "FILE")]
    pub vkeys: PathBuf,
    /// A checkpoint saved earlier: the proofs' checkpoint must be it or
    /// extend it, shown by a `--consistency` body from its size, else by
    /// the directory's `p<K>-from-<size>.tlog-witness` (`prove --old`).
    /// Repeatable.
    #[arg(long, value_name = "SAVED")]
    pub checkpoint: Vec<PathBuf>,
    /// A `tlog-witness` body (`si-ledger consistency`): taken for the
    /// `--checkpoint` of the size on its `old` line. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub consistency: Vec<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

/// The most bytes a key, checkpoint or proof file may have: far more than
/// any holds (a checkpoint is about 200 bytes, a proof a few KB).
const SMALL_FILE: u64 = 1 << 20;
/// The most bytes of `statement.json`: an account's events, base64.
const STATEMENT_MAX: u64 = 256 << 20;

/// A file of at most [`SMALL_FILE`] bytes, read without reading more.
fn read_small(path: &Path) -> Result<Vec<u8>> {
    read_at_most(path, SMALL_FILE)
}

fn read_at_most(path: &Path, max: u64) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut out)
        .with_context(|| format!("reading {}", path.display()))?;
    if out.len() as u64 > max {
        bail!(
            "{}: more than {max} bytes, which no such file has",
            path.display()
        );
    }
    Ok(out)
}

/// The verifier keys of FILE, one a line (`#` comments and blank lines
/// skipped); each checked as C2SP writes them, a repeated one refused,
/// naming the line.
fn verifier_keys(path: &Path) -> Result<Vec<String>> {
    let text = String::from_utf8(read_small(path)?)
        .with_context(|| format!("--vkeys {}: not UTF-8", path.display()))?;
    let mut keys: Vec<String> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Err(e) = signed_note::StandardVerifier::new(line) {
            bail!("--vkeys {} line {}: {e}: {line:?}", path.display(), n + 1);
        }
        if keys.iter().any(|k| k == line) {
            bail!(
                "--vkeys {} line {}: the same key again",
                path.display(),
                n + 1
            );
        }
        keys.push(line.to_string());
    }
    if keys.is_empty() {
        bail!("--vkeys {}: no verifier key in it", path.display());
    }
    Ok(keys)
}

/// `si-ledger verify-proof`: checks a proof directory with no store.
pub fn verify_proof(ctx: &Context, args: &VerifyProofArgs) -> Result<i32> {
    let vkeys = verifier_keys(&args.vkeys)?;
    let mut files = BTreeMap::new();
    for e in std::fs::read_dir(&args.dir).with_context(|| format!("{}", args.dir.display()))? {
        let e = e?;
        if e.file_type()?.is_file() {
            let name = e.file_name().to_string_lossy().into_owned();
            let max = if name == proofs::STATEMENT_FILE {
                STATEMENT_MAX
            } else {
                SMALL_FILE
            };
            files.insert(name, read_at_most(&e.path(), max)?);
        }
    }
    let mut saved = Vec::new();
    for c in &args.checkpoint {
        let bytes = read_small(c)?;
        // Named here, so that an error says which of several it is.
        if let Err(e) = ledger_store::tlog::open_checkpoint(&bytes, &vkeys) {
            eprintln!("NOT verified: --checkpoint {}: {e}", c.display());
            return Ok(1);
        }
        saved.push(bytes);
    }
    let mut bodies = Vec::new();
    for b in &args.consistency {
        let bytes = read_small(b)?;
        if let Err(e) = ledger_store::tlog::ConsistencyProof::parse(&bytes) {
            eprintln!("NOT verified: --consistency {}: {e}", b.display());
            return Ok(1);
        }
        bodies.push(bytes);
    }
    match proofs::verify_dir(ctx, &files, &vkeys, &saved, &bodies) {
        Ok(v) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "verified: {} entries proven in {}'s tree of {} leaves; the statement's \
                     figures follow from them",
                    v.entries, v.origin, v.size
                );
                for (old, new) in &v.extends {
                    println!("  the tree of {new} extends the saved checkpoint of {old}");
                }
            }
            Ok(0)
        }
        Err(e) => {
            eprintln!("NOT verified: {e}");
            Ok(1)
        }
    }
}
