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
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// The access log file [default: DATA/access-log.jsonl].
    #[arg(long, value_name = "FILE")]
    pub access_log: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

/// Lists the access records (full IINs: this is the auditor's own tool).
pub fn access_log(args: &AccessLogArgs) -> Result<i32> {
    let path = args
        .access_log
        .clone()
        .unwrap_or_else(|| default_access_log(&args.data));
    let records = ledger_api::access::read(&path).map_err(anyhow::Error::msg)?;
    let mut out = String::new();
    if args.json {
        out = serde_json::to_string_pretty(&records)?;
        out.push('\n');
    } else {
        for r in &records {
            out.push_str(&format!(
                "{}  {} ({})  {}  {}\n",
                r.at,
                r.who,
                r.role,
                r.iin.as_deref().unwrap_or("-"),
                r.endpoint
            ));
        }
    }
    use std::io::Write as _;
    output_done(std::io::stdout().lock().write_all(out.as_bytes()))
}
