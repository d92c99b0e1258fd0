//! `si-ledger serve` (the HTTP API over a store), `si-ledger access-log`,
//! and the `--serve` option that runs the API inside a projector.

use crate::query::{open_existing_store, output_done};
use anyhow::{Context as _, Result};
use clap::Args;
use ledger_api::auth::Tokens;
use ledger_api::server::default_access_log;
use ledger_api::{Held, Server};
use ledger_core::Context;
use ledger_store::{LedgerStore, SledKv};
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
    store: LedgerStore<SledKv>,
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
        },
    )
    .with_context(|| format!("serving on {listen}"))?;
    eprintln!("API listening on http://{}", server.addr());
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
    let stop = crate::query::stop_on_signals()?;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    server.stop();
    Ok(0)
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
