//! `si-ledger demo`: a synthetic population's year of events, written as
//! JSON lines, published through the same path as `publish`, projected with
//! a progress bar, then a summary and one statement.

use crate::{common, project, publish, synth};
use anyhow::{bail, Context as _, Result};
use clap::Args;
use ledger_core::{Context, Statement};
use ledger_stream::EmbeddedLog;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args)]
pub struct DemoArgs {
    #[arg(long, default_value_t = 2000)]
    pub participants: usize,
    #[arg(long, default_value_t = 12)]
    pub months: u32,
    /// Where the demo's events file, log and store go (replaced on each run).
    #[arg(long, default_value = "demo-data")]
    pub data: PathBuf,
    #[arg(long, default_value_t = 4)]
    pub partitions: u32,
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
}

const MARKER: &str = ".si-ledger-demo";

/// How the demo signs and judges: its keys by kind, the projector's key,
/// and the trust file.
struct Signing {
    keys: crate::trust::KeyRing,
    projector: Option<std::sync::Arc<ledger_core::authority::Signer>>,
    text: String,
    policy: ledger_core::Policy,
}

pub fn run(ctx: &Context, args: &DemoArgs) -> Result<i32> {
    if args.participants == 0 || args.months == 0 {
        bail!("--participants and --months must be at least 1");
    }
    let data = &args.data;
    if data.exists() {
        if !data.join(MARKER).exists() {
            bail!(
                "{} exists and is not a demo directory; choose another --data",
                data.display()
            );
        }
        std::fs::remove_dir_all(data).with_context(|| format!("clearing {}", data.display()))?;
    }
    std::fs::create_dir_all(data)?;
    std::fs::write(
        data.join(MARKER),
        "created by si-ledger demo; removed by the next demo run\n",
    )?;

    let started = std::time::Instant::now();
    // Issue 15: with --trust and --signing-key, the demo signs with that
    // key and projects under that file (as the tests run it); with
    // `--trust none`, unsigned; otherwise it makes its own authorities,
    // one fresh key each, and the trust file naming them.
    let (signing, trust_path) = match crate::trust::chosen() {
        Some(choice) => {
            let signer = crate::trust::signer()?;
            if signer.is_none() && !crate::trust::explicitly_open() {
                bail!(
                    "demo with --trust FILE signs with --signing-key FILE: give both, or neither"
                );
            }
            (
                Signing {
                    keys: crate::trust::KeyRing::one(signer.clone()),
                    projector: signer,
                    text: choice.text.clone(),
                    policy: choice.policy.clone(),
                },
                None,
            )
        }
        None => {
            let a = crate::trust::Authorities::generate()?;
            let path = a.write(data)?;
            (
                Signing {
                    keys: a.keyring(),
                    projector: Some(a.key("projector")),
                    text: a.text.clone(),
                    policy: a.policy.clone(),
                },
                Some(path),
            )
        }
    };
    let ctx = &Context {
        trust: signing.policy.clone(),
        ..ctx.clone()
    };
    let mut gen = synth::Synth::new(
        args.seed,
        args.participants,
        args.months,
        ctx.calendar.clone(),
    );
    let events_path = data.join("events.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&events_path)?);
    let write_items =
        |items: Vec<synth::Item>, file: &mut std::io::BufWriter<std::fs::File>| -> Result<()> {
            for it in items {
                let ts = chrono::DateTime::from_timestamp_millis(it.timestamp_ms)
                    .context("timestamp")?;
                let line = serde_json::json!({"timestamp": ts.to_rfc3339(), "envelope": it.wire});
                writeln!(file, "{line}")?;
            }
            Ok(())
        };
    write_items(gen.registrations(), &mut file)?;
    for m in 0..args.months {
        write_items(gen.month(m), &mut file)?;
    }
    for bad in synth::bad_lines(gen.iin(0)) {
        writeln!(file, "{bad}")?;
    }
    file.flush()?;
    drop(file);

    println!(
        "generated {} participants × {} months → {}",
        args.participants,
        args.months,
        events_path.display()
    );
    let log_dir = data.join("log");
    let mut appender = publish::open_appender(&log_dir, args.partitions)?;
    let input = std::io::BufReader::new(std::fs::File::open(&events_path)?);
    let mut refused = Vec::new();
    let summary =
        publish::publish_lines(ctx, &signing.keys, input, Some(&mut appender), |n, e| {
            refused.push(format!("line {n}: {e}"))
        })?;
    drop(appender);
    println!(
        "published {} of {} lines; {} refused at the door:",
        summary.published, summary.lines, summary.refused
    );
    for r in &refused {
        println!("  {r}");
    }

    let log = EmbeddedLog::open(&log_dir)?;
    let store = common::open_store(&common::store_dir(data))?;
    store.set_trust_text(&signing.text)?;
    let choice = crate::trust::Choice {
        text: signing.text.clone(),
        policy: signing.policy.clone(),
    };
    let notary = crate::trust::notary(&choice, signing.projector.as_ref(), false)?;
    let totals = project::project_with_progress(
        ctx,
        &log,
        &store,
        ledger_projector::DEFAULT_BATCH_SIZE,
        false,
        project::Keys {
            signer: signing.projector.clone(),
            notary,
            trees: true,
        },
        |_| {},
    )?;
    println!("{}", common::totals_line(&totals));
    if let Some(code) = common::interrupted(&totals, "demo", "nothing projected past it") {
        return Ok(code);
    }

    // Show the most eventful statement: the reader sees returns, refusals,
    // duplicates and lateness at work.
    let mut best: Option<(u64, ledger_core::Account)> = None;
    let mut accounts = 0u64;
    store.for_each_account(|_, a| {
        accounts += 1;
        let score = a.rejections.len() as u64 * 4
            + a.duplicates_ignored * 2
            + a.late_recordings
            + a.benefits.len() as u64 * 3;
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, a));
        }
    })?;
    println!(
        "{accounts} accounts in {} (store {} MiB)",
        common::store_dir(data).display(),
        store.size_on_disk()? / (1 << 20)
    );
    let shown = best.as_ref().map(|(_, a)| a.iin);
    if let Some((_, a)) = best {
        println!();
        print!("{}", Statement::of(&a).to_text());
        println!();
        println!(
            "try: si-ledger account {} --data {} --json",
            a.iin,
            data.display()
        );
        println!("     si-ledger dead-letters --data {}", data.display());
        if let Some(path) = &trust_path {
            println!(
                "     the demo's trust file is {}, its authorities' keys in {}",
                path.display(),
                data.join("keys").display()
            );
        }
    }
    let tokens = write_auth_file(data)?;
    println!();
    println!(
        "the auditors' console, over this store (tokens in {}: SHA-256 only, so \
         these are shown once; a new demo makes new ones):",
        data.join(AUTH_FILE).display()
    );
    println!(
        "     si-ledger serve --data {} --auth {}",
        data.display(),
        data.join(AUTH_FILE).display()
    );
    println!("     then open http://127.0.0.1:8080/console/ and sign in with a token:");
    for (role, token) in &tokens {
        println!("       {role:<9} {token}");
    }
    if let Some(iin) = shown {
        println!("     and look up IIN {iin} (the statement above) on the Account page");
    }
    println!("demo finished in {:.1} s", started.elapsed().as_secs_f64());
    Ok(0)
}

/// The demo's auth file, in the data directory.
pub const AUTH_FILE: &str = "auth.toml";

/// Writes the demo's auth file (0600): one fresh random token per role,
/// of which only the SHA-256 is stored. The tokens, by role, to show once.
fn write_auth_file(data: &std::path::Path) -> Result<Vec<(&'static str, String)>> {
    let mut text = String::from(
        "# The demo's API tokens: name, role and the SHA-256 of each token\n\
         # (the tokens themselves were printed by `si-ledger demo`, once).\n\n",
    );
    let mut tokens = Vec::new();
    for role in ["auditor", "reporter", "operator"] {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("reading randomness: {e}"))?;
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        text.push_str(&format!(
            "[[tokens]]\nname = \"demo-{role}\"\nrole = \"{role}\"\nsha256 = \"{}\"\n\n",
            ledger_api::auth::token_digest(&token)
        ));
        tokens.push((role, token));
    }
    let path = data.join(AUTH_FILE);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(tokens)
}
