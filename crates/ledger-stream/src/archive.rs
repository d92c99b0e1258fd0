//! The offline archive: a log's records with their original partition,
//! offset and timestamp, in one self-contained, hash-chained file that an
//! auditor replays with no Kafka. Specified in `docs/tamper-evidence.md`.
//!
//! JSON Lines. The first line is the header; then one line per record; the
//! last line closes the chain:
//!
//! ```text
//! {"format":"si-ledger-archive","version":1,"topic":"contributions","partitions":4}
//! {"p":0,"o":0,"ts":1767225600000,"key":"<base64>","value":"<base64>","link":"<hex>"}
//! …
//! {"end":{"records":480,"link":"<hex>","ranges":[{"partition":0,"start":0,"end":120}, …]}}
//! ```
//!
//! Each partition's records appear in offset order, every offset of its
//! range `[start, end)` once except those in the range's `gaps`;
//! partitions may interleave. A gap is a run of offsets that hold no
//! record a consumer sees: a transactional producer's commit and abort
//! markers and its aborted records (version 2; version 1 had no gaps).
//! The ranges close the file because an export learns where a topic ends
//! only by reading it (records may arrive past the end offsets it saw at
//! the start). `link` chains every line to the
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
pub const VERSION: u32 = 2;

/// One partition's offsets in an archive: `[start, end)`, less `gaps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub partition: u32,
    pub start: u64,
    pub end: u64,
    /// Offsets `[start, end)` of the log that hold no record a consumer
    /// sees (transaction markers, aborted records), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<Gap>,
}

/// Offsets `[start, end)` without a record (see [`Range::gaps`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    pub start: u64,
    pub end: u64,
}

impl Range {
    /// Why the gaps cannot be this range's: each must lie inside it, be
    /// non-empty, and come after the one before without overlapping.
    fn check_gaps(&self) -> Result<(), String> {
        let mut after = self.start;
        for g in &self.gaps {
            if g.start < after || g.end <= g.start || g.end > self.end {
                return Err(format!(
                    "partition {}: gap [{}, {}) is not inside [{}, {}) after the gap before it",
                    self.partition, g.start, g.end, self.start, self.end
                ));
            }
            after = g.end;
        }
        Ok(())
    }
}

/// A partition's records written so far.
#[derive(Debug, Clone, Default)]
struct Span {
    start: u64,
    next: u64,
    gaps: Vec<Gap>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    pub topic: String,
    pub partitions: u32,
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
    ranges: Vec<Range>,
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
    /// Per partition: the first offset written, the next one, the gaps.
    spans: BTreeMap<u32, Span>,
    partitions: u32,
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
            spans: BTreeMap::new(),
            partitions: header.partitions,
        })
    }

    /// The next offset of each partition written so far.
    pub fn next_offsets(&self) -> BTreeMap<u32, u64> {
        self.spans.iter().map(|(p, s)| (*p, s.next)).collect()
    }

    /// Records that the log has no record at offsets from `partition`'s
    /// next one up to `offset` (what a consumer's position passed after
    /// the last record: transaction markers, aborted records).
    pub fn skip_to(&mut self, partition: u32, offset: u64) {
        let span = self.spans.entry(partition).or_insert(Span {
            start: offset,
            next: offset,
            gaps: Vec::new(),
        });
        if offset > span.next {
            span.gaps.push(Gap {
                start: span.next,
                end: offset,
            });
            span.next = offset;
        }
    }

    /// Appends one record; after a partition's first, each must come
    /// after the one before (a jump is recorded as a gap).
    pub fn append(&mut self, r: &Record) -> Result<(), SourceError> {
        if r.partition >= self.partitions {
            return Err(SourceError::Other(format!(
                "partition {} of a log of {} partitions",
                r.partition, self.partitions
            )));
        }
        let span = self.spans.entry(r.partition).or_insert(Span {
            start: r.offset,
            next: r.offset,
            gaps: Vec::new(),
        });
        if r.offset < span.next {
            return Err(SourceError::Other(format!(
                "partition {}: offset {} where {} was next",
                r.partition, r.offset, span.next
            )));
        }
        if r.offset > span.next {
            span.gaps.push(Gap {
                start: span.next,
                end: r.offset,
            });
        }
        span.next = r.offset + 1;
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

    /// Closes the chain with every partition's range, flushes, and moves
    /// the file into place.
    pub fn finish(mut self) -> Result<u64, SourceError> {
        let ranges = (0..self.partitions)
            .map(|p| {
                let span = self.spans.remove(&p).unwrap_or_default();
                Range {
                    partition: p,
                    start: span.start,
                    end: span.next,
                    gaps: span.gaps,
                }
            })
            .collect();
        let trailer = Trailer {
            end: End {
                records: self.records,
                link: hex(&self.link),
                ranges,
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

/// Copies every record of `source` into an archive at `path`, up to the
/// end: past the end offsets the source reported at the start, and until a
/// poll finds nothing more. Returns how many.
///
/// When `stop` is set (a signal) it ends between polls with
/// [`SourceError::Stopped`], its partial file removed: no archive that
/// looks whole, nothing half written left behind.
pub fn export(
    source: &mut dyn Source,
    topic: &str,
    path: &Path,
    stop: &std::sync::atomic::AtomicBool,
    mut progress: impl FnMut(u64),
) -> Result<u64, SourceError> {
    let ends: BTreeMap<u32, u64> = source.end_offsets()?.into_iter().collect();
    let partitions = source.partition_count();
    for p in source.assigned() {
        source.seek(p, 0)?;
    }
    let header = Header {
        format: FORMAT.into(),
        version: VERSION,
        topic: topic.into(),
        partitions,
    };
    let mut w = ArchiveWriter::create(path, &header)?;
    let mut idle = 0;
    let mut told = None;
    loop {
        if stop.load(std::sync::atomic::Ordering::SeqCst) {
            let _ = std::fs::remove_file(&w.partial);
            return Err(SourceError::Stopped { records: w.records });
        }
        let records = source.poll(8192, Duration::from_millis(200))?;
        if records.is_empty() {
            // Past the last record, a consumer's position may pass
            // transaction markers: gaps up to it.
            for p in ends.keys() {
                if let Some(at) = source.position(*p) {
                    w.skip_to(*p, at);
                }
            }
            let next = w.next_offsets();
            let reached = ends
                .iter()
                .all(|(p, end)| next.get(p).copied().unwrap_or(0) >= *end);
            if reached {
                break;
            }
            idle += 1;
            // A transaction still open holds a partition back: wait for it
            // (the broker ends it), saying so every 30 s; only a log that
            // stops delivering with nothing holding it is an error. Asked
            // every 5 s of waiting.
            if idle % 25 == 0 {
                let held: Vec<crate::Held> = ends
                    .iter()
                    .filter(|(p, end)| next.get(p).copied().unwrap_or(0) < **end)
                    .filter_map(|(p, _)| source.held(*p))
                    .collect();
                if !held.is_empty() {
                    idle = 0;
                    if told
                        .is_none_or(|t: std::time::Instant| t.elapsed() >= Duration::from_secs(30))
                    {
                        for h in &held {
                            tracing::warn!("export waits: {h}");
                        }
                        told = Some(std::time::Instant::now());
                    }
                }
            }
            if idle > 150 {
                return Err(SourceError::Other(format!(
                    "the log stopped delivering short of its end offsets {ends:?} \
                     (reached {next:?})"
                )));
            }
            continue;
        }
        idle = 0;
        for r in &records {
            w.append(r)?;
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
    /// Each partition's range, from the closing line.
    ranges: Vec<Range>,
    /// Per partition, the index of its first gap not yet passed.
    next_gap: BTreeMap<u32, usize>,
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
        if header.format != FORMAT || !(1..=VERSION).contains(&header.version) {
            return Err(bad(
                1,
                format!(
                    "format {} version {} is not {FORMAT} version 1 to {VERSION}",
                    header.format, header.version
                ),
            ));
        }
        let ranges = closing_ranges(path)?;
        for r in &ranges {
            if header.version < 2 && !r.gaps.is_empty() {
                return Err(bad(1, "a version 1 archive has no gaps".into()));
            }
            r.check_gaps()
                .map_err(|e| bad(1, format!("closing line: {e}")))?;
        }
        Ok(ArchiveSource {
            lines,
            path: path.to_path_buf(),
            link: Sha256::digest(first.as_bytes()).into(),
            expect: ranges.iter().map(|r| (r.partition, r.start)).collect(),
            next_gap: ranges.iter().map(|r| (r.partition, 0)).collect(),
            ranges,
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
            if t.end.ranges != self.ranges {
                return Err(self.bad("closing line differs from the one read at open".into()));
            }
            if t.end.records != self.records || t.end.link != hex(&self.link) {
                return Err(self.bad(format!(
                    "closing line says {} records ending in link {}; the lines give {} ending in {}",
                    t.end.records,
                    t.end.link,
                    self.records,
                    hex(&self.link)
                )));
            }
            for r in &self.ranges {
                if self.past_gaps(r.partition, self.expect[&r.partition]) != r.end {
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
            return Err(self.bad(format!(
                "{place}: partition not in the closing line's ranges"
            )));
        };
        let expected = self.pass_gaps(line.p, expected);
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

    /// `at`, or the end of `partition`'s gaps that start there (the gaps
    /// are checked sorted at open; each is passed once).
    fn past_gaps(&self, partition: u32, mut at: u64) -> u64 {
        let (Some(r), Some(&i)) = (
            self.ranges.iter().find(|r| r.partition == partition),
            self.next_gap.get(&partition),
        ) else {
            return at;
        };
        for g in &r.gaps[i..] {
            if g.start != at {
                break;
            }
            at = g.end;
        }
        at
    }

    /// [`past_gaps`](Self::past_gaps), moving past them for good.
    fn pass_gaps(&mut self, partition: u32, at: u64) -> u64 {
        let to = self.past_gaps(partition, at);
        if to != at {
            if let (Some(r), Some(i)) = (
                self.ranges.iter().find(|r| r.partition == partition),
                self.next_gap.get_mut(&partition),
            ) {
                while r.gaps.get(*i).is_some_and(|g| g.end <= to) {
                    *i += 1;
                }
            }
        }
        to
    }

    /// Reads to the end, checking everything; the number of records.
    pub fn check(mut self) -> Result<u64, SourceError> {
        while self.next_record()?.is_some() {}
        Ok(self.records)
    }
}

/// The ranges on an archive's closing line, read from the file's end.
fn closing_ranges(path: &Path) -> Result<Vec<Range>, SourceError> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(path).map_err(io(path))?;
    let len = f.metadata().map_err(io(path))?.len();
    let mut tail_len = 1u64 << 16;
    loop {
        let from = len.saturating_sub(tail_len);
        f.seek(SeekFrom::Start(from)).map_err(io(path))?;
        let mut tail = Vec::new();
        f.read_to_end(&mut tail).map_err(io(path))?;
        let text = String::from_utf8_lossy(&tail);
        let trimmed = text.trim_end_matches('\n');
        let last = match trimmed.rfind('\n') {
            Some(i) => &trimmed[i + 1..],
            None if from == 0 => trimmed,
            None => {
                tail_len *= 4;
                continue;
            }
        };
        return match serde_json::from_str::<Trailer>(last) {
            Ok(t) => Ok(t.end.ranges),
            Err(e) => Err(SourceError::Other(format!(
                "archive {}: the last line is not the closing line (truncated?): {e}",
                path.display()
            ))),
        };
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
        Ok(self.ranges.iter().map(|r| (r.partition, r.end)).collect())
    }

    fn acknowledge(&mut self, _: &[(u32, u64)]) -> Result<(), SourceError> {
        Ok(())
    }

    /// The next offset past the gaps the archive records.
    fn position(&mut self, partition: u32) -> Option<u64> {
        let at = self.expect.get(&partition).copied()?;
        Some(self.past_gaps(partition, at))
    }
}
