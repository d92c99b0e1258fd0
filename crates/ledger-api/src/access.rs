//! The access log: one JSON line per read of personal data (who, when,
//! which IIN, which endpoint), appended and flushed to disk before the data
//! is sent. Appends from concurrent requests share one `fdatasync` (group
//! commit), so a busy server does not sync once per request. Each record
//! carries the hash of the line before it (`prev`), so that a removed,
//! edited or inserted record shows (`docs/tamper-evidence.md`, section 7);
//! the readers are in [`read`].

mod read;

pub use read::{
    page, read, verify, Break, Filter, Listing, Page, Unreadable, Verified, MAX_LINE_BYTES,
    PAGE_SCAN_BYTES,
};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use tokio::sync::oneshot;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRecord {
    /// RFC 3339, UTC, milliseconds.
    pub at: String,
    /// The token's name from the auth file.
    pub who: String,
    pub role: String,
    /// The IIN whose data was read (this log is itself personal data: only
    /// auditors read it).
    pub iin: Option<String>,
    pub endpoint: String,
    /// The HTTP method (records from before it was kept have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The status answered: 200, or why the attempt gave no data (404 no
    /// such account: that too says whether a person is in the ledger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_known_on: Option<String>,
    /// The client's address (IP and port) as the server saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The instance that forwarded the request here: its token's name in
    /// this server's auth file and its advertised URL (`ledger-instances
    /// at http://10.0.0.5:8080`). The read was asked of that instance and
    /// made here, where the data is (`client` is then the client that
    /// asked it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// The chain link: the hex SHA-256 of the previous line's bytes
    /// (without its line feed), [`GENESIS`] on the first line. Set by the
    /// writer; records from before the chain have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
}

/// The `prev` of the log's first line: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Lowercase hex of a hash.
fn hex(hash: &[u8]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

type Pending = (AccessRecord, oneshot::Sender<Result<(), String>>);

/// A handle to the appending thread.
#[derive(Clone)]
pub struct AccessLog {
    tx: mpsc::Sender<Pending>,
    path: PathBuf,
    /// Its length in bytes and its head (hex) when opened.
    opened: (u64, String),
}

impl AccessLog {
    /// Opens (or creates) the log at `path`, locks it (one writer: two
    /// would interleave their chains) and starts its writer thread. A
    /// last line without its line feed is cut off: it is what a write that
    /// failed or was interrupted left, and was never acknowledged (a read
    /// is answered only after its record, line feed included, is synced).
    pub fn open(path: &Path) -> std::io::Result<AccessLog> {
        let mut options = OpenOptions::new();
        options.create(true).read(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            // It names whose data was read: its owner alone reads it.
            options.mode(0o600);
            let file = options.open(path)?;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            drop(file);
        }
        let mut file = options.open(path)?;
        file.try_lock().map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => std::io::Error::other(format!(
                "the access log {} is in use by another server",
                path.display()
            )),
            std::fs::TryLockError::Error(e) => e,
        })?;
        let size = file.metadata()?.len();
        let (len, prev) = whole_lines(&mut file)?;
        if len < size {
            file.set_len(len)?;
            file.sync_data()?;
            tracing::warn!(
                path = %path.display(),
                offset = len,
                bytes = size - len,
                "cut the access log's torn last line (a write that failed or was interrupted; never acknowledged)"
            );
        }
        // The head in the server's own log (kept apart from this file):
        // records later removed from the end show against it.
        tracing::info!(
            path = %path.display(),
            bytes = len,
            head = %hex(&prev),
            "access log opened"
        );
        let opened = (len, hex(&prev));
        let chain = Chain {
            sink: file,
            len,
            prev,
            dirty: false,
        };
        let (tx, rx) = mpsc::channel::<Pending>();
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || writer(chain, rx))?;
        Ok(AccessLog {
            tx,
            path: path.to_path_buf(),
            opened,
        })
    }

    /// Its length in bytes and its head (the next record's `prev`, hex)
    /// when it was opened: the anchor that shows records later removed
    /// from the end.
    pub fn opened(&self) -> &(u64, String) {
        &self.opened
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `r`; returns once it is on disk.
    pub async fn append(&self, r: AccessRecord) -> Result<(), String> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send((r, done))
            .map_err(|_| "access log writer stopped".to_string())?;
        wait.await
            .map_err(|_| "access log writer stopped".to_string())?
    }
}

fn writer<S: Sink>(mut chain: Chain<S>, rx: mpsc::Receiver<Pending>) {
    while let Ok(first) = rx.recv() {
        let (mut records, dones): (Vec<AccessRecord>, Vec<_>) =
            std::iter::once(first).chain(rx.try_iter()).unzip();
        let result = chain.append(&mut records);
        if let Err(e) = &result {
            tracing::error!(error = %e, "access log");
        }
        for done in dones {
            let _ = done.send(result.clone());
        }
    }
}

/// What the writer needs of its file; a test gives it one that fails.
trait Sink {
    /// Appends `bytes` at the end (some of them may be written when it fails).
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()>;
    fn sync(&mut self) -> std::io::Result<()>;
    /// Cuts the file back to `len` bytes, durably.
    fn truncate(&mut self, len: u64) -> std::io::Result<()>;
}

impl Sink for File {
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.write_all(bytes)
    }
    fn sync(&mut self) -> std::io::Result<()> {
        self.sync_data()
    }
    fn truncate(&mut self, len: u64) -> std::io::Result<()> {
        // The file is in append mode: the next write goes to the new end.
        self.set_len(len)?;
        self.sync_data()
    }
}

/// The writer's state: the length of the file up to its last whole
/// record, and that line's hash (the next record's `prev`).
struct Chain<S> {
    sink: S,
    len: u64,
    prev: [u8; 32],
    /// A failed write could not be cut back: cut before the next one.
    dirty: bool,
}

impl<S: Sink> Chain<S> {
    /// Appends `records` (their `prev` set here) as one group, synced, or
    /// nothing: after a failed write or sync (a full disk) the file is cut
    /// back to its length before the group, so that a refused read leaves
    /// no bytes and the next record starts on a fresh line.
    fn append(&mut self, records: &mut [AccessRecord]) -> Result<(), String> {
        if self.dirty {
            self.sink.truncate(self.len).map_err(|e| {
                format!(
                    "writing the access log: cutting it back to {} bytes after a failed write: {e}",
                    self.len
                )
            })?;
            self.dirty = false;
        }
        let mut bytes = Vec::new();
        let mut prev = self.prev;
        for r in records.iter_mut() {
            r.prev = Some(hex(&prev));
            let start = bytes.len();
            serde_json::to_writer(&mut bytes, r).expect("access records encode");
            prev = Sha256::digest(&bytes[start..]).into();
            bytes.push(b'\n');
        }
        match self.sink.append(&bytes).and_then(|()| self.sink.sync()) {
            Ok(()) => {
                self.len += bytes.len() as u64;
                self.prev = prev;
                Ok(())
            }
            Err(e) => {
                self.dirty = self.sink.truncate(self.len).is_err();
                Err(format!("writing the access log: {e}"))
            }
        }
    }
}

/// The length of `file` up to and including its last line feed, and the
/// hash of the line that ends there ([`GENESIS`]'s bytes for none). Reads
/// from the end: the cost does not grow with the log.
fn whole_lines<F: Read + Seek>(file: &mut F) -> std::io::Result<(u64, [u8; 32])> {
    let size = file.seek(SeekFrom::End(0))?;
    let Some(last) = rfind_newline(file, size)? else {
        return Ok((0, [0; 32]));
    };
    let start = rfind_newline(file, last)?.map_or(0, |p| p + 1);
    file.seek(SeekFrom::Start(start))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file.take(last - start), &mut hasher)?;
    Ok((last + 1, hasher.finalize().into()))
}

/// Where the last line feed before byte `before` is.
fn rfind_newline<F: Read + Seek>(file: &mut F, before: u64) -> std::io::Result<Option<u64>> {
    let mut buf = vec![0u8; 64 << 10];
    let mut end = before;
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(Some(start + i as u64));
        }
        end = start;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn record(who: &str) -> AccessRecord {
        AccessRecord {
            at: "2026-12-06T09:03:00.000Z".into(),
            who: who.into(),
            role: "auditor".into(),
            iin: Some("900517400451".into()),
            endpoint: "GET /v1/accounts/{iin}".into(),
            method: Some("GET".into()),
            outcome: Some(200),
            as_of: None,
            as_known_on: None,
            client: None,
            via: None,
            prev: None,
        }
    }

    /// A file in memory that fails once `budget` bytes are written: the
    /// bytes up to it stay, as a full disk leaves them.
    #[derive(Default)]
    struct Disk {
        bytes: Vec<u8>,
        budget: Option<usize>,
        fail_sync: bool,
        fail_truncate: bool,
    }

    impl Sink for Disk {
        fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
            let room = self.budget.map_or(bytes.len(), |b| b.min(bytes.len()));
            self.bytes.extend_from_slice(&bytes[..room]);
            self.budget = self.budget.map(|b| b - room);
            if room < bytes.len() {
                return Err(std::io::Error::other("No space left on device"));
            }
            Ok(())
        }
        fn sync(&mut self) -> std::io::Result<()> {
            if self.fail_sync {
                return Err(std::io::Error::other("Input/output error"));
            }
            Ok(())
        }
        fn truncate(&mut self, len: u64) -> std::io::Result<()> {
            if self.fail_truncate {
                return Err(std::io::Error::other("Input/output error"));
            }
            self.bytes.truncate(len as usize);
            Ok(())
        }
    }

    fn chain(disk: Disk) -> Chain<Disk> {
        Chain {
            sink: disk,
            len: 0,
            prev: [0; 32],
            dirty: false,
        }
    }

    fn write(path: &Path, bytes: &[u8]) -> std::path::PathBuf {
        std::fs::write(path, bytes).unwrap();
        path.to_path_buf()
    }

    #[test]
    fn a_failed_write_leaves_no_bytes_and_the_next_follows_the_last_acknowledged() {
        let mut c = chain(Disk::default());
        c.append(&mut [record("a")]).unwrap();
        let acknowledged = c.sink.bytes.clone();
        // The disk fills in the middle of the next group's second record.
        c.sink.budget = Some(acknowledged.len() + 40);
        let e = c.append(&mut [record("b"), record("c")]).unwrap_err();
        assert!(e.contains("No space left"), "{e}");
        assert_eq!(c.sink.bytes, acknowledged, "the refused group's bytes stay");
        // Space is freed: the next record is whole, on its own line, and
        // chained to the last acknowledged one.
        c.sink.budget = None;
        c.append(&mut [record("d")]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir.path().join("log"), &c.sink.bytes);
        let listing = read(&path).unwrap();
        assert!(listing.unreadable.is_empty(), "{:?}", listing.unreadable);
        let who: Vec<&str> = listing.records.iter().map(|r| r.who.as_str()).collect();
        assert_eq!(who, ["a", "d"]);
        let v = verify(&path).unwrap();
        assert!(v.breaks.is_empty(), "{:?}", v.breaks);
        assert_eq!((v.before_chain, v.chained), (0, 2));
    }

    #[test]
    fn a_failed_sync_is_cut_back_too_and_a_failed_cut_is_retried_first() {
        let mut c = chain(Disk::default());
        c.append(&mut [record("a")]).unwrap();
        let acknowledged = c.sink.bytes.clone();
        c.sink.fail_sync = true;
        c.append(&mut [record("b")]).unwrap_err();
        assert_eq!(c.sink.bytes, acknowledged);
        // The write fails and so does the cut: the bytes stay until a cut
        // succeeds, and no record is written after them meanwhile.
        c.sink.fail_sync = false;
        c.sink.budget = Some(10);
        c.sink.fail_truncate = true;
        c.append(&mut [record("c")]).unwrap_err();
        assert_eq!(c.sink.bytes.len(), acknowledged.len() + 10);
        c.sink.budget = None;
        let e = c.append(&mut [record("d")]).unwrap_err();
        assert!(e.contains("cutting it back"), "{e}");
        assert_eq!(c.sink.bytes.len(), acknowledged.len() + 10);
        c.sink.fail_truncate = false;
        c.append(&mut [record("e")]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir.path().join("log"), &c.sink.bytes);
        let who: Vec<String> = read(&path)
            .unwrap()
            .records
            .into_iter()
            .map(|r| r.who)
            .collect();
        assert_eq!(who, ["a", "e"]);
        assert!(verify(&path).unwrap().breaks.is_empty());
    }

    #[test]
    fn opening_cuts_a_torn_tail_and_chains_on_from_the_last_whole_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access-log.jsonl");
        // A record from before the chain, then what a full disk left.
        let old = serde_json::to_string(&record("old")).unwrap();
        write(
            &path,
            format!("{old}\n{{\"at\":\"2026-12-06T09:03:00.000Z\",\"who\":\"x\",\"role\":\"aud")
                .as_bytes(),
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let log = AccessLog::open(&path).unwrap();
            log.append(record("new")).await.unwrap();
        });
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(&format!("{old}\n{{\"at\"")), "{text}");
        assert!(text.ends_with('\n') && !text.contains("\"aud\n"), "{text}");
        let listing = read(&path).unwrap();
        assert!(listing.unreadable.is_empty() && listing.torn.is_none());
        let new = &listing.records[1];
        assert_eq!(
            new.prev.as_deref(),
            Some(hex(&Sha256::digest(old.as_bytes())).as_str())
        );
        let v = verify(&path).unwrap();
        assert_eq!((v.before_chain, v.chained), (1, 1));
        assert!(v.breaks.is_empty(), "{:?}", v.breaks);
    }

    #[test]
    fn a_log_with_no_whole_line_starts_the_chain_at_genesis() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir.path().join("log"), b"{\"at\":");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let log = AccessLog::open(&path).unwrap();
            log.append(record("a")).await.unwrap();
        });
        let listing = read(&path).unwrap();
        assert_eq!(listing.records.len(), 1);
        assert_eq!(listing.records[0].prev.as_deref(), Some(GENESIS));
    }

    #[test]
    fn a_second_writer_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let _first = AccessLog::open(&path).unwrap();
        let e = AccessLog::open(&path).err().expect("a second writer");
        assert!(e.to_string().contains("in use by another server"), "{e}");
    }

    #[test]
    fn the_last_whole_line_is_found_across_read_chunks() {
        let long = "x".repeat(200_000);
        let text = format!("a\n{long}\nb");
        let mut cursor = std::io::Cursor::new(text.as_bytes());
        let (len, hash) = whole_lines(&mut cursor).unwrap();
        assert_eq!(len, 2 + long.len() as u64 + 1);
        assert_eq!(hash, <[u8; 32]>::from(Sha256::digest(long.as_bytes())));
    }
}
