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
        let file = OpenOptions::new().create(true).append(true).open(path)?;
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
