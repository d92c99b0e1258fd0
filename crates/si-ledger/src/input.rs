//! Reading the files people hand the ledger (calendars, parameters, refund
//! applications, auth files): UTF-8 text, a byte-order mark from a Windows
//! tool skipped, and a file that is not UTF-8 refused with the place of
//! the first bad byte.

use anyhow::{Context as _, Result};
use std::io::BufRead;
use std::path::Path;

/// The whole file as text.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let bytes = bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .map(<[u8]>::to_vec)
        .unwrap_or(bytes);
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
        anyhow::anyhow!(
            "{}: not UTF-8: byte 0x{:02X} on line {line} does not decode (saved as \
             Windows-1251 or another code page? save it as UTF-8)",
            path.display(),
            e.as_bytes()[at]
        )
    })
}

/// A lines input: the file, or standard input for `-`.
pub fn open_lines(file: &str) -> Result<Box<dyn std::io::BufRead>> {
    if file == "-" {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    let f = std::fs::File::open(file).with_context(|| format!("opening {file}"))?;
    Ok(Box::new(std::io::BufReader::new(f)))
}

/// The longest line `publish` reads: a record larger than this could not
/// be appended to a Kafka topic with default limits anyway.
pub const MAX_LINE: usize = 1 << 20;

/// Reads one line (without its `\n`) into `buf`, keeping at most `max`
/// bytes of it, so that a file without line ends cannot exhaust memory.
/// Returns the line's whole length, or `None` at the end of the input.
pub fn read_line(
    input: &mut impl BufRead,
    max: usize,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<usize>> {
    buf.clear();
    let mut len = 0usize;
    let mut any = false;
    loop {
        let available = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(any.then_some(len));
        }
        any = true;
        let (part, used, done) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (&available[..i], i + 1, true),
            None => (available, available.len(), false),
        };
        let room = max.saturating_sub(buf.len()).min(part.len());
        buf.extend_from_slice(&part[..room]);
        len = len.saturating_add(part.len());
        input.consume(used);
        if done {
            return Ok(Some(len));
        }
    }
}

/// One line of an input file as text: without its `\r` (files from
/// Windows end lines with CR LF) and, on the first line, without a UTF-8
/// byte-order mark. A line that is not UTF-8 is refused, naming the first
/// bad byte and the likely cause.
pub fn text_line(bytes: &[u8], first: bool) -> Result<&str, ledger_proto::LineError> {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    let bytes = match first {
        true => bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes),
        false => bytes,
    };
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        ledger_proto::LineError {
            field: "(line)".into(),
            reason: format!(
                "not UTF-8: byte 0x{:02X} at column {} does not decode (a file saved as \
                 Windows-1251 or another code page? save it as UTF-8)",
                bytes[at],
                at + 1
            ),
        }
    })
}
