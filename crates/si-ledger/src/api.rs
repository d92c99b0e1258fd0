//! `si-ledger serve` (the HTTP API over a store), `si-ledger access-log`,
//! and the `--serve` option that runs the API inside a projector.

use crate::common::{open_existing_store, output_done};
use anyhow::{Context as _, Result};
use clap::Args;
use ledger_api::auth::Tokens;
use ledger_api::server::default_access_log;
use ledger_api::{Held, Server};
use ledger_core::Context;
use ledger_store::{DiskKv, LedgerStore};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The API's options, shared by `serve` and `project --serve`.
#[derive(Args, Debug, Clone)]
pub struct ApiArgs {
    /// The auth file: TOML `[[tokens]]` with name, role and sha256.
    #[arg(long, value_name = "FILE")]
    pub auth: Option<PathBuf>,
    /// Where access records go [default: DATA/access-log.jsonl].
    #[arg(long, value_name = "FILE")]
    pub access_log: Option<PathBuf>,
    /// How long a client may take to send a request's header, in ms; on a
    /// keep-alive connection the wait for the next request counts too, so
    /// this is also the idle timeout.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub header_read_timeout_ms: u64,
    /// Connections served at once (more wait in the listen backlog). Keep
    /// it under the process's file limit (`ulimit -n`, `LimitNOFILE`).
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_connections: usize,
}

#[derive(Args)]
pub struct ServeArgs {
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Address to listen on (loopback unless you mean it).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Starts the API over `store` (a projector passes its own, so reads see
/// live data).
pub fn start(
    ctx: &Context,
    store: LedgerStore<DiskKv>,
    data: &Path,
    listen: SocketAddr,
    api: &ApiArgs,
    held: Held,
    instances: Option<ledger_api::Instances>,
) -> Result<Server> {
    let Some(auth) = &api.auth else {
        anyhow::bail!("the API needs --auth FILE (TOML [[tokens]] with name, role, sha256)");
    };
    let text = crate::input::read_text(auth)?;
    let tokens = Tokens::parse(&text).with_context(|| auth.display().to_string())?;
    let ctx = &crate::trust::reading_context(ctx, &store)?;
    let unreconciled: ledger_api::Unreconciled = {
        let (ctx, store) = (ctx.clone(), store.clone());
        Arc::new(move |period| {
            crate::payments::unreconciled_in(&ctx, &store, period).map_err(|e| format!("{e:#}"))
        })
    };
    let access_log = api
        .access_log
        .clone()
        .unwrap_or_else(|| default_access_log(data));
    let server = Server::start(
        store,
        ctx.clone(),
        ledger_api::Config {
            listen,
            tokens,
            access_log,
            held,
            instances,
            unreconciled,
            limits: ledger_api::Limits {
                header_read_timeout: std::time::Duration::from_millis(
                    api.header_read_timeout_ms.max(1),
                ),
                max_connections: api.max_connections.max(1),
            },
        },
    )
    .with_context(|| format!("serving on {listen}"))?;
    eprintln!(
        "API listening on http://{0}; the auditors' console at http://{0}/console/",
        server.addr()
    );
    let (bytes, head) = server.access_log_opened();
    eprintln!(
        "access log opened at {bytes} bytes, head {head} (note it: records removed from the end \
         show only against a head noted earlier)"
    );
    Ok(server)
}

pub fn serve(ctx: &Context, args: &ServeArgs) -> Result<i32> {
    let store = open_existing_store(&args.data)?;
    let server = start(
        ctx,
        store,
        &args.data,
        args.listen,
        &args.api,
        Arc::new(|| None),
        None,
    )?;
    let stop = crate::common::stop_on_signals()?;
    while !stop.load(Ordering::Relaxed) {
        if server.ended() {
            // Never a process that looks alive while serving nothing: a
            // supervisor restarts one that exits.
            eprintln!("error: the API server stopped on its own; exiting so that it is restarted");
            return Ok(1);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    server.stop();
    Ok(0)
}

/// `project --serve`: when the API server ends on its own, the projector
/// is stopped cleanly (its batch finished and flushed) and the command
/// exits non-zero ([`server_ended`]).
pub fn watch(server: &Server) -> Result<()> {
    let stop = crate::common::stop_on_signals()?;
    let ended = server.ended_flag();
    std::thread::Builder::new()
        .name("api-watch".into())
        .spawn(move || loop {
            if ended.load(Ordering::SeqCst) {
                SERVER_ENDED.store(true, Ordering::SeqCst);
                stop.store(true, Ordering::SeqCst);
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        })
        .context("starting the API watcher")?;
    Ok(())
}

static SERVER_ENDED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether a watched API server ended on its own; says so on stderr.
pub fn server_ended() -> bool {
    let ended = SERVER_ENDED.load(Ordering::SeqCst);
    if ended {
        eprintln!("error: the API server stopped on its own; the projector stopped with it");
    }
    ended
}

#[derive(Args)]
pub struct AccessLogArgs {
    /// The data directory whose access log is read (it must hold a store).
    #[arg(long, value_name = "DIR", required_unless_present = "access_log")]
    pub data: Option<PathBuf>,
    /// The access log file [default: DATA/access-log.jsonl].
    #[arg(long, value_name = "FILE")]
    pub access_log: Option<PathBuf>,
    #[arg(long, conflicts_with = "verify")]
    pub json: bool,
    /// Walk the log's hash chain instead of listing it: each line that
    /// does not follow the one before it is named (exit 1 if any).
    #[arg(long)]
    pub verify: bool,
}

/// Lists the access records (full IINs: this is the auditor's own tool),
/// or walks their chain. A line that holds no record is named on standard
/// error and the listing goes on; the command then exits 1, since a
/// damaged audit trail is a finding a script must not miss. A last line
/// without its line feed (a write in progress, or one a crash cut short,
/// never acknowledged) is only noted.
pub fn access_log(args: &AccessLogArgs) -> Result<i32> {
    if let Some(data) = &args.data {
        crate::common::require_store(data)?;
    }
    let path = match (&args.access_log, &args.data) {
        (Some(file), _) => {
            if !file.exists() {
                anyhow::bail!("no access log at {}", file.display());
            }
            file.clone()
        }
        (None, Some(data)) => default_access_log(data),
        (None, None) => unreachable!("clap requires --data or --access-log"),
    };
    if !path.exists() {
        eprintln!(
            "no access log at {}: no API server has served this store, so nothing was read",
            path.display()
        );
        // Verifying nothing is no verification: a log that should be there
        // and was removed must not pass.
        return Ok(if args.verify { 1 } else { 0 });
    }
    if args.verify {
        return verify_access_log(&path);
    }
    let listing = ledger_api::access::read(&path).map_err(anyhow::Error::msg)?;
    let mut out = String::new();
    if args.json {
        out = serde_json::to_string_pretty(&listing.records)?;
        out.push('\n');
    } else {
        for r in &listing.records {
            out.push_str(&format!(
                "{}  {} ({})  {}  {}",
                r.at,
                r.who,
                r.role,
                r.iin.as_deref().unwrap_or("-"),
                r.endpoint
            ));
            // A read another instance forwarded here.
            if let Some(via) = &r.via {
                out.push_str(&format!("  via {via}"));
            }
            out.push('\n');
        }
    }
    use std::io::Write as _;
    let code = output_done(std::io::stdout().lock().write_all(out.as_bytes()))?;
    for u in &listing.unreadable {
        eprintln!("warning: {}", place(&path, u));
    }
    if let Some(torn) = &listing.torn {
        eprintln!("note: {}", place(&path, torn));
    }
    if !listing.unreadable.is_empty() {
        eprintln!(
            "error: {} line(s) of {} hold no access record (named above; the others are listed): \
             see `si-ledger access-log --verify`",
            listing.unreadable.len(),
            path.display()
        );
        return Ok(1);
    }
    Ok(code)
}

/// `path line N (byte B): why`.
fn place(path: &Path, u: &ledger_api::access::Unreadable) -> String {
    let line = u.line.map(|n| format!(" line {n}")).unwrap_or_default();
    format!("{}{line} (byte {}): {}", path.display(), u.offset, u.error)
}

/// `access-log --verify`: the chain walked, each break named; exit 1 if any.
fn verify_access_log(path: &Path) -> Result<i32> {
    let v = ledger_api::access::verify(path).map_err(anyhow::Error::msg)?;
    let mut out = format!("{}: {} lines\n", path.display(), v.lines);
    if v.before_chain > 0 {
        let lines = match v.before_chain {
            1 => "line 1".to_string(),
            n => format!("lines 1-{n}"),
        };
        out.push_str(&format!(
            "  {lines}: {} record(s) from before the chain began: not covered by it, not \
             verified\n",
            v.before_chain
        ));
    }
    out.push_str(&format!(
        "  {} record(s) follow the line before them\n",
        v.chained
    ));
    for b in &v.breaks {
        out.push_str(&format!(
            "  BROKEN at line {} (byte {}): {}\n",
            b.line, b.offset, b.what
        ));
    }
    if let Some(torn) = &v.torn {
        out.push_str(&format!("  note: {}\n", place(path, torn)));
    }
    out.push_str(&format!(
        "  head {} (the next record's prev: records removed from the end show only against a \
         head noted earlier)\n",
        v.head
    ));
    if v.breaks.is_empty() && v.chained > 0 {
        out.push_str("chain intact\n");
    }
    use std::io::Write as _;
    output_done(std::io::stdout().lock().write_all(out.as_bytes()))?;
    if !v.breaks.is_empty() {
        eprintln!(
            "error: the access log's chain is broken at {} line(s)",
            v.breaks.len()
        );
        return Ok(1);
    }
    if v.chained == 0 {
        // Empty, or every record from before the chain (or stripped of
        // it): nothing could be verified, which is no pass.
        eprintln!(
            "error: no record of {} is chained: nothing was verified",
            path.display()
        );
        return Ok(1);
    }
    Ok(0)
}
