//! The offline archive: a log's records with their original partition,
//! offset and timestamp, in one self-contained, hash-chained file that an
//! auditor replays with no Kafka. Specified in `docs/tamper-evidence.md`.
//!
//! JSON Lines. The first line is the header; then one line per record; the
//! last line closes the chain:
//!
//! ```text
//! {"format":"si-ledger-archive","version":1,"topic":"contributions","partitions":4,
//!  "ranges":[{"partition":0,"start":0,"end":120}, …]}
//! {"p":0,"o":0,"ts":1767225600000,"key":"<base64>","value":"<base64>","link":"<hex>"}
//! …
//! {"end":{"records":480,"link":"<hex>"}}
//! ```
//!
//! Each partition's records appear in offset order, every offset of its
//! range once; partitions may interleave. `link` chains every line to the
//! one before: the first record's previous link is SHA-256 of the header
//! line, and `link = SHA-256(previous ‖ partition u32 BE ‖ offset u64 BE ‖
//! timestamp i64 BE ‖ key length u32 BE ‖ key ‖ value length u32 BE ‖
//! value)`. Editing, removing or reordering a line breaks the link of the
//! first line after the change.

use crate::{Record, Source, SourceError};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const FORMAT: &str = "si-ledger-archive";
pub const VERSION: u32 = 1;

/// One partition's offsets in an archive: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub partition: u32,
    pub start: u64,
    pub end: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    pub topic: String,
    pub partitions: u32,
    pub ranges: Vec<Range>,
}

#[derive(Serialize, Deserialize)]
struct Line {
    p: u32,
    o: u64,
    ts: i64,
    key: String,
    value: String,
    link: String,
}

#[derive(Serialize, Deserialize)]
struct End {
    records: u64,
    link: String,
}

#[derive(Serialize, Deserialize)]
struct Trailer {
    end: End,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The chain link after `r`, given the previous one.
pub fn record_link(prev: &[u8; 32], r: &Record) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(r.partition.to_be_bytes());
    h.update(r.offset.to_be_bytes());
    h.update(r.timestamp_ms.to_be_bytes());
    h.update((r.key.len() as u32).to_be_bytes());
    h.update(&r.key);
    h.update((r.value.len() as u32).to_be_bytes());
    h.update(&r.value);
    h.finalize().into()
}

/// Writes an archive to `<path>.partial`, renamed to `path` once complete
/// and flushed: a crashed export leaves no file that looks whole.
pub struct ArchiveWriter {
    out: BufWriter<File>,
    path: PathBuf,
    partial: PathBuf,
    link: [u8; 32],
    records: u64,
    next: BTreeMap<u32, u64>,
    ranges: Vec<Range>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> SourceError + '_ {
    move |source| SourceError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl ArchiveWriter {
    pub fn create(path: &Path, header: &Header) -> Result<ArchiveWriter, SourceError> {
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = File::create(&partial).map_err(io(&partial))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let line = serde_json::to_string(header).expect("headers encode");
        writeln!(out, "{line}").map_err(io(&partial))?;
        Ok(ArchiveWriter {
            out,
            path: path.to_path_buf(),
            partial,
            link: Sha256::digest(line.as_bytes()).into(),
            records: 0,
            next: header
                .ranges
                .iter()
                .map(|r| (r.partition, r.start))
                .collect(),
            ranges: header.ranges.clone(),
        })
    }

    /// Appends one record; it must be the next offset of its partition.
    pub fn append(&mut self, r: &Record) -> Result<(), SourceError> {
        let next = self.next.get_mut(&r.partition).ok_or_else(|| {
            SourceError::Other(format!(
                "partition {} is not in the archive's ranges",
                r.partition
            ))
        })?;
        if r.offset != *next {
            return Err(SourceError::Other(format!(
                "partition {}: offset {} where {} was next",
                r.partition, r.offset, next
            )));
        }
        *next += 1;
        self.link = record_link(&self.link, r);
        self.records += 1;
        let line = Line {
            p: r.partition,
            o: r.offset,
            ts: r.timestamp_ms,
            key: B64.encode(&r.key),
            value: B64.encode(&r.value),
            link: hex(&self.link),
        };
        let line = serde_json::to_string(&line).expect("lines encode");
        writeln!(self.out, "{line}").map_err(io(&self.partial))
    }

    /// Closes the chain, flushes, and moves the file into place. Fails if a
    /// partition's range is not complete.
    pub fn finish(mut self) -> Result<u64, SourceError> {
        for r in &self.ranges {
            let at = self.next[&r.partition];
            if at != r.end {
                return Err(SourceError::Other(format!(
                    "partition {}: archive stops at offset {at}, its range ends at {}",
                    r.partition, r.end
                )));
            }
        }
        let trailer = Trailer {
            end: End {
                records: self.records,
                link: hex(&self.link),
            },
        };
        let line = serde_json::to_string(&trailer).expect("trailers encode");
        writeln!(self.out, "{line}").map_err(io(&self.partial))?;
        let file = self
            .out
            .into_inner()
            .map_err(|e| io(&self.partial)(e.into_error()))?;
        file.sync_all().map_err(io(&self.partial))?;
        std::fs::rename(&self.partial, &self.path).map_err(io(&self.path))?;
        Ok(self.records)
    }
}

/// Copies every record of `source` below the end offsets it reports now
/// into an archive at `path`; returns how many.
pub fn export(
    source: &mut dyn Source,
    topic: &str,
    path: &Path,
    mut progress: impl FnMut(u64),
) -> Result<u64, SourceError> {
    let ends: BTreeMap<u32, u64> = source.end_offsets()?.into_iter().collect();
    let partitions = source.partition_count();
    let ranges: Vec<Range> = (0..partitions)
        .map(|p| Range {
            partition: p,
            start: 0,
            end: ends.get(&p).copied().unwrap_or(0),
        })
        .collect();
    for r in &ranges {
        source.seek(r.partition, 0)?;
    }
    let header = Header {
        format: FORMAT.into(),
        version: VERSION,
        topic: topic.into(),
        partitions,
        ranges: ranges.clone(),
    };
    let mut w = ArchiveWriter::create(path, &header)?;
    let mut left: u64 = ranges.iter().map(|r| r.end).sum();
    let mut idle = 0;
    while left > 0 {
        let records = source.poll(8192, Duration::from_millis(200))?;
        if records.is_empty() {
            idle += 1;
            if idle > 150 {
                return Err(SourceError::Other(format!(
                    "the log stopped delivering with {left} records to go"
                )));
            }
            continue;
        }
        idle = 0;
        for r in records.iter().filter(|r| r.offset < ends[&r.partition]) {
            w.append(r)?;
            left -= 1;
        }
        progress(w.records);
    }
    w.finish()
}

/// Reads an archive, checking every line's link, as a [`Source`]: a broken
/// chain or a malformed line stops the read with an error naming the line.
pub struct ArchiveSource {
    lines: std::io::Lines<BufReader<File>>,
    path: PathBuf,
    header: Header,
    line_no: u64,
    link: [u8; 32],
    records: u64,
    /// The next offset each partition's lines must have.
    expect: BTreeMap<u32, u64>,
    /// Records below these offsets are skipped (the projector's seeks).
    from: BTreeMap<u32, u64>,
    ended: bool,
}

impl ArchiveSource {
    pub fn open(path: &Path) -> Result<ArchiveSource, SourceError> {
        let file = File::open(path).map_err(io(path))?;
        let mut lines = BufReader::with_capacity(1 << 20, file).lines();
        let bad = |line: u64, reason: String| {
            SourceError::Other(format!("archive {} line {line}: {reason}", path.display()))
        };
        let first = lines
            .next()
            .ok_or_else(|| bad(1, "empty file".into()))?
            .map_err(io(path))?;
        let header: Header =
            serde_json::from_str(&first).map_err(|e| bad(1, format!("header: {e}")))?;
        if header.format != FORMAT || header.version != VERSION {
            return Err(bad(
                1,
                format!(
                    "format {} version {} is not {FORMAT} version {VERSION}",
                    header.format, header.version
                ),
            ));
        }
        Ok(ArchiveSource {
            lines,
            path: path.to_path_buf(),
            link: Sha256::digest(first.as_bytes()).into(),
            expect: header
                .ranges
                .iter()
                .map(|r| (r.partition, r.start))
                .collect(),
            header,
            line_no: 1,
            records: 0,
            from: BTreeMap::new(),
            ended: false,
        })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    fn bad(&self, reason: String) -> SourceError {
        SourceError::Other(format!(
            "archive {} line {}: {reason}",
            self.path.display(),
            self.line_no
        ))
    }

    /// The next record, checked; `None` after the trailer.
    pub fn next_record(&mut self) -> Result<Option<Record>, SourceError> {
        if self.ended {
            return Ok(None);
        }
        let Some(text) = self.lines.next() else {
            return Err(self.bad("ends without its closing line: truncated".into()));
        };
        let text = text.map_err(io(&self.path))?;
        self.line_no += 1;
        if text.starts_with("{\"end\"") {
            let t: Trailer =
                serde_json::from_str(&text).map_err(|e| self.bad(format!("closing line: {e}")))?;
            if t.end.records != self.records || t.end.link != hex(&self.link) {
                return Err(self.bad(format!(
                    "closing line says {} records ending in link {}; the lines give {} ending in {}",
                    t.end.records,
                    t.end.link,
                    self.records,
                    hex(&self.link)
                )));
            }
            for r in &self.header.ranges {
                if self.expect[&r.partition] != r.end {
                    return Err(self.bad(format!(
                        "partition {} stops at offset {}, its range ends at {}",
                        r.partition, self.expect[&r.partition], r.end
                    )));
                }
            }
            self.ended = true;
            return Ok(None);
        }
        let line: Line =
            serde_json::from_str(&text).map_err(|e| self.bad(format!("record: {e}")))?;
        let field = |name: &str, v: &str| {
            B64.decode(v)
                .map_err(|e| format!("{name}: not base64: {e}"))
        };
        let record = Record {
            partition: line.p,
            offset: line.o,
            timestamp_ms: line.ts,
            key: field("key", &line.key).map_err(|e| self.bad(e))?,
            value: field("value", &line.value).map_err(|e| self.bad(e))?,
        };
        let place = format!("partition {} offset {}", line.p, line.o);
        let Some(expected) = self.expect.get(&line.p).copied() else {
            return Err(self.bad(format!("{place}: partition not in the header's ranges")));
        };
        let link = record_link(&self.link, &record);
        if hex(&link) != line.link {
            return Err(self.bad(format!(
                "{place}: link does not follow from the line before: this line, or one \
                 before it, was changed, removed or reordered"
            )));
        }
        if line.o != expected {
            return Err(self.bad(format!("{place}: offset {expected} was next")));
        }
        self.expect.insert(line.p, expected + 1);
        self.link = link;
        self.records += 1;
        Ok(Some(record))
    }

    /// Reads to the end, checking everything; the number of records.
    pub fn check(mut self) -> Result<u64, SourceError> {
        while self.next_record()?.is_some() {}
        Ok(self.records)
    }
}

impl Source for ArchiveSource {
    fn partition_count(&self) -> u32 {
        self.header.partitions
    }

    fn assigned(&self) -> Vec<u32> {
        (0..self.header.partitions).collect()
    }

    fn seek(&mut self, partition: u32, offset: u64) -> Result<(), SourceError> {
        if self.records > 0 {
            return Err(SourceError::Other(
                "an archive is read once, front to back: seek before the first poll".into(),
            ));
        }
        self.from.insert(partition, offset);
        Ok(())
    }

    fn poll(&mut self, max: usize, _wait: Duration) -> Result<Vec<Record>, SourceError> {
        let mut out = Vec::with_capacity(max.min(8192));
        while out.len() < max {
            match self.next_record()? {
                None => break,
                Some(r) if r.offset < self.from.get(&r.partition).copied().unwrap_or(0) => {}
                Some(r) => out.push(r),
            }
        }
        Ok(out)
    }

    fn end_offsets(&mut self) -> Result<Vec<(u32, u64)>, SourceError> {
        Ok(self
            .header
            .ranges
            .iter()
            .map(|r| (r.partition, r.end))
            .collect())
    }

    fn acknowledge(&mut self, _: &[(u32, u64)]) -> Result<(), SourceError> {
        Ok(())
    }
}
