//! The embedded log: a directory with `log.json` (format, partition count)
//! and one append-only file per partition. Each record is a frame
//!
//! ```text
//! u32 body length | u32 CRC-32 of body | body:
//!   u64 offset | i64 timestamp ms | u32 key length | key | u32 value length | value
//! ```
//!
//! all little-endian. Appends are fsynced before `append` returns, so a
//! published record survives a crash. A frame cut short by a crash at the
//! end of a file (a torn tail) is truncated by the next appender and ignored
//! by readers; a bad frame with data after it is corruption and an error.

use crate::source::{Record, Source, SourceError};
use ledger_core::partition_for;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

const FORMAT: u32 = 1;
const HEADER: usize = 8;
/// Largest frame body accepted: larger lengths are corruption.
const MAX_BODY: u32 = 16 * 1024 * 1024;

pub type LogError = SourceError;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    format: u32,
    partitions: u32,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SourceError + '_ {
    move |source| SourceError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A handle on an embedded log directory.
#[derive(Debug, Clone)]
pub struct EmbeddedLog {
    dir: PathBuf,
    partitions: u32,
}

impl EmbeddedLog {
    /// Opens the log at `dir`, creating it with `partitions` partitions if it
    /// does not exist. An existing log keeps its own partition count.
    pub fn open_or_create(dir: &Path, partitions: u32) -> Result<EmbeddedLog, SourceError> {
        if dir.join("log.json").exists() {
            return EmbeddedLog::open(dir);
        }
        if partitions == 0 {
            return Err(SourceError::Other(
                "a log needs at least one partition".into(),
            ));
        }
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let meta = Meta {
            format: FORMAT,
            partitions,
        };
        let path = dir.join("log.json");
        let tmp = dir.join("log.json.tmp");
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(
            serde_json::to_string_pretty(&meta)
                .expect("plain struct")
                .as_bytes(),
        )
        .and_then(|_| f.sync_all())
        .map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
        Ok(EmbeddedLog {
            dir: dir.to_path_buf(),
            partitions,
        })
    }

    /// Opens an existing log.
    pub fn open(dir: &Path) -> Result<EmbeddedLog, SourceError> {
        let path = dir.join("log.json");
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        let meta: Meta = serde_json::from_str(&text)
            .map_err(|e| SourceError::Other(format!("{}: {e}", path.display())))?;
        if meta.format != FORMAT || meta.partitions == 0 {
            return Err(SourceError::Other(format!(
                "{}: unsupported format {} with {} partitions",
                path.display(),
                meta.format,
                meta.partitions
            )));
        }
        Ok(EmbeddedLog {
            dir: dir.to_path_buf(),
            partitions: meta.partitions,
        })
    }

    pub fn partitions(&self) -> u32 {
        self.partitions
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn partition_path(&self, p: u32) -> PathBuf {
        self.dir.join(format!("partition-{p:05}.log"))
    }

    /// An exclusive appender (one at a time per log, enforced by a file lock).
    pub fn appender(&self) -> Result<Appender, SourceError> {
        let lock_path = self.dir.join("append.lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        lock.lock().map_err(io(&lock_path))?;
        let mut files = Vec::new();
        let mut next = Vec::new();
        for p in 0..self.partitions {
            let path = self.partition_path(p);
            let mut f = OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(&path)
                .map_err(io(&path))?;
            let scan = scan(&mut f, p, &path)?;
            if scan.valid_len < scan.file_len {
                // A torn tail from a crash mid-append: it was never
                // acknowledged to the publisher, so it is dropped.
                f.set_len(scan.valid_len).map_err(io(&path))?;
                f.sync_all().map_err(io(&path))?;
            }
            f.seek(SeekFrom::Start(scan.valid_len)).map_err(io(&path))?;
            files.push(f);
            next.push(scan.records);
        }
        Ok(Appender {
            log: self.clone(),
            files,
            next,
            failed: false,
            _lock: lock,
        })
    }

    /// Offset one past the last complete record of each partition.
    pub fn end_offsets(&self) -> Result<Vec<u64>, SourceError> {
        (0..self.partitions)
            .map(|p| {
                let path = self.partition_path(p);
                match File::open(&path) {
                    Ok(mut f) => scan(&mut f, p, &path).map(|s| s.records),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
                    Err(e) => Err(io(&path)(e)),
                }
            })
            .collect()
    }

    /// The record at `offset` of `partition`, if the log holds one there
    /// (it checks the log's identity: `ledger_store::LedgerStore::check_log`).
    pub fn record_at(&self, partition: u32, offset: u64) -> Result<Option<Record>, SourceError> {
        if partition >= self.partitions {
            return Ok(None);
        }
        let path = self.partition_path(partition);
        let walk = match File::open(&path) {
            Ok(f) => walk_frames(&f, offset, &path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        if walk.frames < offset {
            return Ok(None);
        }
        let mut reader = PartitionReader {
            partition,
            path,
            reader: None,
            position: walk.end,
            next_offset: walk.frames,
        };
        let mut out = Vec::with_capacity(1);
        reader.read(1, &mut out)?;
        Ok(out.pop())
    }

    /// A source over every partition of this log.
    pub fn source(&self) -> Result<EmbeddedSource, SourceError> {
        EmbeddedSource::new(self.clone())
    }
}

struct Scan {
    records: u64,
    valid_len: u64,
    file_len: u64,
}

/// Where a walk over frame headers stopped.
struct Walk {
    /// Byte position just after the last frame walked.
    end: u64,
    frames: u64,
    /// Start of the last frame walked.
    last: Option<u64>,
}

/// Walks the headers of complete frames (their declared length fits in the
/// file) from the start of a partition file, at most `limit` of them,
/// without reading bodies.
fn walk_frames(f: &File, limit: u64, path: &Path) -> Result<Walk, SourceError> {
    let file_len = f.metadata().map_err(io(path))?.len();
    let mut r = BufReader::with_capacity(1 << 16, f);
    let mut w = Walk {
        end: 0,
        frames: 0,
        last: None,
    };
    while w.frames < limit {
        let mut h = [0u8; HEADER];
        if w.end + HEADER as u64 > file_len || r.read_exact(&mut h).is_err() {
            break;
        }
        let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let end = w.end + HEADER as u64 + u64::from(len);
        if len > MAX_BODY || end > file_len {
            break;
        }
        r.seek_relative(i64::from(len)).map_err(io(path))?;
        w.last = Some(w.end);
        w.end = end;
        w.frames += 1;
    }
    Ok(w)
}

/// Finds the end of the last complete frame, checking the CRC of the last
/// one (where a crash would have torn a write).
fn scan(f: &mut File, partition: u32, path: &Path) -> Result<Scan, SourceError> {
    let file_len = f.metadata().map_err(io(path))?.len();
    let Walk {
        end: pos,
        frames: records,
        last,
    } = walk_frames(f, u64::MAX, path)?;
    if let Some(last_pos) = last {
        f.seek(SeekFrom::Start(last_pos)).map_err(io(path))?;
        match read_frame(f, partition, last_pos) {
            Ok(Some(rec)) if rec.offset == records - 1 => {}
            // The last frame is garbage: a torn write. Drop it too.
            _ => {
                return Ok(Scan {
                    records: records - 1,
                    valid_len: last_pos,
                    file_len,
                });
            }
        }
    }
    Ok(Scan {
        records,
        valid_len: pos,
        file_len,
    })
}

/// Reads one frame at the reader's position. `Ok(None)` when the file ends
/// before a complete frame (end of log, or a frame still being written).
fn read_frame(
    r: &mut impl Read,
    partition: u32,
    position: u64,
) -> Result<Option<Record>, SourceError> {
    let mut h = [0u8; HEADER];
    if !read_full(r, &mut h, partition, position)? {
        return Ok(None);
    }
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    let corrupt = |offset, reason: String| SourceError::Corrupt {
        partition,
        position,
        offset,
        reason,
    };
    if !(24..=MAX_BODY).contains(&len) {
        return Err(corrupt(0, format!("frame length {len} is impossible")));
    }
    let mut body = vec![0u8; len as usize];
    if !read_full(r, &mut body, partition, position)? {
        return Ok(None);
    }
    if crc32fast::hash(&body) != crc {
        return Err(corrupt(0, "CRC mismatch".into()));
    }
    let u32_at = |i: usize| u32::from_le_bytes(body[i..i + 4].try_into().expect("4 bytes"));
    let offset = u64::from_le_bytes(body[0..8].try_into().expect("8 bytes"));
    let timestamp_ms = i64::from_le_bytes(body[8..16].try_into().expect("8 bytes"));
    let key_len = u32_at(16) as usize;
    if 20 + key_len + 4 > body.len() {
        return Err(corrupt(offset, "key length past frame end".into()));
    }
    let key = body[20..20 + key_len].to_vec();
    let value_len = u32_at(20 + key_len) as usize;
    if 24 + key_len + value_len != body.len() {
        return Err(corrupt(offset, "value length does not match frame".into()));
    }
    let value = body[24 + key_len..].to_vec();
    Ok(Some(Record {
        partition,
        offset,
        timestamp_ms,
        key,
        value,
    }))
}

/// Fills `buf`; `false` if the input ends first (nothing consumed counts).
fn read_full(
    r: &mut impl Read,
    buf: &mut [u8],
    partition: u32,
    position: u64,
) -> Result<bool, SourceError> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => return Ok(false),
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(SourceError::Io {
                    path: format!("partition {partition} at byte {position}"),
                    source: e,
                })
            }
        }
    }
    Ok(true)
}

fn encode_frame(out: &mut Vec<u8>, offset: u64, timestamp_ms: i64, key: &[u8], value: &[u8]) {
    let body_len = 24 + key.len() + value.len();
    let start = out.len();
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&timestamp_ms.to_le_bytes());
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(value);
    let crc = crc32fast::hash(&out[start + HEADER..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Appends records, partitioned by murmur2 of the key like Kafka's Java
/// client. Holds the log's append lock while alive.
pub struct Appender {
    log: EmbeddedLog,
    files: Vec<File>,
    next: Vec<u64>,
    /// Set when a write failed: the files may end in a partial frame and the
    /// offsets above may be wrong, so the appender refuses further work.
    /// Reopening scans the files again and truncates any torn tail.
    failed: bool,
    _lock: File,
}

impl Appender {
    /// Appends `(key, timestamp_ms, value)` records durably: every touched
    /// partition file is fsynced before this returns. Returns each record's
    /// (partition, offset), in input order. Nothing is written unless every
    /// record fits in a frame.
    pub fn append(
        &mut self,
        records: &[(&[u8], i64, &[u8])],
    ) -> Result<Vec<(u32, u64)>, SourceError> {
        let n = self.log.partitions;
        self.append_placed(records, |key| partition_for(key, n))
    }

    /// [`Appender::append`] to one given partition, whatever the keys (for
    /// control records that every partition must carry).
    pub fn append_to(
        &mut self,
        partition: u32,
        records: &[(&[u8], i64, &[u8])],
    ) -> Result<Vec<(u32, u64)>, SourceError> {
        if partition >= self.log.partitions {
            return Err(SourceError::Other(format!(
                "partition {partition} of a log of {} partitions",
                self.log.partitions
            )));
        }
        self.append_placed(records, |_| partition)
    }

    fn append_placed(
        &mut self,
        records: &[(&[u8], i64, &[u8])],
        place: impl Fn(&[u8]) -> u32,
    ) -> Result<Vec<(u32, u64)>, SourceError> {
        if self.failed {
            return Err(SourceError::Other(
                "an earlier append failed; reopen the log to append again".into(),
            ));
        }
        if let Some((i, (k, _, v))) = records
            .iter()
            .enumerate()
            .find(|(_, (k, _, v))| k.len() + v.len() + 24 > MAX_BODY as usize)
        {
            return Err(SourceError::Other(format!(
                "record {i} of {} bytes exceeds the {MAX_BODY}-byte frame limit",
                k.len() + v.len()
            )));
        }
        let n = self.log.partitions;
        let mut next = self.next.clone();
        let mut bufs: Vec<Vec<u8>> = vec![Vec::new(); n as usize];
        let mut placed = Vec::with_capacity(records.len());
        for (key, ts, value) in records {
            let p = place(key) as usize;
            encode_frame(&mut bufs[p], next[p], *ts, key, value);
            placed.push((p as u32, next[p]));
            next[p] += 1;
        }
        for (p, buf) in bufs.iter().enumerate() {
            if buf.is_empty() {
                continue;
            }
            let path = self.log.partition_path(p as u32);
            let f = &mut self.files[p];
            if let Err(e) = f.write_all(buf).and_then(|_| f.sync_data()) {
                self.failed = true;
                return Err(io(&path)(e));
            }
        }
        self.next = next;
        Ok(placed)
    }
}

struct PartitionReader {
    partition: u32,
    path: PathBuf,
    reader: Option<BufReader<File>>,
    /// Byte position of the next frame, and its offset.
    position: u64,
    next_offset: u64,
}

impl PartitionReader {
    fn reader(&mut self) -> Result<Option<&mut BufReader<File>>, SourceError> {
        if self.reader.is_none() {
            match File::open(&self.path) {
                Ok(f) => {
                    let mut r = BufReader::with_capacity(1 << 18, f);
                    r.seek(SeekFrom::Start(self.position))
                        .map_err(io(&self.path))?;
                    self.reader = Some(r);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(io(&self.path)(e)),
            }
        }
        Ok(self.reader.as_mut())
    }

    fn seek(&mut self, offset: u64) -> Result<(), SourceError> {
        self.reader = None;
        let walk = match File::open(&self.path) {
            Ok(f) => walk_frames(&f, offset, &self.path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Walk {
                end: 0,
                frames: 0,
                last: None,
            },
            Err(e) => return Err(io(&self.path)(e)),
        };
        if walk.frames < offset {
            return Err(SourceError::Other(format!(
                "partition {} has {} records; cannot seek to offset {offset}",
                self.partition, walk.frames
            )));
        }
        self.position = walk.end;
        self.next_offset = walk.frames;
        Ok(())
    }

    fn read(&mut self, max: usize, out: &mut Vec<Record>) -> Result<(), SourceError> {
        let (partition, start) = (self.partition, self.position);
        let mut position = start;
        let mut expected = self.next_offset;
        let path = self.path.clone();
        let Some(r) = self.reader()? else {
            return Ok(());
        };
        let mut got = 0;
        while got < max {
            let frame = match read_frame(r, partition, position) {
                Err(SourceError::Corrupt { .. }) if is_last_frame(&path, position)? => None,
                other => other?,
            };
            match frame {
                // End of data, or a frame still being appended: come back
                // to this frame's start next time.
                None => break,
                Some(rec) => {
                    if rec.offset != expected {
                        return Err(SourceError::Corrupt {
                            partition,
                            position,
                            offset: rec.offset,
                            reason: format!("expected offset {expected}"),
                        });
                    }
                    position += (HEADER + 24 + rec.key.len() + rec.value.len()) as u64;
                    expected += 1;
                    got += 1;
                    out.push(rec);
                }
            }
        }
        // No read-ahead is kept from one poll to the next: an appender may
        // truncate a torn tail the buffer still holds and write other
        // frames in its place (a projector's merge transfers, after a
        // crash); the next poll reads them from the file. A seek of a
        // BufReader drops its buffer.
        r.seek(SeekFrom::Start(position)).map_err(io(&path))?;
        self.position = position;
        self.next_offset = expected;
        Ok(())
    }
}

/// Whether the frame at `position` is the file's last: a bad last frame is a
/// torn write in progress or from a crash, not corruption.
fn is_last_frame(path: &Path, position: u64) -> Result<bool, SourceError> {
    let mut f = File::open(path).map_err(io(path))?;
    let file_len = f.metadata().map_err(io(path))?.len();
    let mut h = [0u8; 4];
    f.seek(SeekFrom::Start(position)).map_err(io(path))?;
    if f.read_exact(&mut h).is_err() {
        return Ok(true);
    }
    Ok(position + HEADER as u64 + u64::from(u32::from_le_bytes(h)) >= file_len)
}

/// Reads every partition of an embedded log, round-robin, in batches.
pub struct EmbeddedSource {
    log: EmbeddedLog,
    readers: Vec<PartitionReader>,
    turn: usize,
}

impl EmbeddedSource {
    fn new(log: EmbeddedLog) -> Result<EmbeddedSource, SourceError> {
        let readers = (0..log.partitions)
            .map(|p| PartitionReader {
                partition: p,
                path: log.partition_path(p),
                reader: None,
                position: 0,
                next_offset: 0,
            })
            .collect();
        Ok(EmbeddedSource {
            log,
            readers,
            turn: 0,
        })
    }
}

impl Source for EmbeddedSource {
    fn partition_count(&self) -> u32 {
        self.log.partitions
    }

    fn assigned(&self) -> Vec<u32> {
        (0..self.log.partitions).collect()
    }

    fn seek(&mut self, partition: u32, offset: u64) -> Result<(), SourceError> {
        self.readers
            .get_mut(partition as usize)
            .ok_or(SourceError::NotAssigned { partition })?
            .seek(offset)
    }

    fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Record>, SourceError> {
        let mut out = Vec::with_capacity(max.min(1 << 16));
        let n = self.readers.len();
        for i in 0..n {
            if out.len() >= max {
                break;
            }
            let idx = (self.turn + i) % n;
            let per = (max - out.len()).div_ceil(n - i);
            self.readers[idx].read(per, &mut out)?;
        }
        self.turn = (self.turn + 1) % n.max(1);
        if out.is_empty() && !wait.is_zero() {
            std::thread::sleep(wait);
        }
        Ok(out)
    }

    fn end_offsets(&mut self) -> Result<Vec<(u32, u64)>, SourceError> {
        Ok(self
            .log
            .end_offsets()?
            .into_iter()
            .enumerate()
            .map(|(p, o)| (p as u32, o))
            .collect())
    }

    fn acknowledge(&mut self, _next_offsets: &[(u32, u64)]) -> Result<(), SourceError> {
        // The projector's store holds the offsets; a file log needs no commit.
        Ok(())
    }
}
