//! `si-ledger bench import`: `import mt102` of N contribution lines in
//! MT102 files (CP866, CRLF, as client programs write them) against
//! `publish` of the same lines as JSON, each the real binary writing a
//! fresh embedded log, in one run. Both logs must then hold the same
//! records, byte for byte, or no figure is printed.

use crate::bench::{children_cpu_secs, PeakRss};
use anyhow::{bail, Context as _, Result};
use clap::Args;
use ledger_core::{Bin, Iin, Sex};
use ledger_stream::{EmbeddedLog, Source as _};
use rand::{Rng, SeedableRng};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct ImportArgs {
    /// Contribution lines (persons) in all.
    #[arg(long, default_value_t = 1_000_000)]
    pub lines: u64,
    /// Lines per payment order.
    #[arg(long, default_value_t = 20)]
    pub lines_per_order: u64,
    /// Orders per MT102 file.
    #[arg(long, default_value_t = 500)]
    pub orders_per_file: u64,
    /// Rounds of the two runs (publish, then import, each into a new log).
    #[arg(long, default_value_t = 2)]
    pub rounds: u32,
    /// Where the files and logs go (default: a temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
}

const SURNAMES: [&str; 8] = [
    "СЕРИКОВА",
    "ЖАНОВ",
    "ИВАНОВА",
    "АХМЕТОВ",
    "НУРЛАНОВА",
    "ПЕТРОВ",
    "КИМ",
    "ОМАРОВА",
];
const NAMES: [&str; 8] = [
    "АЙГЕРИМ",
    "ЕРЛАН",
    "ЕЛЕНА",
    "АСКАР",
    "ДИНАРА",
    "СЕРГЕЙ",
    "ВИКТОР",
    "САУЛЕ",
];
const PATRONYMICS: [&str; 4] = ["БОЛАТОВНА", "САПАРОВИЧ", "", "ИВАНОВНА"];

/// Writes the files and the JSON lines: (MT102 files, JSON file, bytes of
/// each).
fn generate(dir: &Path, args: &ImportArgs) -> Result<(Vec<PathBuf>, PathBuf, u64, u64)> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(102);
    let json_path = dir.join("lines.jsonl");
    let mut json = std::io::BufWriter::new(std::fs::File::create(&json_path)?);
    let (mut files, mut mt_bytes, mut json_bytes) = (Vec::new(), 0u64, 0u64);
    let orders = args.lines.div_ceil(args.lines_per_order.max(1));
    let mut text = String::new();
    let mut written = 0u64;
    for o in 0..orders {
        let payer = loop {
            if let Some(b) = Bin::generate(10, 1 + (o % 12) as u8, rng.random_range(0..100_000)) {
                break b;
            }
        };
        let n = args.lines_per_order.min(args.lines - written);
        let reference = format!("RMZ{o:07}");
        let num = format!("{}", o % 1_000_000 + 1);
        let mut lines = Vec::with_capacity(n as usize);
        let mut total = 0i64;
        for _ in 0..n {
            let birth = chrono::NaiveDate::from_ymd_opt(
                rng.random_range(1960..2004),
                rng.random_range(1..=12),
                rng.random_range(1..=28),
            )
            .expect("a day of every month");
            let sex = if rng.random_bool(0.5) {
                Sex::Female
            } else {
                Sex::Male
            };
            let iin = loop {
                if let Some(i) = Iin::generate(birth, sex, rng.random_range(0..10_000)) {
                    break i;
                }
            };
            let tiyn: i64 = rng.random_range(100_000..5_000_000);
            total += tiyn;
            let k = rng.random_range(0..8);
            lines.push((iin, birth, tiyn, SURNAMES[k], NAMES[k], PATRONYMICS[k % 4]));
        }
        let amount = |t: i64| format!("{},{:02}", t / 100, t % 100);
        text += &format!(
            "{{1:F01K054700000000010000001}}\n{{2:I102SGROSS000000U3003}}\n{{4:\n:20:{reference}\n\
             :50:/D/KZ000000000000000001\n/NAME/ТОО \"ПРИМЕР\"\n/IDN/{payer}\n/IRS/1\n/SECO/7\n\
             :52B:HSBKKZKX\n:57B:GCVPKZ2A\n:59:KZ67009SS00368609110\n/NAME/ГОСКОРПОРАЦИЯ\n\
             /IDN/160440007161\n:70:/NUM/{num}\n/DATE/250410\n/KNP/012\n/PERIOD/032025\n\
             /ASSIGN/СО ЗА МАРТ 2025 Г.\n"
        );
        let key = ledger_mt102::order::order_key(&reference, payer.as_str(), &num, "2025-04-10");
        for (i, (iin, birth, tiyn, fm, nm, ft)) in lines.iter().enumerate() {
            let n_line = i + 1;
            text += &format!(
                ":21:{n_line}\n:32B:KZT{}\n:70:/OPV/S\n/FM/{fm}\n/NM/{nm}\n",
                amount(*tiyn)
            );
            if !ft.is_empty() {
                text += &format!("/FT/{ft}\n");
            }
            text += &format!("/DT/{}\n/IDN/{iin}\n", birth.format("%Y%m%d"));
            let patronymic = if ft.is_empty() {
                String::new()
            } else {
                format!(r#","patronymic":"{ft}""#)
            };
            let line = format!(
                r#"{{"eventId":"mt102-{key}-{n_line}","iin":"{iin}","source":"HSBKKZKX","contribution":{{"payment":{{"documentNumber":"{num}","documentDate":"2025-04-10","receivedOn":"2025-04-10","dispatchedOn":"2025-04-10","ppc":"012","payerId":"{payer}","payerName":"ТОО \"ПРИМЕР\"","recipientName":"ГОСКОРПОРАЦИЯ","totalAmount":"{}.{:02}","lineCount":{}}},"period":"2025-03","amount":"{}.{:02}","person":{{"surname":"{fm}","name":"{nm}"{patronymic},"birthDate":"{birth}"}}}}}}"#,
                total / 100,
                total % 100,
                lines.len(),
                tiyn / 100,
                tiyn % 100
            );
            json_bytes += line.len() as u64 + 1;
            writeln!(json, "{line}")?;
        }
        text += &format!(":32A:250410KZT{}\n-}}\n", amount(total));
        written += n;
        if (o + 1) % args.orders_per_file.max(1) == 0 || o + 1 == orders {
            let crlf = text.replace('\n', "\r\n");
            let (bytes, _, unmappable) = encoding_rs::IBM866.encode(&crlf);
            if unmappable {
                bail!("a generated text has a letter CP866 lacks");
            }
            let path = dir.join(format!("orders-{:05}.mt102", files.len()));
            std::fs::write(&path, &bytes)?;
            mt_bytes += bytes.len() as u64;
            files.push(path);
            text.clear();
        }
    }
    json.flush()?;
    Ok((files, json_path, mt_bytes, json_bytes))
}

/// Runs the binary with `args`: wall seconds, CPU seconds, peak RSS MiB.
fn timed(args: &[&str]) -> Result<(f64, f64, f64)> {
    let exe = std::env::current_exe()?;
    let cpu0 = children_cpu_secs();
    let t0 = Instant::now();
    let child = std::process::Command::new(exe)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let rss = PeakRss::watch(child.id());
    let out = child.wait_with_output()?;
    let secs = t0.elapsed().as_secs_f64();
    let rss = rss.stop();
    if !out.status.success() {
        bail!(
            "{} failed ({}): {}",
            args[0],
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok((secs, children_cpu_secs() - cpu0, rss))
}

/// A record as compared: partition, key, value.
type Rec = (u32, Vec<u8>, Vec<u8>);

/// Every record's key and value, partition by partition.
fn records(dir: &Path) -> Result<Vec<Rec>> {
    let log = EmbeddedLog::open(dir)?;
    let mut source = log.source()?;
    let mut out = Vec::new();
    loop {
        let batch = source.poll(65_536, Duration::ZERO)?;
        if batch.is_empty() {
            break;
        }
        out.extend(batch.into_iter().map(|r| (r.partition, r.key, r.value)));
    }
    out.sort_by_key(|r| r.0);
    Ok(out)
}

pub fn import(args: &ImportArgs) -> Result<i32> {
    let tmp = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let (files, json, mt_bytes, json_bytes) = generate(&dir, args).context("generating")?;
    let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let json = json.display().to_string();
    let (mut publish, mut import) = (Vec::new(), Vec::new());
    for round in 0..args.rounds.max(1) {
        let (jl, ml) = (
            dir.join(format!("json-log-{round}")),
            dir.join(format!("mt102-log-{round}")),
        );
        let jl_s = jl.display().to_string();
        let ml_s = ml.display().to_string();
        publish.push(timed(&["publish", "--log", &jl_s, &json])?);
        let mut a = vec!["import", "mt102", "--log", &ml_s];
        a.extend(files.iter().map(String::as_str));
        import.push(timed(&a)?);
        let (j, m) = (records(&jl)?, records(&ml)?);
        if j.len() as u64 != args.lines || j != m {
            bail!(
                "the logs differ ({} JSON records, {} MT102 records, {} lines): no figures",
                j.len(),
                m.len(),
                args.lines
            );
        }
        std::fs::remove_dir_all(&jl)?;
        std::fs::remove_dir_all(&ml)?;
    }
    // The best round of each: the machine's other work only slows a run.
    let best = |v: &[(f64, f64, f64)]| {
        v.iter()
            .copied()
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .expect("a round")
    };
    let (p, i) = (best(&publish), best(&import));
    let n = args.lines as f64;
    let fig = serde_json::json!({
        "lines": args.lines,
        "orders": args.lines.div_ceil(args.lines_per_order.max(1)),
        "files": files.len(),
        "rounds": args.rounds.max(1),
        "publish_lines_per_s": (n / p.0).round() as u64,
        "import_lines_per_s": (n / i.0).round() as u64,
        "ratio": ((p.0 / i.0) * 100.0).round() / 100.0,
        "publish_cpu_s": (p.1 * 10.0).round() / 10.0,
        "import_cpu_s": (i.1 * 10.0).round() / 10.0,
        "publish_rss_mib": p.2.round() as u64,
        "import_rss_mib": i.2.round() as u64,
        "json_bytes": json_bytes,
        "mt102_bytes": mt_bytes,
        "publish_s": publish.iter().map(|r| (r.0 * 100.0).round() / 100.0).collect::<Vec<_>>(),
        "import_s": import.iter().map(|r| (r.0 * 100.0).round() / 100.0).collect::<Vec<_>>(),
    });
    if args.json {
        println!("{fig}");
    } else {
        println!(
            "lines={} orders={} files={} publish_lines_per_s={} import_lines_per_s={} ratio={} \
             publish_cpu_s={} import_cpu_s={} publish_rss_mib={} import_rss_mib={} \
             json_bytes={} mt102_bytes={} (best of {} rounds; the two logs equal byte for byte)",
            fig["lines"],
            fig["orders"],
            fig["files"],
            fig["publish_lines_per_s"],
            fig["import_lines_per_s"],
            fig["ratio"],
            fig["publish_cpu_s"],
            fig["import_cpu_s"],
            fig["publish_rss_mib"],
            fig["import_rss_mib"],
            fig["json_bytes"],
            fig["mt102_bytes"],
            fig["rounds"],
        );
    }
    Ok(0)
}
