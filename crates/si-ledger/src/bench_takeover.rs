//! `si-ledger bench takeover` (issue 31): how long a new owner takes to
//! serve a lost instance's partitions, with a warm standby copy and
//! without one, in one run on one topic.
//!
//! The population's events are published once. Two instances, X and S,
//! project the topic in one consumer group with `--serve --advertise`; S
//! also keeps a standby copy of X's partitions (`--standby 1`). Once both
//! have caught up (S's copy too), X is SIGKILLed: S is given X's
//! partitions and resumes them from its copy. Then R, a third instance
//! with an empty store and no standby, joins the group: the rebalance
//! gives it about half the partitions, which it rebuilds from offset 0.
//! Each takeover is timed by the new owner itself, per partition, from
//! the partition's assignment until it had caught up on it, which is when
//! it answers for it (`si_ledger_partition_catch_up_seconds` on its
//! metrics; the figure is the slowest of the partitions taken over); the
//! standby's is also timed from the SIGKILL until the last of them was
//! caught up on (the group's session timeout, 10 s, is most of that). Before printing, the chain heads R rebuilt must equal S's for
//! the same partitions: the standby copy and a rebuild from zero agree.
//!
//! `participants=N events=E partitions=P takeover_standby_s=…
//! takeover_standby_from_kill_s=… standby_partitions=… rebuild_s=…
//! rebuild_partitions=… rebuild_records=…`

use crate::bench::OnBrokers;
use anyhow::{bail, Context as _, Result};
use clap::Args;
use ledger_core::Context;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct TakeoverArgs {
    #[command(flatten)]
    pub on: OnBrokers,
    /// Working directory (default: a fresh temporary one, removed afterwards).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// How long each phase may take before the run fails, in seconds.
    #[arg(long, default_value_t = 7200)]
    pub phase_limit_secs: u64,
}

/// One instance as a child process.
struct Instance {
    name: &'static str,
    metrics: u16,
    data: PathBuf,
    child: std::process::Child,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An instance's partitions now, from its metrics: per assigned partition
/// (lag, ready), and per standby partition its lag.
#[derive(Debug, Default)]
struct Seen {
    assigned: BTreeMap<u32, (u64, bool)>,
    standby: BTreeMap<u32, u64>,
    /// Per partition caught up on: seconds from its assignment, and when
    /// (Unix seconds).
    caught_up: BTreeMap<u32, (f64, f64)>,
    /// Per assigned partition: the next offset to apply.
    next: BTreeMap<u32, u64>,
}

impl Seen {
    /// The slowest catch-up among `partitions`, and when the last of them
    /// was caught up on (Unix seconds).
    fn slowest(&self, partitions: &[u32]) -> Option<(f64, f64)> {
        partitions
            .iter()
            .try_fold((0.0f64, 0.0f64), |(secs, at), p| {
                let (s, a) = self.caught_up.get(p)?;
                Some((secs.max(*s), at.max(*a)))
            })
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `GET /metrics` on 127.0.0.1:port, parsed; `None` if it does not answer.
fn seen(port: u16) -> Option<Seen> {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    let gauge = |name: &str| -> BTreeMap<u32, f64> {
        let prefix = format!("{name}{{partition=\"");
        body.lines()
            .filter_map(|l| l.strip_prefix(prefix.as_str()))
            .filter_map(|rest| {
                let (p, v) = rest.split_once("\"} ")?;
                Some((p.parse().ok()?, v.trim().parse().ok()?))
            })
            .collect()
    };
    let lag = gauge("si_ledger_partition_lag");
    let ready = gauge("si_ledger_partition_ready");
    let at = gauge("si_ledger_partition_ready_time_seconds");
    Some(Seen {
        assigned: ready
            .iter()
            .map(|(p, r)| (*p, (lag.get(p).map_or(u64::MAX, |l| *l as u64), *r == 1.0)))
            .collect(),
        standby: gauge("si_ledger_standby_lag")
            .into_iter()
            .map(|(p, l)| (p, l as u64))
            .collect(),
        next: gauge("si_ledger_partition_next_offset")
            .into_iter()
            .map(|(p, o)| (p, o as u64))
            .collect(),
        caught_up: gauge("si_ledger_partition_catch_up_seconds")
            .into_iter()
            .filter_map(|(p, s)| Some((p, (s, *at.get(&p)?))))
            .collect(),
    })
}

/// Waits until `ok` holds for what the instances show, checking that none
/// of them exited; fails after `limit`.
fn wait(
    what: &str,
    limit: Duration,
    instances: &mut [&mut Instance],
    mut ok: impl FnMut(&[Seen]) -> bool,
) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        for i in instances.iter_mut() {
            if let Some(status) = i.child.try_wait()? {
                bail!(
                    "instance {} exited ({status}) while waiting for {what}",
                    i.name
                );
            }
        }
        let now: Vec<Seen> = instances
            .iter()
            .map(|i| seen(i.metrics).unwrap_or_default())
            .collect();
        if ok(&now) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{what}: not within {} s; seen {now:?}", limit.as_secs());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `si-ledger bench takeover`: see the module docs.
pub fn takeover(ctx: &Context, args: &TakeoverArgs) -> Result<i32> {
    let population = &args.on.population;
    if population.events == 0 {
        bail!("--events 0: nothing to measure");
    }
    if population.partitions < 2 {
        bail!(
            "--partitions {}: two instances need at least 2",
            population.partitions
        );
    }
    let (ctx, auth) = crate::bench::signing(ctx)?;
    let (_tmp, dir, topic) =
        crate::bench::workdir(args.dir.as_deref(), auth.as_ref(), "bench-takeover")?;
    let cluster = args.on.kafka.cluster(&args.on.brokers)?;
    let events = crate::bench::publish_to_topic(&ctx, auth.as_ref(), &cluster, &topic, population)?;
    // The instances' credentials: a token of role instance (the API is
    // served only because forwarding and readiness come with it).
    let token = hex::encode(rand_bytes()?);
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(dir.join("instance.token"))?
            .write_all(token.as_bytes())?;
    }
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(token.as_bytes()));
    std::fs::write(
        dir.join("auth.toml"),
        format!("[[tokens]]\nname = \"bench\"\nrole = \"instance\"\nsha256 = \"{digest}\"\n"),
    )?;
    let group = format!("{topic}-group");
    let limit = Duration::from_secs(args.phase_limit_secs.max(1));
    let all = population.partitions as usize;
    let spawn = |name: &'static str, standby: bool| -> Result<Instance> {
        spawn_instance(args, &dir, auth.is_some(), &topic, &group, name, standby)
    };

    let t0 = Instant::now();
    let mut x = spawn("x", false)?;
    let mut s = spawn("s", true)?;
    wait(
        "X and S to catch up, S's standby copy of X's partitions too",
        limit,
        &mut [&mut x, &mut s],
        |seen| {
            let (sx, ss) = (&seen[0], &seen[1]);
            let owned = sx.assigned.len() + ss.assigned.len() == all
                && !sx.assigned.is_empty()
                && !ss.assigned.is_empty()
                && sx
                    .assigned
                    .values()
                    .chain(ss.assigned.values())
                    .all(|(lag, ready)| *ready && *lag == 0);
            owned && sx.assigned.keys().all(|p| ss.standby.get(p) == Some(&0))
        },
    )?;
    eprintln!(
        "X and S caught up (S with its standby copy) in {:.1} s (not timed)",
        t0.elapsed().as_secs_f64()
    );
    let lost: Vec<u32> = seen(x.metrics)
        .context("X's metrics")?
        .assigned
        .keys()
        .copied()
        .collect();

    // X dies; S takes its partitions over from the standby copy.
    x.child.kill()?;
    x.child.wait()?;
    let killed = unix_secs();
    let mut taken = None;
    wait("S to serve every partition", limit, &mut [&mut s], |seen| {
        let ss = &seen[0];
        taken = ss.slowest(&lost);
        ss.assigned.len() == all && ss.assigned.values().all(|(_, ready)| *ready)
    })?;
    let (standby_secs, last_ready) = taken.context("S's metrics lack its catch-up times")?;
    let from_kill_secs = last_ready - killed;
    eprintln!(
        "standby takeover of {} partitions: {standby_secs:.2} s from their assignment, \
         {from_kill_secs:.2} s from the SIGKILL",
        lost.len()
    );

    // R joins with nothing: it rebuilds its share from offset 0.
    let mut r = spawn("r", false)?;
    let mut r_first: Option<BTreeMap<u32, (u64, bool)>> = None;
    let mut rebuild = None;
    let mut r_next = BTreeMap::new();
    wait(
        "R to rebuild its partitions",
        limit,
        &mut [&mut r, &mut s],
        |seen| {
            let (sr, ss) = (&seen[0], &seen[1]);
            if r_first.is_none() && !sr.assigned.is_empty() {
                r_first = Some(sr.assigned.clone());
            }
            let parts: Vec<u32> = sr.assigned.keys().copied().collect();
            rebuild = sr.slowest(&parts);
            r_next = sr.next.clone();
            !sr.assigned.is_empty()
                && sr.assigned.len() + ss.assigned.len() == all
                && sr
                    .assigned
                    .values()
                    .chain(ss.assigned.values())
                    .all(|(_, ready)| *ready)
        },
    )?;
    let r_first = r_first.context("R was assigned nothing")?;
    let (rebuild_secs, _) = rebuild.context("R's metrics lack its catch-up times")?;
    let rebuilt_parts: Vec<u32> = r_first.keys().copied().collect();
    // From 0 to where it stood once caught up.
    let rebuilt_records: u64 = rebuilt_parts
        .iter()
        .map(|p| r_next.get(p).copied().unwrap_or(0))
        .sum();
    eprintln!(
        "rebuild of {} partitions ({rebuilt_records} records) from 0: {rebuild_secs:.2} s",
        rebuilt_parts.len()
    );

    // Both stop cleanly; the partitions R rebuilt must have the chain
    // heads S's copy has.
    for i in [&mut r, &mut s] {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &i.child.id().to_string()])
            .status();
        let status = i.child.wait()?;
        if !status.success() {
            bail!("instance {} exited {status} on SIGTERM: no figures", i.name);
        }
    }
    let heads = |data: &Path| -> Result<BTreeMap<u32, ledger_store::ChainHead>> {
        let store = crate::common::open_store(&crate::common::store_dir(data))?;
        Ok(store
            .partition_states()?
            .into_iter()
            .map(|p| (p.partition, p.head))
            .collect())
    };
    let (in_r, in_s) = (heads(&r.data)?, heads(&s.data)?);
    for p in &rebuilt_parts {
        if in_r.get(p) != in_s.get(p) {
            bail!("partition {p}: R's rebuilt chain head differs from S's: no figures");
        }
    }
    println!(
        "participants={} events={events} partitions={all} takeover_standby_s={standby_secs:.3} \
         takeover_standby_from_kill_s={from_kill_secs:.2} standby_partitions={} \
         rebuild_s={rebuild_secs:.2} rebuild_partitions={} rebuild_records={rebuilt_records}",
        population.participants().min(population.events),
        lost.len(),
        rebuilt_parts.len(),
    );
    Ok(0)
}

fn unix_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn rand_bytes() -> Result<[u8; 32]> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("random bytes: {e}"))?;
    Ok(b)
}

/// `si-ledger project` as instance `name`: serving, advertised, with
/// metrics; with `standby`, a standby copy of one other instance.
fn spawn_instance(
    args: &TakeoverArgs,
    dir: &Path,
    signed: bool,
    topic: &str,
    group: &str,
    name: &'static str,
    standby: bool,
) -> Result<Instance> {
    let (api, metrics) = (free_port()?, free_port()?);
    let data = dir.join(name);
    let mut child = crate::bench::projector_child(&args.on, dir, signed, topic, group, &data)?;
    child
        .args(["--serve", &format!("127.0.0.1:{api}")])
        .args(["--advertise", &format!("http://127.0.0.1:{api}")])
        .arg("--instance-token-file")
        .arg(dir.join("instance.token"))
        .arg("--auth")
        .arg(dir.join("auth.toml"))
        .args(["--metrics", &format!("127.0.0.1:{metrics}")]);
    if standby {
        child.args(["--standby", "1"]);
    }
    let log = std::fs::File::create(dir.join(format!("{name}.log")))?;
    child
        .env("SI_LEDGER_LOG", "info,librdkafka=warn")
        .stdout(std::process::Stdio::null())
        .stderr(log);
    let child = child
        .spawn()
        .with_context(|| format!("starting instance {name}"))?;
    Ok(Instance {
        name,
        metrics,
        data,
        child,
    })
}
