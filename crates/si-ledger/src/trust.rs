//! The deployment's trust file and signing keys on the command line
//! (issue 15, `docs/authority.md`): `--trust FILE|none`, `--signing-key
//! FILE`, and the `keygen` and `sign` commands.

use anyhow::{bail, Context as _, Result};
use clap::Args;
use ledger_core::authority::{self, Signer, Trust};
use ledger_core::Policy;
use ledger_store::{Kv, LedgerStore};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// What `--trust` chose.
pub struct Choice {
    /// The trust file's text, or `none`.
    pub text: String,
    pub policy: Policy,
}

static CHOICE: OnceLock<Option<Choice>> = OnceLock::new();
static SIGNING_KEY: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Reads `--trust` (a file, or `none`) and remembers `--signing-key`'s
/// path for the commands that sign. Called once, before any command runs.
pub fn init(trust: Option<&str>, signing_key: Option<&Path>) -> Result<Policy> {
    let choice = match trust {
        None => None,
        Some("none") => Some(Choice {
            text: "none".into(),
            policy: Policy::Open,
        }),
        Some(path) => {
            let text = crate::input::read_text(Path::new(path)).context("--trust")?;
            let trust = Trust::parse(&text)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("trust file {path}"))?;
            Some(Choice {
                text,
                policy: Policy::Enforced(Arc::new(trust)),
            })
        }
    };
    let policy = choice.as_ref().map_or(Policy::Open, |c| c.policy.clone());
    let _ = CHOICE.set(choice);
    let _ = SIGNING_KEY.set(signing_key.map(Path::to_path_buf));
    Ok(policy)
}

/// The trust choice a projecting command needs: an explicit file, or an
/// explicit `none` (warned about on every start).
pub fn required() -> Result<&'static Choice> {
    let Some(choice) = CHOICE.get().and_then(Option::as_ref) else {
        bail!(
            "give the deployment's trust file with --trust FILE (or SI_LEDGER_TRUST): it names \
             who may publish merges, register records, benefit events and month closes \
             (docs/authority.md). `--trust none` accepts them from anyone: not for production"
        );
    };
    if matches!(choice.policy, Policy::Open) {
        eprintln!(
            "warning: --trust none: every producer may publish every kind of record, \
             merges and register records included (docs/authority.md)"
        );
    }
    Ok(choice)
}

/// Whether `--trust none` was given: a deployment without signatures.
pub fn explicitly_open() -> bool {
    CHOICE
        .get()
        .and_then(Option::as_ref)
        .is_some_and(|c| matches!(c.policy, Policy::Open))
}

/// `--trust`'s choice, if given.
pub fn chosen() -> Option<&'static Choice> {
    CHOICE.get().and_then(Option::as_ref)
}

/// The trust choice a store was last projected with (`none` for a store
/// projected with `--trust none`, or never projected).
pub fn of_store_choice<B: Kv>(store: &LedgerStore<B>) -> Result<Choice> {
    match store.trust_text()? {
        None => Ok(Choice {
            text: "none".into(),
            policy: Policy::Open,
        }),
        Some(t) if t == "none" => Ok(Choice {
            text: t,
            policy: Policy::Open,
        }),
        Some(t) => Ok(Choice {
            policy: Policy::Enforced(Arc::new(
                Trust::parse(&t)
                    .map_err(anyhow::Error::msg)
                    .context("the store's trust file")?,
            )),
            text: t,
        }),
    }
}

/// `ctx` for reading `store`: with the run's trust file if one was given,
/// else the one the store was projected with (so that a signature is shown
/// with the authority that file names for its key).
pub fn reading_context<B: Kv>(
    ctx: &ledger_core::Context,
    store: &LedgerStore<B>,
) -> Result<ledger_core::Context> {
    let policy = match chosen() {
        Some(c) => c.policy.clone(),
        None => of_store_choice(store)?.policy,
    };
    Ok(ledger_core::Context {
        trust: policy,
        ..ctx.clone()
    })
}

/// Records the run's trust choice in `store`, after checking that it only
/// extends the one the store was projected with: a change that would
/// decide a record already taken otherwise is refused, naming it.
pub fn adopt<B: Kv>(store: &LedgerStore<B>, choice: &Choice) -> Result<()> {
    let earlier = store.trust_text()?;
    if earlier.as_deref() == Some(choice.text.as_str()) {
        return Ok(());
    }
    // "Now" for the rules of a later trust file: the clock, or the latest
    // instant any partition of the store has judged a record at, if later
    // (a record dated ahead of the clock within the allowed tolerance must
    // keep its verdict too).
    let mut now = chrono::Utc::now();
    let partitions = store.meta()?.map_or(0, |m| m.partitions);
    for p in 0..partitions {
        if let Some(c) = store
            .clock(p)?
            .and_then(chrono::DateTime::from_timestamp_millis)
        {
            now = now.max(c);
        }
    }
    if let Some(earlier) = &earlier {
        let refused = |why: String| {
            anyhow::anyhow!(
                "this trust file does not extend the one the store was projected with: {why} \
                 (docs/authority.md, \"Changing the trust file\")"
            )
        };
        match (earlier.as_str(), &choice.policy) {
            (_, Policy::Open) => {
                return Err(refused(
                    "--trust none would take privileged records the store refused".into(),
                ))
            }
            ("none", Policy::Enforced(t)) => {
                if t.enforced_from.is_none_or(|from| from < now) {
                    return Err(refused(
                        "the store took unsigned records: the trust file must set \
                         enforced_from to an instant from now on"
                            .into(),
                    ));
                }
            }
            (old, Policy::Enforced(t)) => {
                let old = Trust::parse(old)
                    .map_err(anyhow::Error::msg)
                    .context("the store's trust file")?;
                t.follows(&old, now).map_err(refused)?;
            }
        }
    }
    store.set_trust_text(&choice.text)?;
    Ok(())
}

/// A live projector's start: the trust choice, recorded in its store, and
/// the key its merge transfers are signed with (required, and checked
/// against the trust file, when the file gives `merge_transfer` to an
/// authority).
pub fn for_projector<B: Kv>(store: &LedgerStore<B>) -> Result<Option<Arc<Signer>>> {
    let choice = required()?;
    let signer = signer()?;
    if let Policy::Enforced(t) = &choice.policy {
        if t.allowed("merge_transfer").is_empty() {
            bail!(
                "the trust file gives merge_transfer to no authority: a merge could not hand \
                 its history over (add one, e.g. `projector`, with the projector's key)"
            );
        }
        match &signer {
            None => bail!(
                "the trust file requires merge transfers signed by {}: give the projector's key \
                 with --signing-key FILE (or SI_LEDGER_SIGNING_KEY_FILE)",
                t.allowed("merge_transfer").join(" or ")
            ),
            Some(s) => check_current(&choice.policy, s, "merge_transfer", chrono::Utc::now())?,
        }
    }
    // Recorded only once every check of the start has passed: a start that
    // fails leaves the store as it was.
    adopt(store, choice)?;
    Ok(signer)
}

/// The notary of a projecting run (issue 27): the trust file's origin
/// with the projector's key, which signs each batch's checkpoints. No
/// origin: none. An origin without a key: an error for a live projector
/// (`required`), a warning for a replay (its trees are kept, nothing is
/// signed).
pub fn notary(
    choice: &Choice,
    signer: Option<&Arc<Signer>>,
    required: bool,
) -> Result<Option<Arc<ledger_store::tlog::Notary>>> {
    let Policy::Enforced(t) = &choice.policy else {
        return Ok(None);
    };
    let Some(origin) = &t.origin else {
        return Ok(None);
    };
    match signer {
        Some(s) => Ok(Some(Arc::new(
            ledger_store::tlog::Notary::new(origin, Arc::clone(s)).map_err(anyhow::Error::msg)?,
        ))),
        None if required => bail!(
            "the trust file names the log origin {origin:?}: the projector signs its              checkpoints with its key; give it with --signing-key FILE (or              SI_LEDGER_SIGNING_KEY_FILE)"
        ),
        None => {
            eprintln!(
                "warning: the trust file names the log origin {origin:?} but no --signing-key                  was given: the trees are kept, no checkpoint is signed"
            );
            Ok(None)
        }
    }
}

/// The key `--signing-key` (or `SI_LEDGER_SIGNING_KEY_FILE`) names, if any.
pub fn signer() -> Result<Option<Arc<Signer>>> {
    let Some(path) = SIGNING_KEY.get().and_then(Option::as_ref) else {
        return Ok(None);
    };
    load_signer(path).map(|s| Some(Arc::new(s)))
}

/// Reads a PKCS#8 PEM private key file. Errors name the file, never its
/// content.
pub fn load_signer(path: &Path) -> Result<Signer> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading signing key {}", path.display()))?;
    Signer::from_pem(&text)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("signing key {}", path.display()))
}

/// The signer for records of `kind` a command publishes (`merged`,
/// `month_closed`): `--signing-key`, checked against `--trust` when given;
/// none at all only under an explicit `--trust none`.
pub fn signer_for(kind: &str) -> Result<Option<Arc<Signer>>> {
    let signer = signer()?;
    match (&signer, CHOICE.get().and_then(Option::as_ref)) {
        (None, _) if explicitly_open() => Ok(None),
        (None, _) => bail!(
            "{kind} records are signed by an authority: give its key with --signing-key FILE \
             (or SI_LEDGER_SIGNING_KEY_FILE); `--trust none` publishes unsigned"
        ),
        (
            Some(s),
            Some(Choice {
                policy: policy @ Policy::Enforced(_),
                ..
            }),
        ) => {
            check_current(policy, s, kind, chrono::Utc::now())?;
            Ok(signer)
        }
        (Some(_), _) => Ok(signer),
    }
}

/// Refuses a key the trust file would not accept for `kind` at `now`.
pub fn check_current(
    policy: &Policy,
    s: &Signer,
    kind: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let verdict = policy.authorize(
        kind,
        authority::Domain::Envelope,
        Some((&s.sign(authority::Domain::Envelope, b""), b"")),
        now,
    );
    if let ledger_core::Authorization::Unauthorized(why) = verdict {
        bail!(
            "the signing key {} cannot sign {kind} now: {why}",
            s.key_id()
        );
    }
    Ok(())
}

#[derive(Args)]
pub struct KeygenArgs {
    /// Where to write the private key (PKCS#8 PEM, mode 0600). Refused if
    /// it exists.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// The authority the key is for (only printed in the trust-file
    /// snippet; the trust file decides).
    #[arg(long, default_value = "operator")]
    pub authority: String,
    /// The key's `valid_from` in the snippet (RFC 3339); default now.
    #[arg(long, value_name = "INSTANT")]
    pub valid_from: Option<String>,
}

/// `si-ledger keygen`: a fresh Ed25519 key pair; the private key to a file
/// only its owner reads, the trust-file entry to standard output.
pub fn keygen(args: &KeygenArgs) -> Result<i32> {
    let valid_from = match &args.valid_from {
        Some(v) => chrono::DateTime::parse_from_rfc3339(v)
            .with_context(|| format!("--valid-from {v:?}: an RFC 3339 instant"))?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    let signer = generate()?;
    write_key(&args.out, &signer)?;
    print!("{}", key_entry(&args.authority, &signer, valid_from));
    eprintln!(
        "private key written to {} (keep it there: never in argv, logs or the log)",
        args.out.display()
    );
    Ok(0)
}

/// A fresh key from the operating system's randomness.
pub fn generate() -> Result<Signer> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("reading randomness: {e}"))?;
    let signer = Signer::from_seed(&seed);
    seed.fill(0);
    Ok(signer)
}

/// Writes a private key file readable by its owner alone; never overwrites.
pub fn write_key(path: &Path, signer: &Signer) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let pem = signer.to_pem().map_err(anyhow::Error::msg)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(pem.as_bytes())
        .and_then(|_| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// A trust file's `[[authority.key]]` entry for `signer`.
pub fn key_entry(
    authority: &str,
    signer: &Signer,
    valid_from: chrono::DateTime<chrono::Utc>,
) -> String {
    format!(
        "# a key of authority {authority:?}: paste under its authority's entry\n\
         [[authority.key]]\n\
         id = \"{}\"\n\
         public_key = \"{}\"\n\
         valid_from = \"{}\"\n",
        signer.key_id(),
        authority::public_key_text(&signer.verifying_key()),
        valid_from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

/// A whole trust file giving each authority of the default split its kinds
/// and one key, valid from `valid_from` (the demo's and the tests').
pub fn trust_file(
    keys: &[(&str, &Signer)],
    valid_from: chrono::DateTime<chrono::Utc>,
    origin: Option<&str>,
) -> String {
    let mut out = String::from(
        "# si-ledger trust file (docs/authority.md): who may publish which privileged records.\n",
    );
    if let Some(o) = origin {
        out.push_str(&format!(
            "# The log origin: partition k's checkpoints are signed as {o}/pk \
             (docs/tamper-evidence.md).\norigin = \"{o}\"\n"
        ));
    }
    for (name, kinds) in authority::default_authorities() {
        out.push_str(&format!(
            "\n[[authority]]\nname = \"{name}\"\nkinds = {kinds:?}\n"
        ));
        for (who, signer) in keys {
            if *who == name {
                out.push_str(&key_entry(name, signer, valid_from).replace(
                    &format!("# a key of authority {name:?}: paste under its authority's entry\n"),
                    "",
                ));
            }
        }
    }
    out
}

#[derive(Args)]
pub struct SignArgs {
    /// JSON-lines file, or `-` for standard input.
    pub file: String,
    /// Where the signed lines go (default standard output).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `si-ledger sign`: signs the privileged lines of a JSON-lines feed (the
/// register's, the Fund's) with `--signing-key`, writing every line out:
/// signed, or as it came (open kinds, and lines that do not parse, which
/// are reported by number and make the exit code 2; a line over 1 MiB is
/// reported and not copied).
pub fn sign(args: &SignArgs) -> Result<i32> {
    let Some(signer) = signer()? else {
        bail!("sign needs the authority's key: --signing-key FILE (or SI_LEDGER_SIGNING_KEY_FILE)");
    };
    let mut input = crate::input::open_lines(&args.file)?;
    // `--output` is written beside itself and renamed into place once
    // complete: never a partial file, and the input may be the output.
    let tmp = args.output.as_ref().map(|p| {
        let mut name = p.file_name().unwrap_or_default().to_os_string();
        name.push(".signing");
        p.with_file_name(name)
    });
    let mut out: Box<dyn Write> = match &tmp {
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
    };
    let (mut signed, mut open, mut bad) = (0u64, 0u64, 0u64);
    let mut bytes = Vec::new();
    for n in 1u64.. {
        // As `publish` reads: a line not UTF-8 is reported by number and
        // copied as it came; one over the limit is reported, not copied
        // (only its first MiB was read: a cut line is no record).
        let max = crate::input::MAX_LINE;
        let Some(len) = crate::input::read_line(&mut input, max, &mut bytes)
            .with_context(|| format!("reading line {n}"))?
        else {
            break;
        };
        if len > max {
            bad += 1;
            eprintln!(
                "line {n}: {len} bytes long, more than the {max} a line may have (not copied)"
            );
            continue;
        }
        let parsed = match crate::input::text_line(&bytes, n == 1) {
            Err(e) => Err(e.to_string()),
            Ok(t) if t.trim().is_empty() => {
                out.write_all(&bytes)?;
                out.write_all(b"\n")?;
                continue;
            }
            Ok(t) => ledger_proto::parse_line(t).map_err(|e| e.to_string()),
        };
        match parsed {
            Err(e) => {
                bad += 1;
                eprintln!("line {n}: {e} (copied unsigned)");
                out.write_all(&bytes)?;
                out.write_all(b"\n")?;
            }
            Ok(p) if !authority::is_privileged(p.envelope.event.kind()) => {
                open += 1;
                out.write_all(&bytes)?;
                out.write_all(b"\n")?;
            }
            Ok(mut p) => {
                ledger_proto::sign_envelope(&mut p.wire, &signer);
                let envelope = serde_json::to_value(&p.wire)?;
                let json = match p.timestamp {
                    None => envelope,
                    Some(t) => serde_json::json!({
                        "timestamp": t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                        "envelope": envelope,
                    }),
                };
                writeln!(out, "{json}")?;
                signed += 1;
            }
        }
    }
    out.flush()?;
    drop(out);
    if let (Some(tmp), Some(path)) = (&tmp, &args.output) {
        std::fs::rename(tmp, path).with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!(
        "signed {signed} lines with key {}; {open} of open kinds and {bad} invalid copied as they were",
        signer.key_id()
    );
    Ok(if bad > 0 { 2 } else { 0 })
}

/// One fresh key per authority of the default split, and the trust file
/// naming them: what `demo` and `bench` sign with.
pub struct Authorities {
    pub keys: Vec<(&'static str, Arc<Signer>)>,
    pub text: String,
    pub policy: Policy,
}

/// The log origin of the trust files `demo` and `bench` generate.
pub const DEMO_ORIGIN: &str = "si-ledger.example.kz/demo";

impl Authorities {
    /// Fresh keys, valid from the start of 2000 (the default epoch): a
    /// demo's back-dated records are all within their range.
    pub fn generate() -> Result<Authorities> {
        let mut keys = Vec::new();
        for (name, _) in authority::default_authorities() {
            keys.push((name, Arc::new(generate()?)));
        }
        let from = chrono::DateTime::parse_from_rfc3339("2000-01-01T00:00:00Z")
            .expect("a valid instant")
            .with_timezone(&chrono::Utc);
        let refs: Vec<(&str, &Signer)> = keys.iter().map(|(n, s)| (*n, s.as_ref())).collect();
        let text = trust_file(&refs, from, Some(DEMO_ORIGIN));
        let trust = Trust::parse(&text).map_err(anyhow::Error::msg)?;
        Ok(Authorities {
            keys,
            text,
            policy: Policy::Enforced(Arc::new(trust)),
        })
    }

    pub fn key(&self, authority: &str) -> Arc<Signer> {
        self.keys
            .iter()
            .find(|(n, _)| *n == authority)
            .map(|(_, s)| Arc::clone(s))
            .expect("one key per default authority")
    }

    /// Each authority's key for its kinds.
    pub fn keyring(&self) -> KeyRing {
        KeyRing(
            authority::default_authorities()
                .into_iter()
                .map(|(name, kinds)| {
                    (
                        self.key(name),
                        kinds.into_iter().map(str::to_string).collect(),
                    )
                })
                .collect(),
        )
    }

    /// Writes `trust.toml` and `keys/<authority>.key` (0600) under `dir`.
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        let keys = dir.join("keys");
        std::fs::create_dir_all(&keys)?;
        for (name, s) in &self.keys {
            write_key(&keys.join(format!("{name}.key")), s)?;
        }
        let path = dir.join("trust.toml");
        std::fs::write(&path, &self.text)?;
        Ok(path)
    }
}

/// Which key signs which privileged kinds when lines are published: one
/// key for all (`--signing-key`), or one per authority (the demo).
#[derive(Default, Clone)]
pub struct KeyRing(pub Vec<(std::sync::Arc<ledger_core::authority::Signer>, Vec<String>)>);

impl KeyRing {
    /// One key for every privileged kind.
    pub fn one(signer: Option<std::sync::Arc<ledger_core::authority::Signer>>) -> KeyRing {
        let kinds: Vec<String> = ledger_core::authority::PRIVILEGED_KINDS
            .iter()
            .map(|(k, _)| k.to_string())
            .collect();
        KeyRing(signer.into_iter().map(|s| (s, kinds.clone())).collect())
    }

    pub fn for_kind(&self, kind: &str) -> Option<&ledger_core::authority::Signer> {
        self.0
            .iter()
            .find(|(_, kinds)| kinds.iter().any(|k| k == kind))
            .map(|(s, _)| s.as_ref())
    }
}
