//! Byte-level backends: sled on disk and a `BTreeMap` twin in memory.

use crate::StoreError;
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
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// sled, one tree, `apply_batch` + `flush` per write.
#[derive(Clone)]
pub struct SledKv {
    db: sled::Db,
}

impl SledKv {
    pub fn open(dir: &Path) -> Result<SledKv, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            // Bounded cache: the projector's memory must not grow with the
            // number of participants.
            .cache_capacity(192 * 1024 * 1024)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(|e| match e {
                // sled reports the lock as an `Other` I/O error with this text.
                sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
                    StoreError::Backend(format!(
                        "store {} is in use by another process (a running projector?): \
                         sled allows one process per store",
                        dir.display()
                    ))
                }
                e => StoreError::Backend(format!("opening {}: {e}", dir.display())),
            })?;
        Ok(SledKv { db })
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
}
