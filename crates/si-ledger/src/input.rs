//! Reading the files people hand the ledger (calendars, parameters, refund
//! applications, auth files): UTF-8 text, a byte-order mark from a Windows
//! tool skipped, and a file that is not UTF-8 refused with the place of
//! the first bad byte.

use anyhow::{Context as _, Result};
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
