//! The access log: one JSON line per read of personal data (who, when,
//! which IIN, which endpoint), appended and flushed to disk before the data
//! is sent. Appends from concurrent requests share one `fdatasync` (group
//! commit), so a busy server does not sync once per request.

use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
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
}

type Pending = (AccessRecord, oneshot::Sender<Result<(), String>>);

/// A handle to the appending thread.
#[derive(Clone)]
pub struct AccessLog {
    tx: mpsc::Sender<Pending>,
    path: PathBuf,
}

impl AccessLog {
    /// Opens (or creates) the log at `path` and starts its writer thread.
    pub fn open(path: &Path) -> std::io::Result<AccessLog> {
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            // It names whose data was read: its owner alone reads it.
            options.mode(0o600);
            let file = options.open(path)?;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            drop(file);
        }
        let file = options.open(path)?;
        let (tx, rx) = mpsc::channel::<Pending>();
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || writer(file, rx))?;
        Ok(AccessLog {
            tx,
            path: path.to_path_buf(),
        })
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

fn writer(mut file: File, rx: mpsc::Receiver<Pending>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        group.extend(rx.try_iter());
        let mut bytes = Vec::new();
        for (r, _) in &group {
            serde_json::to_writer(&mut bytes, r).expect("access records encode");
            bytes.push(b'\n');
        }
        let result = file
            .write_all(&bytes)
            .and_then(|()| file.sync_data())
            .map_err(|e| format!("writing the access log: {e}"));
        if let Err(e) = &result {
            tracing::error!(error = %e, "access log");
        }
        for (_, done) in group {
            let _ = done.send(result.clone());
        }
    }
}

/// Every record of the log at `path`, oldest first. A line that does not
/// parse is an error naming it.
pub fn read(path: &Path) -> Result<Vec<AccessRecord>, String> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    BufReader::new(file)
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
            serde_json::from_str(&line)
                .map_err(|e| format!("{} line {}: {e}", path.display(), i + 1))
        })
        .collect()
}

/// Which records a page of the access log holds.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Records at or after this instant (RFC 3339, compared as instants).
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Records before this instant.
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    pub who: Option<String>,
    pub iin: Option<String>,
}

impl Filter {
    fn keeps(&self, r: &AccessRecord) -> bool {
        let at = chrono::DateTime::parse_from_rfc3339(&r.at).ok();
        self.from.is_none_or(|f| at.is_some_and(|a| a >= f))
            && self.to.is_none_or(|t| at.is_some_and(|a| a < t))
            && self.who.as_ref().is_none_or(|w| *w == r.who)
            && self.iin.as_ref().is_none_or(|i| r.iin.as_ref() == Some(i))
    }
}

/// One page of the log: the records kept, and where the next page starts
/// (a byte offset in the file), if the file goes on.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub records: Vec<AccessRecord>,
    pub next_cursor: Option<u64>,
}

/// Bytes one page reads at most, whatever the filter keeps: a page costs
/// the same on a log of ten records or ten million.
pub const PAGE_SCAN_BYTES: u64 = 16 << 20;

/// Up to `limit` records kept by `filter`, reading from byte `cursor` of
/// the log at `path` (0: its start), at most [`PAGE_SCAN_BYTES`] of it.
pub fn page(path: &Path, cursor: u64, limit: usize, filter: &Filter) -> Result<Page, String> {
    use std::io::{Seek, SeekFrom};
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Page {
                records: Vec::new(),
                next_cursor: None,
            })
        }
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let len = file
        .metadata()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    // Any cursor is a place in the file: past the end, an empty page; in
    // the middle of a record, the page starts at the next one.
    let cursor = cursor.min(len);
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut at = cursor;
    let mut line_start = cursor == 0;
    if !line_start {
        let mut before = [0u8; 1];
        file.seek(SeekFrom::Start(cursor - 1)).map_err(io)?;
        std::io::Read::read_exact(&mut file, &mut before).map_err(io)?;
        line_start = before[0] == b'\n';
    }
    file.seek(SeekFrom::Start(cursor)).map_err(io)?;
    let mut reader = BufReader::new(file);
    if !line_start {
        let mut skipped = Vec::new();
        at += reader.read_until(b'\n', &mut skipped).map_err(io)? as u64;
    }
    let cursor = at;
    let mut records = Vec::new();
    let mut line = String::new();
    while records.len() < limit && at - cursor < PAGE_SCAN_BYTES {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 || !line.ends_with('\n') {
            // The end, or a record still being written: the next page
            // starts before it.
            break;
        }
        let r: AccessRecord = serde_json::from_str(line.trim_end())
            .map_err(|e| format!("{} at byte {at}: {e}", path.display()))?;
        at += n as u64;
        if filter.keeps(&r) {
            records.push(r);
        }
    }
    Ok(Page {
        records,
        next_cursor: (at < len).then_some(at),
    })
}
