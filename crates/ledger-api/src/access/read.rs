//! Reading the access log back: the whole of it ([`read`], for the CLI),
//! a page from a byte cursor ([`page`], for the API), and its chain walked
//! ([`verify`]). A line that is not a record is reported with its place
//! and the reading goes on: one bad line never hides the others.

use super::{hex, AccessRecord};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// The longest line read as a record (records are a few hundred bytes); a
/// longer one is reported unread, never held in memory whole.
pub const MAX_LINE_BYTES: usize = 64 << 10;

/// What a last line without its line feed is.
const TORN: &str = "no line feed at its end: a record being written, or one that a crash or \
                    a full disk cut short (never acknowledged; the server cuts it off when it \
                    next starts)";

/// A line that holds no record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    /// Its number, from 1 (a page read from a cursor does not count lines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Its first byte's offset in the file.
    pub offset: u64,
    pub error: String,
}

/// The whole log as read: its records, oldest first, and the lines that
/// hold none.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub records: Vec<AccessRecord>,
    pub unreadable: Vec<Unreadable>,
    /// A last line without its line feed.
    pub torn: Option<Unreadable>,
}

/// Reads the next line of `r` into `buf` (without its line feed; at most
/// [`MAX_LINE_BYTES`] + 1 bytes of it kept), feeding all of it to
/// `hasher`; returns the bytes consumed and whether a line feed ended it.
fn next_line<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    mut hasher: Option<&mut Sha256>,
) -> std::io::Result<(u64, bool)> {
    buf.clear();
    let mut consumed = 0u64;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok((consumed, false));
        }
        let newline = chunk.iter().position(|&b| b == b'\n');
        let content = &chunk[..newline.unwrap_or(chunk.len())];
        if let Some(h) = hasher.as_deref_mut() {
            h.update(content);
        }
        let room = (MAX_LINE_BYTES + 1).saturating_sub(buf.len());
        buf.extend_from_slice(&content[..content.len().min(room)]);
        let take = newline.map_or(chunk.len(), |i| i + 1);
        r.consume(take);
        consumed += take as u64;
        if newline.is_some() {
            return Ok((consumed, true));
        }
    }
}

/// The record a line holds, or why it holds none.
fn parse_line(line: &[u8]) -> Result<AccessRecord, String> {
    if line.len() > MAX_LINE_BYTES {
        return Err(format!(
            "longer than {MAX_LINE_BYTES} bytes: not an access record"
        ));
    }
    if line.iter().all(u8::is_ascii_whitespace) {
        return Err("an empty line".into());
    }
    serde_json::from_slice(line).map_err(|e| {
        // A record is one line: serde's "line 1" would read as the log's.
        let why = e.to_string().replace(" at line 1 column ", " at column ");
        format!("not an access record: {why}")
    })
}

fn open(path: &Path) -> Result<Option<File>, String> {
    match File::open(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Every record of the log at `path`, oldest first, and every line that
/// holds none, by number (nothing for a log that does not exist).
pub fn read(path: &Path) -> Result<Listing, String> {
    let mut listing = Listing::default();
    let Some(file) = open(path)? else {
        return Ok(listing);
    };
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let (mut n, mut at) = (0u64, 0u64);
    loop {
        let (consumed, complete) = next_line(&mut reader, &mut buf, None)
            .map_err(|e| format!("{} at byte {at}: {e}", path.display()))?;
        if consumed == 0 {
            break;
        }
        n += 1;
        if !complete {
            listing.torn = Some(Unreadable {
                line: Some(n),
                offset: at,
                error: TORN.into(),
            });
            break;
        }
        match parse_line(&buf) {
            Ok(r) => listing.records.push(r),
            Err(error) => listing.unreadable.push(Unreadable {
                line: Some(n),
                offset: at,
                error,
            }),
        }
        at += consumed;
    }
    Ok(listing)
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

/// One page of the log: the records kept, the lines read that hold no
/// record (by byte offset, whatever the filter), and where the next page
/// starts (a byte offset in the file), if the file goes on.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub records: Vec<AccessRecord>,
    pub unreadable: Vec<Unreadable>,
    pub next_cursor: Option<u64>,
}

/// Bytes one page reads at most, whatever the filter keeps: a page costs
/// the same on a log of ten records or ten million.
pub const PAGE_SCAN_BYTES: u64 = 16 << 20;

/// Up to `limit` records kept by `filter`, reading from byte `cursor` of
/// the log at `path` (0: its start), at most [`PAGE_SCAN_BYTES`] of it.
pub fn page(path: &Path, cursor: u64, limit: usize, filter: &Filter) -> Result<Page, String> {
    let mut page = Page {
        records: Vec::new(),
        unreadable: Vec::new(),
        next_cursor: None,
    };
    let Some(mut file) = open(path)? else {
        return Ok(page);
    };
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    let len = file.metadata().map_err(io)?.len();
    // Any cursor is a place in the file: past the end, an empty page; in
    // the middle of a record, the page starts at the next one.
    let cursor = cursor.min(len);
    let mut at = cursor;
    let mut line_start = cursor == 0;
    if !line_start {
        let mut before = [0u8; 1];
        file.seek(SeekFrom::Start(cursor - 1)).map_err(io)?;
        file.read_exact(&mut before).map_err(io)?;
        line_start = before[0] == b'\n';
    }
    file.seek(SeekFrom::Start(cursor)).map_err(io)?;
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    if !line_start {
        at += next_line(&mut reader, &mut line, None).map_err(io)?.0;
    }
    let cursor = at;
    while page.records.len() < limit && at - cursor < PAGE_SCAN_BYTES {
        let (n, complete) = next_line(&mut reader, &mut line, None).map_err(io)?;
        if n == 0 || !complete {
            // The end, or a record still being written: the next page
            // starts before it.
            break;
        }
        match parse_line(&line) {
            Ok(r) if filter.keeps(&r) => page.records.push(r),
            Ok(_) => {}
            Err(error) => page.unreadable.push(Unreadable {
                line: None,
                offset: at,
                error,
            }),
        }
        at += n;
    }
    page.next_cursor = (at < len).then_some(at);
    Ok(page)
}

/// A place where the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub line: u64,
    pub offset: u64,
    /// What is wrong there, and what could have made it so.
    pub what: String,
}

/// The access log's chain walked from its first line.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Whole lines (each ended by a line feed).
    pub lines: u64,
    /// Records from before the chain began (no `prev`), from line 1: the
    /// chain does not cover them, though the first chained record commits
    /// to the last of them.
    pub before_chain: u64,
    /// Records whose `prev` is the hash of the line before them.
    pub chained: u64,
    /// The hash of the last whole line: the next record's `prev`. Noted
    /// down, it shows records later removed from the end, which no link
    /// can.
    pub head: String,
    pub breaks: Vec<Break>,
    /// A last line without its line feed (not part of the chain).
    pub torn: Option<Unreadable>,
}

/// Walks the chain of the log at `path`: each line's `prev` must be the
/// hash of the line before (the genesis value on line 1). Names each line
/// where it does not hold; a line that is no record is a break too.
pub fn verify(path: &Path) -> Result<Verified, String> {
    let mut v = Verified {
        lines: 0,
        before_chain: 0,
        chained: 0,
        head: hex(&[0; 32]),
        breaks: Vec::new(),
        torn: None,
    };
    let Some(file) = open(path)? else {
        return Ok(v);
    };
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    // The hashes of the last line and of the one before it.
    let (mut last, mut before_last) = ([0u8; 32], None::<[u8; 32]>);
    let mut began = None::<u64>;
    let mut at = 0u64;
    loop {
        let mut hasher = Sha256::new();
        let (consumed, complete) = next_line(&mut reader, &mut buf, Some(&mut hasher))
            .map_err(|e| format!("{} at byte {at}: {e}", path.display()))?;
        if consumed == 0 {
            break;
        }
        if !complete {
            v.torn = Some(Unreadable {
                line: Some(v.lines + 1),
                offset: at,
                error: TORN.into(),
            });
            break;
        }
        v.lines += 1;
        let n = v.lines;
        let broken = |what: String| Break {
            line: n,
            offset: at,
            what,
        };
        match parse_line(&buf) {
            Err(e) => v.breaks.push(broken(e)),
            Ok(r) => match (r.prev, began) {
                (None, None) => v.before_chain += 1,
                (None, Some(first)) => v.breaks.push(broken(format!(
                    "no chain link (prev), after the chain began on line {first}: a record \
                     inserted, or written by a server from before the chain"
                ))),
                (Some(prev), _) => {
                    began.get_or_insert(n);
                    if prev == hex(&last) {
                        v.chained += 1;
                    } else {
                        v.breaks.push(broken(unlinked(n, &prev, before_last)));
                    }
                }
            },
        }
        before_last = Some(last);
        last = hasher.finalize().into();
        at += consumed;
    }
    v.head = hex(&last);
    Ok(v)
}

/// Why line `n`, whose `prev` is not the hash of line `n - 1`, may be so.
fn unlinked(n: u64, prev: &str, before_last: Option<[u8; 32]>) -> String {
    if n == 1 {
        return "the first line's prev is not the genesis value: lines before it were removed"
            .into();
    }
    if before_last.is_some_and(|h| prev == hex(&h)) {
        let inserted = n - 1;
        return format!(
            "follows line {}, not line {inserted}: line {inserted} was inserted or moved here",
            n - 2
        );
    }
    if prev == hex(&[0; 32]) {
        return format!(
            "starts a chain of its own (its prev is the genesis value): lines 1-{} are not \
             of its chain",
            n - 1
        );
    }
    format!(
        "does not follow line {} (its prev is not that line's hash): line {} was edited, or \
         lines were removed, inserted or moved between them",
        n - 1,
        n - 1
    )
}

#[cfg(test)]
mod tests {
    use super::super::tests::record;
    use super::*;

    /// `n` chained lines, as the writer makes them (computed here from the
    /// format's definition, not by the writer).
    fn chained(whos: &[&str]) -> Vec<String> {
        let mut prev = "0".repeat(64);
        whos.iter()
            .map(|who| {
                let mut r = record(who);
                r.prev = Some(prev.clone());
                let line = serde_json::to_string(&r).unwrap();
                prev = Sha256::digest(line.as_bytes())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                line
            })
            .collect()
    }

    fn file(dir: &tempfile::TempDir, lines: &[String]) -> std::path::PathBuf {
        let path = dir.path().join("access-log.jsonl");
        std::fs::write(
            &path,
            lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap();
        path
    }

    fn breaks(lines: &[String]) -> Vec<(u64, String)> {
        let dir = tempfile::tempdir().unwrap();
        let v = verify(&file(&dir, lines)).unwrap();
        v.breaks.into_iter().map(|b| (b.line, b.what)).collect()
    }

    #[test]
    fn bad_lines_are_named_and_reading_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let good = chained(&["a", "b", "c"]);
        let path = dir.path().join("log");
        let mut bytes = Vec::new();
        bytes.extend_from_slice(format!("{}\n", good[0]).as_bytes());
        bytes.extend_from_slice(
            b"{\"at\":\"2026-12-06T09:03:00.000Z\",\"who\":\"x\",\"role\":\"aud",
        );
        bytes.extend_from_slice(format!("{}\n", good[1]).as_bytes());
        bytes.extend_from_slice(b"\xff\xfe not text\n\n");
        bytes.extend_from_slice(&vec![b'x'; MAX_LINE_BYTES + 10]);
        bytes.extend_from_slice(format!("\n{}\n{{\"at\":", good[2]).as_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let listing = read(&path).unwrap();
        let who: Vec<&str> = listing.records.iter().map(|r| r.who.as_str()).collect();
        assert_eq!(who, ["a", "c"]);
        let bad: Vec<(Option<u64>, &str)> = listing
            .unreadable
            .iter()
            .map(|u| (u.line, u.error.as_str()))
            .collect();
        assert_eq!(bad.len(), 4, "{bad:?}");
        assert_eq!(bad[0].0, Some(2));
        assert!(bad[0].1.starts_with("not an access record: "), "{bad:?}");
        assert!(!bad[0].1.contains("line 1"), "{bad:?}");
        assert_eq!(bad[1].0, Some(3));
        assert_eq!(bad[2], (Some(4), "an empty line"));
        assert_eq!(bad[3].0, Some(5));
        assert!(bad[3].1.starts_with("longer than"), "{bad:?}");
        let torn = listing.torn.expect("the torn tail");
        assert_eq!((torn.line, torn.offset), (Some(7), bytes.len() as u64 - 6));
        // A page reads past them too, naming each by offset.
        let p = page(&path, 0, 100, &Filter::default()).unwrap();
        assert_eq!(p.records.len(), 2);
        let offsets: Vec<u64> = p.unreadable.iter().map(|u| u.offset).collect();
        assert_eq!(
            offsets,
            listing
                .unreadable
                .iter()
                .map(|u| u.offset)
                .collect::<Vec<_>>()
        );
        assert!(p.unreadable.iter().all(|u| u.line.is_none()));
        assert_eq!(p.next_cursor, Some(torn.offset));
    }

    #[test]
    fn an_intact_chain_verifies_and_old_records_are_counted_apart() {
        let dir = tempfile::tempdir().unwrap();
        let lines = chained(&["a", "b", "c"]);
        let v = verify(&file(&dir, &lines)).unwrap();
        assert_eq!((v.lines, v.before_chain, v.chained), (3, 0, 3));
        assert!(v.breaks.is_empty(), "{:?}", v.breaks);
        let last: String = Sha256::digest(lines[2].as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(v.head, last);
        // Two records from before the chain, then a chain that begins by
        // committing to the last of them.
        let old: Vec<String> = ["o1", "o2"]
            .iter()
            .map(|w| serde_json::to_string(&record(w)).unwrap())
            .collect();
        let mut r = record("new");
        r.prev = Some(
            Sha256::digest(old[1].as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        );
        let mut all = old.clone();
        all.push(serde_json::to_string(&r).unwrap());
        let v = verify(&file(&dir, &all)).unwrap();
        assert_eq!((v.lines, v.before_chain, v.chained), (3, 2, 1));
        assert!(v.breaks.is_empty(), "{:?}", v.breaks);
    }

    #[test]
    fn a_removed_record_is_named() {
        let mut lines = chained(&["a", "b", "c", "d"]);
        lines.remove(1);
        let b = breaks(&lines);
        assert_eq!(b.len(), 1, "{b:?}");
        assert_eq!(b[0].0, 2);
        assert!(b[0].1.contains("does not follow line 1"), "{b:?}");
        // The first ones removed: line 1 no longer starts the chain.
        let lines = chained(&["a", "b", "c"]);
        let b = breaks(&lines[1..]);
        assert_eq!(b.len(), 1, "{b:?}");
        assert_eq!(b[0].0, 1);
        assert!(b[0].1.contains("lines before it were removed"), "{b:?}");
    }

    #[test]
    fn an_edited_record_is_named_by_the_line_after_it() {
        let mut lines = chained(&["a", "b", "c"]);
        lines[1] = lines[1].replace("900517400451", "900517400452");
        let b = breaks(&lines);
        assert_eq!(b.len(), 1, "{b:?}");
        assert_eq!(b[0].0, 3);
        assert!(b[0].1.contains("line 2 was edited"), "{b:?}");
        // The last line edited is its own record: its link still holds, and
        // only the head (noted down earlier) shows it.
        let dir = tempfile::tempdir().unwrap();
        let before = verify(&file(&dir, &chained(&["a", "b"]))).unwrap().head;
        let mut lines = chained(&["a", "b"]);
        lines[1] = lines[1].replace("\"b\"", "\"z\"");
        let after = verify(&file(&dir, &lines)).unwrap();
        assert!(after.breaks.is_empty());
        assert_ne!(after.head, before);
    }

    #[test]
    fn reordered_and_inserted_records_are_named() {
        let mut lines = chained(&["a", "b", "c", "d"]);
        lines.swap(1, 2);
        let b: Vec<u64> = breaks(&lines).into_iter().map(|(n, _)| n).collect();
        assert_eq!(b, [2, 3, 4]);
        let mut lines = chained(&["a", "b", "c"]);
        let forged = {
            let mut r = record("forged");
            r.prev = record("a").prev;
            serde_json::to_string(&r).unwrap()
        };
        lines.insert(1, forged);
        let b = breaks(&lines);
        assert_eq!(b.len(), 2, "{b:?}");
        assert_eq!(b[0].0, 2);
        assert!(b[0].1.contains("no chain link"), "{b:?}");
        assert_eq!(b[1].0, 3);
        assert!(b[1].1.contains("line 2 was inserted"), "{b:?}");
        // A forged record linked to the one before it: the next one names it.
        let mut lines = chained(&["a", "b", "c"]);
        let mut r = record("forged");
        r.prev = Some(
            Sha256::digest(lines[0].as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        );
        lines.insert(1, serde_json::to_string(&r).unwrap());
        let b = breaks(&lines);
        assert_eq!(b.len(), 1, "{b:?}");
        assert_eq!(b[0].0, 3);
        assert!(b[0].1.contains("line 2 was inserted"), "{b:?}");
        // A line that is no record breaks the chain where it stands.
        let mut lines = chained(&["a", "b"]);
        lines.insert(1, "garbage".into());
        let b: Vec<u64> = breaks(&lines).into_iter().map(|(n, _)| n).collect();
        assert_eq!(b, [2, 3]);
    }

    #[test]
    fn a_torn_tail_is_no_break() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(&dir, &chained(&["a"]));
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"{\"at\":");
        std::fs::write(&path, &bytes).unwrap();
        let v = verify(&path).unwrap();
        assert!(v.breaks.is_empty());
        assert_eq!(v.torn.map(|t| t.line), Some(Some(2)));
    }
}
