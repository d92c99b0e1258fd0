//! `project --brokers … --serve ADDR --advertise URL`: one of several
//! projectors serving as one ledger. The instance announces what it owns
//! on `<topic>.members` ([`ledger_kafka::members`]), routes the API's reads
//! of other partitions to their owners ([`ledger_api::instances`]), and,
//! with `--standby N`, keeps a warm copy of N other instances' partitions
//! in its own store ([`ledger_kafka::StandbySource`]) so that a partition
//! assigned to it after a failure resumes near its end, not at 0.

use anyhow::{bail, Context as _, Result};
use clap::Args;
use ledger_core::Context;
use ledger_kafka::members::Table;
use ledger_kafka::{Generations, Members, StandbyOutputs, StandbySource};
use ledger_store::{DiskKv, LedgerStore};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

#[derive(Args, Debug, Clone)]
pub struct InstanceArgs {
    /// With --brokers and --serve: this instance's API base URL as the
    /// other instances reach it (`http://host:port`, Kafka Streams'
    /// `application.server`). The instance then answers for every
    /// participant: reads of partitions another instance owns are
    /// forwarded there, announced on the `<topic>.members` topic.
    #[arg(long, value_name = "URL", requires_all = ["brokers", "serve", "instance_token_file"])]
    pub advertise: Option<String>,
    /// The bearer token this instance forwards reads with (a file holding
    /// it): role `instance` in the other instances' auth files.
    #[arg(long, value_name = "FILE", requires = "advertise")]
    pub instance_token_file: Option<PathBuf>,
    /// Keep a warm standby copy of the partitions of N other instances
    /// (the next N after this one, ordered by URL; N ≥ instances − 1: all
    /// partitions), following the topic read-only up to the offsets their
    /// owners committed. The consumer group's assignor picks a lost
    /// instance's new owners, so only a copy of every partition guarantees
    /// a warm takeover.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "advertise")]
    pub standby: usize,
    /// How long a forwarded read may take before it is answered 503, in ms.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 5_000,
        requires = "advertise"
    )]
    pub forward_timeout_ms: u64,
}

/// The token in `path`: one line of at least 32 characters.
fn read_token(path: &std::path::Path) -> Result<String> {
    let text = crate::input::read_text(path)?;
    let token = text.trim().to_string();
    if token.chars().count() < 32 || token.contains(char::is_whitespace) {
        bail!(
            "{}: an instance token is one line of at least 32 characters (make one with \
             `openssl rand -hex 32`)",
            path.display()
        );
    }
    Ok(token)
}

/// What the projector's threads share of the instance.
pub struct Instance {
    me: String,
    token: String,
    forward_timeout: Duration,
    members: Arc<Members>,
    standby: Arc<Standby>,
    generations: Arc<OnceLock<Generations>>,
    stop: Arc<AtomicBool>,
    announcer: Option<std::thread::JoinHandle<()>>,
}

impl Instance {
    /// Joins `<topic>.members` (creating it if missing) as `--advertise`,
    /// having read what it holds; `None` without `--advertise`.
    pub fn join(
        cluster: &ledger_kafka::Cluster,
        topic: &str,
        group: &str,
        args: &InstanceArgs,
        runner: StandbyRunner,
    ) -> Result<Option<Instance>> {
        let Some(me) = &args.advertise else {
            return Ok(None);
        };
        let me = me.trim_end_matches('/').to_string();
        if !ledger_api::instances::forwardable(&me) {
            bail!("--advertise {me}: give the API's base URL as http://host:port");
        }
        let Some(token_file) = &args.instance_token_file else {
            bail!("--advertise needs --instance-token-file FILE");
        };
        let token = read_token(token_file)?;
        if ledger_kafka::create_members_topic(cluster, topic)? {
            eprintln!("created {}", ledger_kafka::members_topic(topic));
        }
        let members = Members::join(cluster, topic, group, &me)
            .map_err(|e| anyhow::anyhow!("joining {}: {e}", ledger_kafka::members_topic(topic)))?;
        Ok(Some(Instance {
            me,
            token,
            forward_timeout: Duration::from_millis(args.forward_timeout_ms.max(1)),
            members: Arc::new(members),
            standby: Arc::new(Standby {
                others: args.standby,
                runner,
                inner: Mutex::new(StandbyState::default()),
            }),
            generations: Arc::new(OnceLock::new()),
            stop: Arc::new(AtomicBool::new(false)),
            announcer: None,
        }))
    }

    /// Called where a partition is assigned here, before its store offset
    /// is read: a standby following it stops first (its batch written).
    pub fn releaser(&self) -> impl Fn(u32) + Send + Sync + 'static {
        let (standby, generations) = (Arc::clone(&self.standby), Arc::clone(&self.generations));
        move |p| standby.release(p, generations.get().map_or(0, Generations::known))
    }

    /// The partitions this instance keeps a standby copy of now (for
    /// metrics).
    pub fn standby_view(&self) -> StandbyView {
        let standby = Arc::clone(&self.standby);
        Arc::new(move || standby.holding())
    }

    /// The API's view of the other instances.
    pub fn api(&self) -> ledger_api::Instances {
        let table = self.members.shared();
        let me = self.me.clone();
        ledger_api::Instances {
            me: self.me.clone(),
            token: self.token.clone(),
            owner: Arc::new(move |p| {
                let t = table.lock().ok()?;
                let (owner, ready) = t.owner(p)?;
                (ready && owner.instance != me).then(|| owner.instance.clone())
            }),
            timeout: self.forward_timeout,
        }
    }

    /// Starts announcing the source's assignment and readiness, and
    /// steering the standby, every 100 ms.
    pub fn start(&mut self, source: &ledger_kafka::KafkaSource) -> Result<()> {
        let _ = self.generations.set(source.generations());
        let generations = source.generations();
        let (assignment, readiness) = (source.assignment(), source.readiness());
        let (members, standby, stop) = (
            Arc::clone(&self.members),
            Arc::clone(&self.standby),
            Arc::clone(&self.stop),
        );
        let me = self.me.clone();
        let thread = std::thread::Builder::new()
            .name("announcer".into())
            .spawn(move || {
                let mut said: Option<(BTreeSet<u32>, BTreeSet<u32>, BTreeSet<u32>)> = None;
                let mut failed_at: Option<Instant> = None;
                while !stop.load(Ordering::Relaxed) {
                    // The settled generation first, the assignment after:
                    // the rebalance callback updates the assignment before
                    // it bumps the generation, so a generation settled
                    // here is one whose partitions the sample below holds
                    // (a standby is never started on a partition that was
                    // just assigned here).
                    let settled = generations.settled();
                    let assigned: BTreeSet<u32> = assignment
                        .lock()
                        .map(|a| a.keys().copied().collect())
                        .unwrap_or_default();
                    let ready: BTreeSet<u32> = readiness
                        .lock()
                        .map(|r| {
                            r.keys()
                                .filter(|p| assigned.contains(p))
                                .copied()
                                .collect()
                        })
                        .unwrap_or_default();
                    let want = standby.wanted(&members.table(), &me, &assigned);
                    standby.steer(want, settled, &assignment);
                    let state = (assigned, ready, standby.holding());
                    if said.as_ref() != Some(&state) {
                        match members.announce(&state.0, &state.1, &state.2) {
                            Ok(()) => {
                                tracing::info!(
                                    assigned = ?state.0,
                                    ready = ?state.1,
                                    standby = ?state.2,
                                    "announced"
                                );
                                said = Some(state);
                                failed_at = None;
                            }
                            Err(e) => {
                                if failed_at.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                                    tracing::warn!(error = %e, "announcing this instance (retrying)");
                                    failed_at = Some(Instant::now());
                                }
                            }
                        }
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
            .context("starting the announcer")?;
        self.announcer = Some(thread);
        Ok(())
    }

    /// Stops announcing and the standby, and says on the topic that this
    /// instance left (also when dropped: a projector that ends on an
    /// error leaves as cleanly).
    pub fn leave(self) {}
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.announcer.take() {
            let _ = t.join();
        }
        self.standby.stop();
        if let Err(e) = self.members.leave() {
            eprintln!("could not say on the members topic that this instance left: {e}");
        }
    }
}

/// The partitions a standby follows now.
pub type StandbyView = Arc<dyn Fn() -> BTreeSet<u32> + Send + Sync>;

/// Runs a standby over some partitions until `stop`: the projector loop
/// on a [`StandbySource`] into this instance's store.
pub type StandbyRunner =
    Arc<dyn Fn(&[u32], &AtomicBool) -> Result<ledger_projector::Totals> + Send + Sync>;

/// The standby runner of a projector: its store, keys and topic.
pub fn runner(
    ctx: &Context,
    cluster: &ledger_kafka::Cluster,
    topic: &str,
    group: &str,
    store: &LedgerStore<DiskKv>,
    opts: &ledger_projector::Options,
) -> StandbyRunner {
    let (ctx, cluster, topic, group, store) = (
        ctx.clone(),
        cluster.clone(),
        topic.to_string(),
        group.to_string(),
        store.clone(),
    );
    let opts = ledger_projector::Options {
        until: ledger_projector::Until::Stopped,
        ..opts.clone()
    };
    Arc::new(move |partitions, stop| {
        let resume = |p| store.offset(p).ok().flatten().unwrap_or(0);
        let mut source = StandbySource::new(&cluster, &topic, &group, partitions, resume)?;
        let totals = ledger_projector::run_with_sink(
            &ctx,
            &mut source,
            &store,
            &mut StandbyOutputs,
            &opts,
            stop,
            |_| {},
        )?;
        Ok(totals)
    })
}

/// The standby copies one instance keeps.
struct Standby {
    /// How many other instances' partitions it follows.
    others: usize,
    runner: StandbyRunner,
    inner: Mutex<StandbyState>,
}

#[derive(Default)]
struct StandbyState {
    running: Option<Running>,
    /// No standby starts before the projector has settled this group
    /// generation (a partition being taken over is in it).
    blocked_until: u64,
}

struct Running {
    partitions: BTreeSet<u32>,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
    started: Instant,
}

impl Running {
    fn end(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
    }
}

impl Standby {
    /// The partitions to follow: those the next `others` instances after
    /// `me` (by URL, among the instances that own a partition now) own,
    /// less this instance's own.
    fn wanted(&self, table: &Table, me: &str, mine: &BTreeSet<u32>) -> BTreeSet<u32> {
        if self.others == 0 {
            return BTreeSet::new();
        }
        let mut owners: Vec<String> = table
            .instances()
            .iter()
            .filter(|a| a.instance != me)
            .filter(|a| {
                a.assigned.iter().any(|p| {
                    table
                        .owner(*p)
                        .is_some_and(|(o, _)| o.instance == a.instance)
                })
            })
            .map(|a| a.instance.clone())
            .collect();
        owners.sort();
        // The ring after `me`.
        let after = owners.iter().position(|o| o.as_str() > me).unwrap_or(0);
        owners.rotate_left(after);
        let chosen: BTreeSet<&String> = owners.iter().take(self.others).collect();
        table
            .instances()
            .iter()
            .filter(|a| chosen.contains(&a.instance))
            .flat_map(|a| a.assigned.iter().copied())
            .filter(|p| {
                !mine.contains(p)
                    && table
                        .owner(*p)
                        .is_some_and(|(o, _)| chosen.contains(&o.instance))
            })
            .collect()
    }

    /// The partitions followed now.
    fn holding(&self) -> BTreeSet<u32> {
        self.inner
            .lock()
            .ok()
            .and_then(|s| s.running.as_ref().map(|r| r.partitions.clone()))
            .unwrap_or_default()
    }

    /// Partition `p` is being assigned here (group generation `known` is
    /// ending): a standby following it stops, its batch written, and none
    /// starts again until the next generation is settled.
    fn release(&self, p: u32, known: u64) {
        // Never skipped: a poisoned lock still stops the standby before the
        // main loop reads the partition's offset.
        let mut s = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.blocked_until = s.blocked_until.max(known + 1);
        if s.running
            .as_ref()
            .is_some_and(|r| r.partitions.contains(&p))
        {
            if let Some(r) = s.running.take() {
                r.end();
                tracing::info!(
                    partition = p,
                    "standby stopped: the partition is assigned here"
                );
            }
        }
    }

    /// Follows `want` from now on, once the projector has settled the
    /// latest rebalance (`settled`, read before `want` was made), less
    /// whatever is assigned here now. Nothing starts while this instance
    /// holds nothing: after an eager revocation its partitions come back
    /// at once, and a standby started then would only be stopped again.
    fn steer(
        &self,
        want: BTreeSet<u32>,
        settled: Option<u64>,
        assignment: &ledger_kafka::Assignment,
    ) {
        let Some(generation) = settled else {
            return;
        };
        let Ok(mut s) = self.inner.lock() else {
            return;
        };
        if generation < s.blocked_until {
            return;
        }
        let Ok(assigned) = assignment
            .lock()
            .map(|a| a.keys().copied().collect::<BTreeSet<u32>>())
        else {
            return;
        };
        if assigned.is_empty() {
            return;
        }
        let want: BTreeSet<u32> = want.difference(&assigned).copied().collect();
        if let Some(r) = &s.running {
            if r.partitions == want
                && (!r.thread.is_finished() || r.started.elapsed() < Duration::from_secs(5))
            {
                // Following already; or failed lately (said in the log):
                // tried again 5 s after it started.
                return;
            }
        }
        if let Some(r) = s.running.take() {
            r.end();
        }
        if want.is_empty() {
            return;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (runner, parts, flag) = (
            Arc::clone(&self.runner),
            want.iter().copied().collect::<Vec<u32>>(),
            Arc::clone(&stop),
        );
        let thread = std::thread::Builder::new()
            .name("standby".into())
            .spawn(move || match runner(&parts, &flag) {
                Ok(t) => tracing::info!(partitions = ?parts, records = t.records, "standby ended"),
                Err(e) => tracing::error!(partitions = ?parts, error = %format!("{e:#}"), "standby failed"),
            });
        match thread {
            Ok(thread) => {
                tracing::info!(partitions = ?want, "standby following");
                s.running = Some(Running {
                    partitions: want,
                    stop,
                    thread,
                    started: Instant::now(),
                });
            }
            Err(e) => tracing::error!(error = %e, "starting the standby"),
        }
    }

    fn stop(&self) {
        if let Ok(mut s) = self.inner.lock() {
            if let Some(r) = s.running.take() {
                r.end();
            }
        }
    }
}
