//! Helpers for the end-to-end tests: find and run the real `si-ledger`
//! binary that `cargo test --workspace` builds.

pub mod payers;

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `si-ledger` binary of this build (debug or release, whichever the
/// test run built), or `SI_LEDGER_BIN` when set.
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("SI_LEDGER_BIN") {
        return PathBuf::from(p);
    }
    // tests/ → workspace root → target/<profile>/si-ledger, next to this
    // test executable's own profile directory.
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let bin = profile_dir.join("si-ledger");
    assert!(
        bin.exists(),
        "{} is missing: build it first (`cargo build -p si-ledger`, as scripts/test does) or set SI_LEDGER_BIN",
        bin.display()
    );
    bin
}

pub fn si_ledger(args: &[&str]) -> Command {
    let mut c = Command::new(binary());
    c.args(args);
    test_env(&mut c);
    c
}

/// `tests/keys/`: the tests' trust file and its one key.
pub fn keys_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("keys")
}

/// What every test run of the binary gets: quiet logs, the tests' trust
/// file (one authority, `test`, allowed every privileged kind) and its key,
/// so that `publish`, `merge`, `close-month` and the projector sign what
/// they write as a deployment's would. A test that sets either variable
/// itself (or passes `--trust`/`--signing-key`) overrides them.
pub fn test_env(c: &mut Command) {
    let keys = keys_dir();
    if let Some(engine) = ENGINE.get() {
        c.env("SI_LEDGER_STORE", engine);
    }
    c.env("SI_LEDGER_LOG", "warn")
        .env("SI_LEDGER_TRUST", keys.join("trust.toml"))
        .env("SI_LEDGER_SIGNING_KEY_FILE", keys.join("test.key"));
}

thread_local! {
    /// The storage engine the binary creates stores with on this thread
    /// (`SI_LEDGER_STORE`); unset, the binary's default.
    static ENGINE: std::cell::Cell<Option<&'static str>> = const { std::cell::Cell::new(None) };
}

/// The storage engines a test runs on with [`on_each_engine`].
pub const ENGINES: [&str; 2] = ["fjall", "sled"];

/// Runs `test` once per storage engine, every store it creates through
/// the binary being of that engine.
pub fn on_each_engine(mut test: impl FnMut(&'static str)) {
    for engine in ENGINES {
        ENGINE.set(Some(engine));
        test(engine);
        ENGINE.set(None);
    }
}

/// The engine of the store in data directory `data` (its `store/engine`).
pub fn engine_of(data: &std::path::Path) -> String {
    std::fs::read_to_string(data.join("store").join("engine"))
        .expect("a store's engine file")
        .trim()
        .to_string()
}

/// Runs and returns output; panics with stderr if it could not start.
pub fn run(args: &[&str]) -> Output {
    si_ledger(args).output().expect("si-ledger runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The Kafka-protocol broker the test command started (`scripts/test` runs
/// Apache Kafka on 127.0.0.1 and sets `SI_LEDGER_KAFKA`). Without it the Kafka
/// tests fail rather than pass unseen.
pub fn kafka_brokers() -> String {
    loopback("SI_LEDGER_KAFKA", "start")
}

/// The three-node cluster the test command started (`scripts/broker
/// start-cluster`, `SI_LEDGER_KAFKA_CLUSTER_DIR`): its bootstrap servers and
/// its directory (for `scripts/broker kill-node` and `restart-node`).
pub fn kafka_cluster() -> (String, PathBuf) {
    let dir = PathBuf::from(std::env::var("SI_LEDGER_KAFKA_CLUSTER_DIR").unwrap_or_else(|_| {
        panic!(
            "SI_LEDGER_KAFKA_CLUSTER_DIR is not set: run the Kafka tests through scripts/test, \
             which starts a three-node cluster (or `scripts/broker start-cluster DIR 3` and set it to DIR)"
        )
    }));
    let bootstrap = std::fs::read_to_string(dir.join("bootstrap"))
        .expect("the cluster's bootstrap file")
        .trim()
        .to_string();
    assert!(
        bootstrap.split(',').all(|b| b.starts_with("127.0.0.1:")),
        "{bootstrap}"
    );
    (bootstrap, dir)
}

/// Runs `scripts/broker` with `args` (kill-node, restart-node).
pub fn broker_script(args: &[&str]) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("scripts")
        .join("broker");
    let o = Command::new(script)
        .args(args)
        .output()
        .expect("scripts/broker runs");
    assert!(
        o.status.success(),
        "scripts/broker {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The secured broker the test command started: TLS with a certificate of
/// a CA the test command made, and SASL/SCRAM-SHA-512 (`SI_LEDGER_KAFKA_SECURE`),
/// with the directory holding its client settings (`client.properties`),
/// a CA that did not sign it (`other-ca.pem`) and the CA (`ca.pem`).
pub fn secure_kafka() -> (String, PathBuf) {
    let brokers = loopback("SI_LEDGER_KAFKA_SECURE", "start-secure");
    let dir = std::env::var("SI_LEDGER_KAFKA_SECURE_DIR")
        .expect("SI_LEDGER_KAFKA_SECURE_DIR is set with SI_LEDGER_KAFKA_SECURE");
    (brokers, PathBuf::from(dir))
}

fn loopback(var: &str, start: &str) -> String {
    let brokers = std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: run the Kafka tests through scripts/test, which starts the \
             brokers on 127.0.0.1 (or start one with `scripts/broker {start} DIR` and set \
             {var}=127.0.0.1:$(cat DIR/port))"
        )
    });
    assert!(
        brokers
            .split(',')
            .all(|b| b.starts_with("127.0.0.1:") || b.starts_with("localhost:")),
        "tests only ever talk to loopback, not {brokers}"
    );
    brokers
}

/// A topic name no other test or run uses.
pub fn unique_topic(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{name}-{}-{nanos}", std::process::id())
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    l.local_addr().expect("local addr").port()
}

/// `GET path` on 127.0.0.1:port; the body, if the server answered.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    http(port, path, None).map(|(_, body)| body)
}

/// `GET path` on 127.0.0.1:port with an optional bearer token; the status
/// and body, if the server answered.
pub fn http(port: u16, path: &str, token: Option<&str>) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// An HTTP answer: status, headers (names lowercase) and body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `POST path` on 127.0.0.1:port with a bearer token and a JSON body; the
/// answer, if the server gave one within `wait`.
pub fn http_post(
    port: u16,
    path: &str,
    token: &str,
    json: &str,
    wait: std::time::Duration,
) -> Option<Answer> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(wait)).ok()?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        let mut rest = body;
        let mut whole = String::new();
        loop {
            let (size, after) = rest.split_once("\r\n")?;
            let size = usize::from_str_radix(size.trim(), 16).ok()?;
            if size == 0 {
                break;
            }
            whole.push_str(after.get(..size)?);
            rest = after.get(size + 2..)?;
        }
        whole
    } else {
        body.to_string()
    };
    Some(Answer {
        status,
        headers,
        body,
    })
}

/// Each partition's chain head in the store at `data` (`si-ledger digest
/// --json`): (partition, head as JSON text).
pub fn chain_heads(data: &std::path::Path) -> Vec<(u64, String)> {
    digest_json(data)["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| {
            (
                p["partition"].as_u64().expect("a partition"),
                p["head"].to_string(),
            )
        })
        .collect()
}

/// The ledger digest of the store in `data` (`si-ledger digest`).
pub fn digest(data: &std::path::Path) -> String {
    digest_json(data)["digest"]
        .as_str()
        .expect("a digest")
        .to_string()
}

/// `si-ledger digest --data DATA --json`.
fn digest_json(data: &std::path::Path) -> serde_json::Value {
    let o = run(&[
        "digest",
        "--data",
        data.to_str().expect("utf-8 path"),
        "--json",
    ]);
    assert!(o.status.success(), "digest: {}", stderr(&o));
    serde_json::from_str(&stdout(&o)).expect("digest JSON")
}

/// Each partition's latest signed checkpoint (`si-ledger checkpoint`), as
/// signed.
pub fn checkpoints(data: &std::path::Path) -> Vec<Vec<u8>> {
    let d = data.to_str().expect("utf-8 path");
    (0..)
        .map_while(|p: u32| {
            let o = run(&["checkpoint", "--data", d, "--partition", &p.to_string()]);
            o.status.success().then_some(o.stdout)
        })
        .collect()
}

/// [`demo`], and what the demo printed (its API tokens among it).
pub fn demo_output(dir: &std::path::Path, participants: u32, months: u32) -> (PathBuf, String) {
    let demo = dir.join("demo");
    let o = run(&[
        "demo",
        "--participants",
        &participants.to_string(),
        "--months",
        &months.to_string(),
        "--data",
        demo.to_str().expect("utf-8 path"),
    ]);
    assert!(o.status.success(), "demo: {}", stderr(&o));
    (demo, stdout(&o))
}

/// The demo's events file and its clean embedded projection, in `dir`.
pub fn demo(dir: &std::path::Path, participants: u32, months: u32) -> PathBuf {
    demo_output(dir, participants, months).0
}

/// Lets `child` run for `wait`, then SIGKILLs it; whether it was still
/// running (a kill mid-run).
pub fn kill_after(mut child: std::process::Child, wait: std::time::Duration) -> bool {
    std::thread::sleep(wait);
    let running = child.try_wait().expect("child status").is_none();
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    running
}

/// Sends SIGTERM to `child` (a projector finishes its batch, flushes and
/// stops), through `kill(1)`.
pub fn sigterm(child: &std::process::Child) {
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill(1) runs");
    assert!(sent.success(), "SIGTERM to {}", child.id());
}

/// A child process that is SIGKILLed when dropped, so a failing test never
/// leaves a projector running.
pub struct Reaped(pub Option<std::process::Child>);

impl Reaped {
    pub fn child(&mut self) -> &mut std::process::Child {
        self.0.as_mut().expect("the child is still owned")
    }
    /// Gives the child up (to wait for it).
    pub fn take(mut self) -> std::process::Child {
        self.0.take().expect("the child is still owned")
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A record to write: (partition, key, record time ms, value, the
/// dead-letter kind it must become).
pub type Poison = (u32, Vec<u8>, i64, Vec<u8>, &'static str);

/// The wire envelope of `cases/wave2/05-bom.jsonl`: one valid contribution
/// line (IIN 900517400451, 4,250.00 for 2025-03).
pub fn case_envelope() -> ledger_proto::v1::Envelope {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cases/wave2/05-bom.jsonl");
    let text = std::fs::read_to_string(path).expect("the case file");
    ledger_proto::parse_line(&text).expect("a valid line").wire
}

/// A valid record and, before it, a poison batch for its participant.
pub struct PoisonBatch {
    pub wire: ledger_proto::v1::Envelope,
    /// The valid record's value.
    pub valid: Vec<u8>,
    pub records: Vec<Poison>,
}

/// Inputs §5: one of each kind of record that cannot be applied (huge,
/// random, truncated, bad keys, wrong partition, key mismatch, bad time,
/// bad control, empty) for the participant of [`case_envelope`], whose
/// key a 4-partition log puts on its home partition.
pub fn poison_batch() -> PoisonBatch {
    let wire = case_envelope();
    let mut other = wire.clone();
    other.iin = "851102300013".into();
    let other = ledger_proto::encode_envelope(&other);
    let valid = ledger_proto::encode_envelope(&wire);
    let home = ledger_core::partition_for(wire.iin.as_bytes(), 4);
    let t = 1_744_261_200_000; // 2025-04-10T05:00:00Z
    let key = wire.iin.as_bytes().to_vec();
    // Deterministic "random" bytes: an xorshift stream.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut noise = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    };
    // A huge value: a valid envelope's bytes followed by a megabyte of noise.
    let mut huge = valid.clone();
    huge.extend(noise(1_040_000));
    let records = vec![
        (home, key.clone(), t, huge, "undecodable"),
        (home, key.clone(), t, noise(300), "undecodable"),
        (
            home,
            key.clone(),
            t,
            valid[..valid.len() / 2].to_vec(),
            "undecodable",
        ),
        (
            home,
            b"\xff\xfe not a key".to_vec(),
            t,
            valid.clone(),
            "bad_key",
        ),
        (home, vec![b'9'; 5000], t, valid.clone(), "bad_key"),
        (
            (home + 1) % 4,
            key.clone(),
            t,
            valid.clone(),
            "wrong_partition",
        ),
        (home, key.clone(), t, other, "key_mismatch"),
        // 1 ms: 0 means "now" to librdkafka.
        (home, key.clone(), 1, valid.clone(), "bad_timestamp"),
        (home, b"control/x".to_vec(), t, noise(50), "bad_control"),
        (home, key, t, Vec::new(), "invalid"),
    ];
    PoisonBatch {
        wire,
        valid,
        records,
    }
}

/// An auth file in `dir` listing each (name, role, token) by the token's
/// SHA-256, as operators write them.
pub fn auth_file(dir: &std::path::Path, tokens: &[(&str, &str, &str)]) -> PathBuf {
    use sha2::Digest;
    let mut text = String::new();
    for (name, role, token) in tokens {
        let digest: String = sha2::Sha256::digest(token.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        text.push_str(&format!(
            "[[tokens]]\nname = \"{name}\"\nrole = \"{role}\"\nsha256 = \"{digest}\"\n\n"
        ));
    }
    let path = dir.join("auth.toml");
    std::fs::write(&path, text).expect("auth file written");
    path
}

/// `si-ledger args` as a quiet child that is killed when dropped; under
/// `ulimit -n nofile` when given (`sh` sets the limit and becomes it, as a
/// supervisor would start it).
pub fn spawn_quiet(args: &[&str], nofile: Option<u32>) -> Reaped {
    let mut cmd = match nofile {
        None => si_ledger(args),
        Some(n) => {
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                .arg(binary())
                .args(args);
            test_env(&mut c);
            c
        }
    };
    Reaped(Some(
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("si-ledger starts"),
    ))
}

/// Waits until `/healthz` on `port` answers; panics if `child` exits first
/// or a minute passes.
pub fn wait_serving(port: u16, child: &mut Reaped) {
    let started = std::time::Instant::now();
    while http_get(port, "/healthz").is_none() {
        assert!(
            child.child().try_wait().expect("child status").is_none(),
            "the server exited"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the server never answered"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Every entry of `iin`'s history in the store at `data`, in log order:
/// (event id, outcome, reason or "").
pub fn history_outcomes(iin: &str, data: &std::path::Path) -> Vec<(String, String, String)> {
    let o = run(&[
        "history",
        iin,
        "--data",
        data.to_str().expect("utf-8 path"),
        "--json",
    ]);
    assert!(o.status.success(), "history: {}", stderr(&o));
    let h: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("history JSON");
    h.as_array()
        .expect("an array")
        .iter()
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap_or("").to_string();
            (text("event_id"), text("outcome"), text("reason"))
        })
        .collect()
}

/// A directory copied, recursively.
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A copy of a demo's store whose first history segment of partition 0
/// went through `edit`; the offsets it touched, as `edit` returns them.
pub fn tampered(
    demo: &std::path::Path,
    dir: &std::path::Path,
    name: &str,
    edit: impl FnOnce(&mut Vec<ledger_store::HistoryEntry>) -> Vec<u64>,
) -> (PathBuf, Vec<u64>) {
    let data = dir.join(name);
    copy_dir(demo, &data);
    let store = ledger_store::LedgerStore::open(&data.join("store")).unwrap();
    let key = {
        let mut k = vec![b'H'];
        k.extend(0u32.to_be_bytes());
        k.extend(0u64.to_be_bytes());
        k
    };
    let raw = ledger_store::Kv::get(store.backend(), &key)
        .unwrap()
        .expect("a first segment");
    let mut entries: Vec<ledger_store::HistoryEntry> =
        postcard::from_bytes(&lz4_flex::decompress_size_prepended(&raw).unwrap()).unwrap();
    let touched = edit(&mut entries);
    let mut b = ledger_store::KvBatch::default();
    b.put(
        key,
        lz4_flex::compress_prepend_size(&postcard::to_stdvec(&entries).unwrap()),
    );
    ledger_store::Kv::write(store.backend(), b).unwrap();
    drop(store);
    (data, touched)
}

/// `iin` with its last (check) digit changed: a typing error the check
/// digit catches.
pub fn wrong_check_digit(iin: &str) -> String {
    let last = iin.as_bytes()[iin.len() - 1] - b'0';
    format!("{}{}", &iin[..iin.len() - 1], (last + 1) % 10)
}

/// The statements of `data` without the counts a second delivery changes
/// (duplicates ignored, history length): the balances.
pub fn balances(data: &std::path::Path) -> Vec<serde_json::Value> {
    let mut all = statements(data);
    for s in &mut all {
        let s = s.as_object_mut().expect("a statement is an object");
        s.remove("duplicates_ignored");
        s.remove("history_len");
    }
    all
}

/// Every statement of the store in `data`, as `si-ledger accounts` prints
/// them (one JSON object a line).
pub fn statements(data: &std::path::Path) -> Vec<serde_json::Value> {
    let o = run(&["accounts", "--data", data.to_str().expect("utf-8 path")]);
    assert!(o.status.success(), "accounts: {}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a statement per line"))
        .collect()
}

/// Runs si-ledger with `args`, failing the test if it has not finished
/// within `limit` (a hang is the fault under test, not a slow run).
pub fn finishes(args: &[&str], limit: std::time::Duration) -> std::process::Output {
    let mut child = Reaped(Some(
        si_ledger(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let deadline = std::time::Instant::now() + limit;
    while child.child().try_wait().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "si-ledger {args:?} did not finish within {limit:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.take().wait_with_output().unwrap()
}

/// `project --until-end` of `topic` at `brokers` into `data` with `extra`
/// arguments, which must finish within two minutes (a hang is a fault).
pub fn project_to_end(
    brokers: &str,
    topic: &str,
    data: &std::path::Path,
    extra: &[&str],
) -> Output {
    let mut args = project_args(
        brokers,
        topic,
        topic,
        data.to_str().unwrap(),
        &["--until-end"],
    );
    args.extend_from_slice(extra);
    finishes(&args, std::time::Duration::from_secs(120))
}

/// `project --brokers B --topic T --group G --data D`, then `extra`.
pub fn project_args<'a>(
    brokers: &'a str,
    topic: &'a str,
    group: &'a str,
    data: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "project",
        "--brokers",
        brokers,
        "--topic",
        topic,
        "--group",
        group,
        "--data",
        data,
    ];
    args.extend_from_slice(extra);
    args
}

/// `topics create` on the cluster at `brokers`, with `extra` arguments.
pub fn create_on(brokers: &str, topic: &str, partitions: u32, extra: &[&str]) {
    let partitions = partitions.to_string();
    let mut args = vec![
        "topics",
        "create",
        "--brokers",
        brokers,
        "--topic",
        topic,
        "--partitions",
        &partitions,
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "topics create: {}", stderr(&o));
}

/// The demo's events for `participants` over `months`, privileged lines
/// signed with the tests' key as the register's and the Fund's own
/// producers would send them.
pub fn signed_demo(dir: &std::path::Path, participants: u32, months: u32) -> PathBuf {
    let demo = demo(dir, participants, months);
    let signed = dir.join("signed.jsonl");
    let o = run(&[
        "sign",
        demo.join("events.jsonl").to_str().unwrap(),
        "--output",
        signed.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "the demo's broken lines: {}",
        stderr(&o)
    );
    signed
}
