//! Byte-level backends: fjall or sled on disk, and a `BTreeMap` twin in
//! memory. [`DiskKv`] is whichever engine a store directory was created
//! with ([`Engine`], recorded in the directory).

use crate::StoreError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Key-value pairs in key order, as a scan returns them.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// What `Kv::for_each` calls with each key and value; `false` stops.
pub type Visitor<'a> = dyn FnMut(&[u8], &[u8]) -> Result<bool, StoreError> + 'a;

/// A set of puts and deletes applied all at once or not at all.
#[derive(Debug, Default)]
pub struct KvBatch {
    ops: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl KvBatch {
    pub fn put(&mut self, k: Vec<u8>, v: Vec<u8>) {
        self.ops.push((k, Some(v)));
    }
    pub fn delete(&mut self, k: Vec<u8>) {
        self.ops.push((k, None));
    }
    pub fn len(&self) -> usize {
        self.ops.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// What the ledger store needs from a key-value engine.
pub trait Kv: Clone + Send + Sync + 'static {
    fn get(&self, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Applies the batch atomically and makes it durable before returning.
    fn write(&self, b: KvBatch) -> Result<(), StoreError>;
    /// [`Kv::for_each`] over the keys with `prefix` that are `>= from`: to
    /// walk a large range in chunks, writing between them.
    fn for_each_from(
        &self,
        prefix: &[u8],
        from: &[u8],
        f: &mut Visitor<'_>,
    ) -> Result<(), StoreError>;

    /// Calls `f` with every pair whose key starts with `prefix`, in key
    /// order, without holding them all in memory; `f` returns `false` to
    /// stop early.
    fn for_each(&self, prefix: &[u8], f: &mut Visitor<'_>) -> Result<(), StoreError> {
        self.for_each_from(prefix, prefix, f)
    }

    /// Every pair whose key starts with `prefix`, collected: for small
    /// ranges and tests.
    fn scan(&self, prefix: &[u8]) -> Result<Pairs, StoreError> {
        let mut out = Vec::new();
        self.for_each(prefix, &mut |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            Ok(true)
        })?;
        Ok(out)
    }

    fn size_on_disk(&self) -> Result<u64, StoreError>;

    /// [`Kv::for_each`] over each prefix in turn, all read at one instant:
    /// every write is either wholly seen or not at all, even while other
    /// threads of the process write. fjall reads from one snapshot; the
    /// in-memory twin holds its lock; sled has no snapshots, so its reads
    /// are at one instant only when nothing writes meanwhile (the one
    /// process that may open a sled store is the one reading).
    fn for_each_at_once(
        &self,
        prefixes: &[Vec<u8>],
        f: &mut Visitor<'_>,
    ) -> Result<(), StoreError> {
        for p in prefixes {
            self.for_each(p, f)?;
        }
        Ok(())
    }

    /// Which engine holds the bytes.
    fn engine(&self) -> Engine;
}

/// A storage engine. The engine is chosen when a store directory is
/// created and is recorded in it (the file [`ENGINE_FILE`] and the store's
/// meta); a store is always reopened with its own engine. To change
/// engines, replay the log (or restore a snapshot) into a new directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Engine {
    /// fjall 3: an LSM tree (journal, memtables, LZ4 blocks). The default:
    /// at 9 million participants it writes about twice as fast as sled in
    /// a third of the disk (docs/ARCHITECTURE.md, "Storage engines").
    Fjall,
    /// sled 0.34: a B-tree with a log-structured page cache.
    Sled,
    /// [`MemoryKv`], for tests.
    Memory,
}

impl Engine {
    /// The engine a new store directory gets when none is asked for.
    pub const DEFAULT: Engine = Engine::Fjall;

    pub fn name(self) -> &'static str {
        match self {
            Engine::Fjall => "fjall",
            Engine::Sled => "sled",
            Engine::Memory => "memory",
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Engine {
    type Err = String;
    fn from_str(s: &str) -> Result<Engine, String> {
        match s {
            "fjall" => Ok(Engine::Fjall),
            "sled" => Ok(Engine::Sled),
            other => Err(format!("no storage engine {other:?}: fjall or sled")),
        }
    }
}

/// The file in a store directory naming its engine (`fjall` or `sled`,
/// one line). A directory without it that holds sled's `conf` is a sled
/// store from before engines were recorded.
pub const ENGINE_FILE: &str = "engine";

/// How a store directory is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOptions {
    /// The engine a new directory is created with; for an existing one,
    /// the engine it must have (`None`: whichever it has).
    pub engine: Option<Engine>,
    /// The engine's block or page cache, MiB: with the batch size, what
    /// bounds the process's memory, whatever the number of participants.
    pub cache_mib: u64,
}

impl OpenOptions {
    /// The default cache, MiB.
    pub const DEFAULT_CACHE_MIB: u64 = 256;
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            engine: None,
            cache_mib: Self::DEFAULT_CACHE_MIB,
        }
    }
}

/// The engine recorded in store directory `dir`, if it holds a store.
pub fn engine_of(dir: &Path) -> Result<Option<Engine>, StoreError> {
    let file = dir.join(ENGINE_FILE);
    match std::fs::read_to_string(&file) {
        Ok(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                what: "engine file",
                key: file.display().to_string(),
                reason: e,
            }),
        // Lost (or never written: a sled store from before engines were
        // recorded): the engine's own files say which it is.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(if dir.join("conf").exists() {
            Some(Engine::Sled)
        } else if dir.join("version").exists() && dir.join("keyspaces").exists() {
            Some(Engine::Fjall)
        } else {
            None
        }),
        Err(e) => Err(StoreError::Backend(format!(
            "reading {}: {e}",
            file.display()
        ))),
    }
}

/// Records `engine` in `dir` durably: a temporary file, synced, renamed,
/// and the directory synced, so a crash leaves the file whole or absent.
fn write_engine_file(dir: &Path, engine: Engine) -> std::io::Result<()> {
    use std::io::Write as _;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{ENGINE_FILE}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(format!("{}\n", engine.name()).as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(ENGINE_FILE))?;
    std::fs::File::open(dir)?.sync_all()
}

/// A store directory's engine, whichever it is.
#[derive(Clone)]
pub enum DiskKv {
    Fjall(FjallKv),
    Sled(SledKv),
}

impl DiskKv {
    /// Opens the store in `dir` with its recorded engine, or creates one
    /// with `opts.engine` (else [`Engine::DEFAULT`]) and records it.
    /// Errors: [`StoreError::Engine`] when `opts.engine` names another
    /// engine than the directory's; the engine's own errors (a store in
    /// use by another process, I/O).
    pub fn open(dir: &Path, opts: &OpenOptions) -> Result<DiskKv, StoreError> {
        let engine = match (engine_of(dir)?, opts.engine) {
            (Some(stored), Some(asked)) if stored != asked => {
                return Err(StoreError::Engine {
                    stored: stored.name().into(),
                    asked: asked.name().into(),
                })
            }
            (Some(stored), _) => stored,
            (None, asked) => {
                let engine = asked.unwrap_or(Engine::DEFAULT);
                write_engine_file(dir, engine)
                    .map_err(|e| StoreError::Backend(format!("creating {}: {e}", dir.display())))?;
                engine
            }
        };
        let cache = opts.cache_mib.max(1) * 1024 * 1024;
        Ok(match engine {
            Engine::Fjall => DiskKv::Fjall(FjallKv::open(dir, cache)?),
            Engine::Sled | Engine::Memory => DiskKv::Sled(SledKv::open(dir, cache)?),
        })
    }
}

impl DiskKv {
    /// Opens the existing store in `dir` for a command that only reads it.
    /// Neither engine can open a store without writing to it (fjall 3 and
    /// sled 0.34 both open their lock file and journal for writing and
    /// have no read-only mode), so a store this process may not write — on
    /// a read-only mount (`EROFS`, even for root), or not writable by this
    /// user — is copied whole into a private temporary directory (under
    /// `TMPDIR`) and the copy is opened; the copy goes when the last clone
    /// is dropped. The store's lock is held shared while it is copied, so
    /// a store in use by a running projector is [`StoreError::InUse`], as
    /// for a writable store. A writable store is opened as
    /// [`DiskKv::open`] does, and nothing is created: no store in `dir` is
    /// an error.
    pub fn open_to_read(dir: &Path, opts: &OpenOptions) -> Result<DiskKv, StoreError> {
        let Some(engine) = engine_of(dir)? else {
            return Err(StoreError::Backend(format!(
                "no store in {}",
                dir.display()
            )));
        };
        if !matches!(engine, Engine::Fjall | Engine::Sled) || writable(dir, engine) {
            return DiskKv::open(dir, opts);
        }
        let copy = read_copy(dir, engine)?;
        let opened = DiskKv::open(&copy.path().join("store"), opts)?;
        let copy = Some(Arc::new(copy));
        Ok(match opened {
            DiskKv::Fjall(kv) => DiskKv::Fjall(FjallKv { copy, ..kv }),
            DiskKv::Sled(kv) => DiskKv::Sled(SledKv { copy, ..kv }),
        })
    }

    /// The private copy this handle reads, if the store could not be
    /// opened where it is ([`DiskKv::open_to_read`]).
    pub fn read_copy(&self) -> Option<&Path> {
        match self {
            DiskKv::Fjall(kv) => kv.copy.as_deref().map(|d| d.path()),
            DiskKv::Sled(kv) => kv.copy.as_deref().map(|d| d.path()),
        }
    }
}

/// The file each engine locks (`flock`) while a process holds the store.
fn lock_file(dir: &Path, engine: Engine) -> std::path::PathBuf {
    dir.join(match engine {
        Engine::Sled => "db",
        _ => "lock",
    })
}

/// Whether this process may write the store's files: the engine's lock
/// file opened for writing, which changes nothing. Only a refusal to write
/// (a read-only file system, no permission) says no; any other error is
/// left to the engine's own open to report.
fn writable(dir: &Path, engine: Engine) -> bool {
    let refused = |e: &std::io::Error| {
        matches!(
            e.kind(),
            std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied
        )
    };
    match std::fs::OpenOptions::new()
        .write(true)
        .open(lock_file(dir, engine))
    {
        Ok(_) => true,
        Err(e) => !refused(&e),
    }
}

/// Copies the store in `dir` (which this process may not write) into a new
/// temporary directory, under the store's lock taken shared: a projector
/// holding it makes the store [`StoreError::InUse`], and none can start
/// while the copy is made.
fn read_copy(dir: &Path, engine: Engine) -> Result<tempfile::TempDir, StoreError> {
    let engine_name = engine.name();
    let lock_path = lock_file(dir, engine);
    let lock = std::fs::File::open(&lock_path).map_err(|e| {
        StoreError::Backend(format!(
            "store {} cannot be written here, and its {engine_name} lock file {} cannot be              read: {e}",
            dir.display(),
            lock_path.display()
        ))
    })?;
    match lock.try_lock_shared() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(in_use(dir, engine_name)),
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(StoreError::Backend(format!(
                "locking {}: {e}",
                lock_path.display()
            )))
        }
    }
    let failed = |what: String, e: std::io::Error| StoreError::ReadOnly {
        dir: dir.display().to_string(),
        engine: engine_name,
        reason: format!("{what}: {e}"),
    };
    let tmp = tempfile::Builder::new()
        .prefix("si-ledger-read-")
        .tempdir()
        .map_err(|e| failed("creating a temporary directory".into(), e))?;
    copy_tree(dir, &tmp.path().join("store")).map_err(|(path, e)| {
        failed(format!("copying {} into {}", path, tmp.path().display()), e)
    })?;
    drop(lock);
    Ok(tmp)
}

/// Copies the directory tree `from` to a new directory `to`: directories
/// and regular files (symbolic links followed), nothing else.
fn copy_tree(from: &Path, to: &Path) -> Result<(), (String, std::io::Error)> {
    fn at(p: &Path) -> impl FnOnce(std::io::Error) -> (String, std::io::Error) + '_ {
        move |e| (p.display().to_string(), e)
    }
    // The copy is personal data: its owner alone reads it, whatever the
    // source's modes.
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(to)
            .map_err(at(to))?;
    }
    for entry in std::fs::read_dir(from).map_err(at(from))? {
        let entry = entry.map_err(at(from))?;
        let src = entry.path();
        let meta = std::fs::metadata(&src).map_err(at(&src))?;
        let dst = to.join(entry.file_name());
        if meta.is_dir() {
            copy_tree(&src, &dst)?;
        } else if meta.is_file() {
            std::fs::copy(&src, &dst).map_err(at(&src))?;
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o600))
                    .map_err(at(&dst))?;
            }
        }
    }
    Ok(())
}

impl Kv for DiskKv {
    fn get(&self, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self {
            DiskKv::Fjall(kv) => kv.get(k),
            DiskKv::Sled(kv) => kv.get(k),
        }
    }
    fn write(&self, b: KvBatch) -> Result<(), StoreError> {
        match self {
            DiskKv::Fjall(kv) => kv.write(b),
            DiskKv::Sled(kv) => kv.write(b),
        }
    }
    fn for_each_from(
        &self,
        prefix: &[u8],
        from: &[u8],
        f: &mut Visitor<'_>,
    ) -> Result<(), StoreError> {
        match self {
            DiskKv::Fjall(kv) => kv.for_each_from(prefix, from, f),
            DiskKv::Sled(kv) => kv.for_each_from(prefix, from, f),
        }
    }
    fn size_on_disk(&self) -> Result<u64, StoreError> {
        match self {
            DiskKv::Fjall(kv) => kv.size_on_disk(),
            DiskKv::Sled(kv) => kv.size_on_disk(),
        }
    }
    fn for_each_at_once(
        &self,
        prefixes: &[Vec<u8>],
        f: &mut Visitor<'_>,
    ) -> Result<(), StoreError> {
        match self {
            DiskKv::Fjall(kv) => kv.for_each_at_once(prefixes, f),
            DiskKv::Sled(kv) => kv.for_each_at_once(prefixes, f),
        }
    }
    fn engine(&self) -> Engine {
        match self {
            DiskKv::Fjall(_) => Engine::Fjall,
            DiskKv::Sled(_) => Engine::Sled,
        }
    }
}

/// fjall, one keyspace; each write is one atomic batch whose journal is
/// synced to disk (`PersistMode::SyncAll`) before it returns.
#[derive(Clone)]
pub struct FjallKv {
    db: fjall::Database,
    keys: fjall::Keyspace,
    /// The private copy opened instead of a store this process may not
    /// write ([`DiskKv::open_to_read`]); last, so the database is closed
    /// before the copy is removed.
    copy: Option<Arc<tempfile::TempDir>>,
}

/// fjall's background threads (flushes and compactions). One: with two
/// or more, fjall 3.1's first worker hands every compaction request back
/// to the queue and takes it again while another compacts, spinning (about
/// a tenth of the projector's CPU in a perf profile on this 2-core
/// machine); one worker flushes and compacts in turn.
const FJALL_WORKERS: usize = 1;

/// The keyspace that holds every key.
const KEYSPACE: &str = "ledger";

impl FjallKv {
    /// Opens (or creates) the fjall database in `dir` with a block cache
    /// of `cache_bytes`. Besides the cache, fjall holds the keyspace's
    /// memtable (sealed at 64 MiB, then flushed to a table), so memory does
    /// not grow with the data.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<FjallKv, StoreError> {
        let db = held_lock_retried(dir, "fjall", || {
            let opened = fjall::Database::builder(dir)
                .cache_size(cache_bytes)
                .worker_threads(FJALL_WORKERS)
                .open();
            match opened {
                Ok(db) => Ok(Some(db)),
                Err(fjall::Error::Locked) => Ok(None),
                Err(e) => Err(StoreError::Backend(format!(
                    "opening {}: {e}",
                    dir.display()
                ))),
            }
        })?;
        let keys = db
            .keyspace(KEYSPACE, fjall::KeyspaceCreateOptions::default)
            .map_err(|e| StoreError::Backend(format!("opening {}: {e}", dir.display())))?;
        Ok(FjallKv {
            db,
            keys,
            copy: None,
        })
    }
}

/// Opens with `open`, which gives `None` while another holder has the
/// store's lock. A database dropped a moment ago in this process may still
/// be letting go of it while its background threads stop, so the lock is
/// tried for up to a second before the store is called in use.
fn held_lock_retried<T>(
    dir: &Path,
    engine: &'static str,
    mut open: impl FnMut() -> Result<Option<T>, StoreError>,
) -> Result<T, StoreError> {
    for _ in 0..50 {
        if let Some(db) = open()? {
            return Ok(db);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    open()?.ok_or_else(|| in_use(dir, engine))
}

fn in_use(dir: &Path, engine: &'static str) -> StoreError {
    StoreError::InUse {
        dir: dir.display().to_string(),
        engine,
    }
}

impl Kv for FjallKv {
    fn get(&self, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.keys.get(k).map_err(backend)?.map(|v| v.to_vec()))
    }

    fn write(&self, b: KvBatch) -> Result<(), StoreError> {
        let mut batch = self
            .db
            .batch()
            .durability(Some(fjall::PersistMode::SyncAll));
        for (k, v) in b.ops {
            match v {
                Some(v) => batch.insert(&self.keys, k, v),
                None => batch.remove(&self.keys, k),
            }
        }
        batch.commit().map_err(backend)
    }

    fn for_each_from(
        &self,
        prefix: &[u8],
        from: &[u8],
        f: &mut Visitor<'_>,
    ) -> Result<(), StoreError> {
        let start = from.max(prefix).to_vec();
        for guard in self.keys.range(start..) {
            let (k, v) = guard.into_inner().map_err(backend)?;
            if !k.starts_with(prefix) || !f(&k, &v)? {
                break;
            }
        }
        Ok(())
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.disk_space().map_err(backend)
    }

    fn for_each_at_once(
        &self,
        prefixes: &[Vec<u8>],
        f: &mut Visitor<'_>,
    ) -> Result<(), StoreError> {
        use fjall::Readable as _;
        let view = self.db.snapshot();
        for p in prefixes {
            for guard in view.prefix(&self.keys, p) {
                let (k, v) = guard.into_inner().map_err(backend)?;
                if !f(&k, &v)? {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn engine(&self) -> Engine {
        Engine::Fjall
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// sled, one tree, `apply_batch` + `flush` per write.
#[derive(Clone)]
pub struct SledKv {
    db: sled::Db,
    /// As [`FjallKv`]'s.
    copy: Option<Arc<tempfile::TempDir>>,
}

impl SledKv {
    /// Opens (or creates) the sled database in `dir` with a page cache of
    /// `cache_bytes`.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<SledKv, StoreError> {
        let db = held_lock_retried(dir, "sled", || {
            let opened = sled::Config::new()
                .path(dir)
                // Bounded cache: the projector's memory must not grow with
                // the number of participants.
                .cache_capacity(cache_bytes)
                .mode(sled::Mode::HighThroughput)
                .open();
            match opened {
                Ok(db) => Ok(Some(db)),
                // sled reports the lock as an `Other` I/O error with this text.
                Err(sled::Error::Io(io)) if io.to_string().contains("could not acquire lock") => {
                    Ok(None)
                }
                Err(e) => Err(StoreError::Backend(format!(
                    "opening {}: {e}",
                    dir.display()
                ))),
            }
        })?;
        Ok(SledKv { db, copy: None })
    }
}

impl Kv for SledKv {
    fn get(&self, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get(k).map_err(backend)?.map(|v| v.to_vec()))
    }

    fn write(&self, b: KvBatch) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (k, v) in b.ops {
            match v {
                Some(v) => batch.insert(k, v),
                None => batch.remove(k),
            }
        }
        self.db.apply_batch(batch).map_err(backend)?;
        self.db.flush().map_err(backend)?;
        Ok(())
    }

    fn for_each_from(
        &self,
        prefix: &[u8],
        from: &[u8],
        f: &mut Visitor<'_>,
    ) -> Result<(), StoreError> {
        let start = from.max(prefix).to_vec();
        for r in self.db.range(start..) {
            let (k, v) = r.map_err(backend)?;
            if !k.starts_with(prefix) || !f(&k, &v)? {
                break;
            }
        }
        Ok(())
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(backend)
    }

    fn engine(&self) -> Engine {
        Engine::Sled
    }
}

/// The in-memory twin. Clones share the map, so "reopening" a clone sees
/// everything written: what a durable store must also do.
#[derive(Clone, Default)]
pub struct MemoryKv {
    map: Arc<Mutex<BTreeMap<Vec<u8>, Vec<u8>>>>,
}

impl Kv for MemoryKv {
    fn get(&self, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.map.lock().map_err(backend)?.get(k).cloned())
    }

    fn write(&self, b: KvBatch) -> Result<(), StoreError> {
        let mut m = self.map.lock().map_err(backend)?;
        for (k, v) in b.ops {
            match v {
                Some(v) => m.insert(k, v),
                None => m.remove(&k),
            };
        }
        Ok(())
    }

    fn for_each_from(
        &self,
        prefix: &[u8],
        from: &[u8],
        f: &mut Visitor<'_>,
    ) -> Result<(), StoreError> {
        let m = self.map.lock().map_err(backend)?;
        for (k, v) in m
            .range(from.max(prefix).to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
        {
            if !f(k, v)? {
                break;
            }
        }
        Ok(())
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(0)
    }

    fn for_each_at_once(
        &self,
        prefixes: &[Vec<u8>],
        f: &mut Visitor<'_>,
    ) -> Result<(), StoreError> {
        let m = self.map.lock().map_err(backend)?;
        for p in prefixes {
            for (k, v) in m.range(p.clone()..).take_while(|(k, _)| k.starts_with(p)) {
                if !f(k, v)? {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn engine(&self) -> Engine {
        Engine::Memory
    }
}
