//! The encodings MT102 files come in (`shared/reference/mt102.md`,
//! "Encodings"): UTF-8, CP866 (client programs), windows-1251 (after banks
//! re-code) and KZ-1048 (STRK 1048-2002, the only 8-bit one with every
//! Kazakh letter).
//!
//! IBM866 and windows-1251 are `encoding_rs`'s. No maintained crate carries
//! KZ-1048; it is windows-1251 with 16 positions given to the Kazakh letters
//! (the Unicode Consortium's `VENDORS/MISC/KZ1048.TXT`), so it is decoded as
//! windows-1251 and those 16 letters put back: [`KZ1048_OVER_CP1251`]. The
//! test suite checks all 256 bytes against Python's `kz1048` codec and
//! glibc's `RK1048`.

use serde::Serialize;
use std::fmt;

/// A file's character encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    #[serde(rename = "utf-8")]
    Utf8,
    Cp866,
    Cp1251,
    Kz1048,
}

impl Encoding {
    /// The name `--encoding` takes: `utf-8`, `cp866`, `cp1251`, `kz1048`.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Cp866 => "cp866",
            Encoding::Cp1251 => "cp1251",
            Encoding::Kz1048 => "kz1048",
        }
    }

    /// Parses an `--encoding` name (also `ibm866`, `windows-1251`,
    /// `kz-1048`, `rk1048`); `auto` is `None`.
    pub fn parse(s: &str) -> Result<Option<Encoding>, String> {
        Ok(Some(match s.to_ascii_lowercase().as_str() {
            "auto" => return Ok(None),
            "utf-8" | "utf8" => Encoding::Utf8,
            "cp866" | "ibm866" => Encoding::Cp866,
            "cp1251" | "windows-1251" => Encoding::Cp1251,
            "kz1048" | "kz-1048" | "rk1048" | "strk1048-2002" => Encoding::Kz1048,
            _ => {
                return Err(format!(
                    "unknown encoding {s:?}: give auto, utf-8, cp866, cp1251 or kz1048"
                ))
            }
        }))
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The 16 bytes where KZ-1048 differs from windows-1251, with the letter
/// KZ-1048 gives each (Unicode's `KZ1048.TXT`; STRK 1048-2002).
pub const KZ1048_OVER_CP1251: [(u8, char); 16] = [
    (0x8D, 'Қ'),
    (0x8E, 'Һ'),
    (0x9D, 'қ'),
    (0x9E, 'һ'),
    (0xA1, 'Ұ'),
    (0xA2, 'ұ'),
    (0xA3, 'Ә'),
    (0xA5, 'Ө'),
    (0xAA, 'Ғ'),
    (0xAF, 'Ү'),
    (0xB4, 'ө'),
    (0xBA, 'ғ'),
    (0xBC, 'ә'),
    (0xBD, 'Ң'),
    (0xBE, 'ң'),
    (0xBF, 'ү'),
];

/// A file's text and how it was read.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub text: String,
    pub encoding: Encoding,
    /// Why this encoding: given, or what `auto` saw.
    pub why: String,
}

/// Why a file could not be read as text; names the byte and its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Decodes `bytes` as `given`, or chooses (`None`, `--encoding auto`):
/// UTF-8 when the bytes are valid UTF-8 (a byte-order mark is dropped);
/// otherwise the one of CP866, windows-1251 and KZ-1048 that reads every
/// byte above 0x7F as a Russian or Kazakh letter or as `№ « » – —`; two
/// that both do (and read differently) leave the file undecided.
pub fn decode(bytes: &[u8], given: Option<Encoding>) -> Result<Decoded, DecodeError> {
    match given {
        Some(Encoding::Utf8) => utf8(bytes).map(|text| Decoded {
            text,
            encoding: Encoding::Utf8,
            why: "given (--encoding utf-8)".into(),
        }),
        Some(e) => Ok(Decoded {
            text: single_byte(bytes, e),
            encoding: e,
            why: format!("given (--encoding {e})"),
        }),
        None => auto(bytes),
    }
}

fn utf8(bytes: &[u8]) -> Result<String, DecodeError> {
    let body = bytes.strip_prefix(BOM).unwrap_or(bytes);
    match std::str::from_utf8(body) {
        Ok(s) => Ok(s.to_string()),
        Err(e) => {
            let at = e.valid_up_to() + (bytes.len() - body.len());
            Err(DecodeError(format!(
                "not UTF-8: byte 0x{:02X} at offset {at} (line {})",
                bytes[at],
                line_of(bytes, at)
            )))
        }
    }
}

fn single_byte(bytes: &[u8], e: Encoding) -> String {
    let enc = match e {
        Encoding::Cp866 => encoding_rs::IBM866,
        _ => encoding_rs::WINDOWS_1251,
    };
    // Single-byte encodings map every byte: no malformed sequences.
    let (text, _) = enc.decode_without_bom_handling(bytes);
    if e != Encoding::Kz1048 {
        return text.into_owned();
    }
    let over = kz1048_over_cp1251_chars();
    text.chars()
        .map(|c| over.iter().find(|(w, _)| *w == c).map_or(c, |(_, k)| *k))
        .collect()
}

/// [`KZ1048_OVER_CP1251`] as (windows-1251's letter, KZ-1048's letter).
fn kz1048_over_cp1251_chars() -> &'static [(char, char); 16] {
    static OVER: std::sync::OnceLock<[(char, char); 16]> = std::sync::OnceLock::new();
    OVER.get_or_init(|| {
        KZ1048_OVER_CP1251.map(|(b, k)| {
            let byte = [b];
            let (w, _) = encoding_rs::WINDOWS_1251.decode_without_bom_handling(&byte);
            (w.chars().next().expect("one byte, one character"), k)
        })
    })
}

/// The line (1-based) byte `at` is on.
fn line_of(bytes: &[u8], at: usize) -> usize {
    bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1
}

/// A letter a name or a purpose text in Russian or Kazakh is made of, or
/// punctuation such texts use.
fn plausible(c: char) -> bool {
    c.is_ascii()
        || matches!(
            c,
            'А'..='я' | 'Ё' | 'ё' | '№' | '«' | '»' | '–' | '—' | '\u{A0}'
        )
        || "ӘәҒғҚқҢңӨөҰұҮүҺһІі".contains(c)
}

/// The first byte a reading makes implausible: (offset, the character).
/// A byte's reading depends on its value alone, so each value above 0x7F
/// is judged once, at its first offset (`first`).
fn first_implausible(first: &[Option<usize>; 128], e: Encoding) -> Option<(usize, char)> {
    (0x80u8..=0xFF)
        .filter_map(|b| first[usize::from(b - 0x80)].map(|at| (at, b)))
        .filter_map(|(at, b)| {
            let c = single_byte(&[b], e)
                .chars()
                .next()
                .expect("one byte, one character");
            (!plausible(c)).then_some((at, c))
        })
        .min()
}

fn auto(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    if bytes.starts_with(BOM) {
        return utf8(bytes).map(|text| Decoded {
            text,
            encoding: Encoding::Utf8,
            why: "a UTF-8 byte-order mark".into(),
        });
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        let why = if s.is_ascii() {
            "ASCII only"
        } else {
            "valid UTF-8"
        };
        return Ok(Decoded {
            text: s.to_string(),
            encoding: Encoding::Utf8,
            why: why.into(),
        });
    }
    let at = |(i, c): (usize, char)| {
        format!(
            "byte 0x{:02X} at line {} would be {c:?}",
            bytes[i],
            line_of(bytes, i)
        )
    };
    let mut first = [None; 128];
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x80 && first[usize::from(b - 0x80)].is_none() {
            first[usize::from(b - 0x80)] = Some(i);
        }
    }
    let cp866 = first_implausible(&first, Encoding::Cp866);
    let cp1251 = first_implausible(&first, Encoding::Cp1251);
    let kz1048 = first_implausible(&first, Encoding::Kz1048);
    let differs = KZ1048_OVER_CP1251
        .iter()
        .any(|(b, _)| first[usize::from(b - 0x80)].is_some());
    let chosen = match (cp866, cp1251, kz1048) {
        (None, Some(w), Some(_)) => (
            Encoding::Cp866,
            format!("every byte is a CP866 letter; as windows-1251 {}", at(w)),
        ),
        (Some(d), None, None) if !differs => (
            Encoding::Cp1251,
            format!(
                "every byte is a windows-1251 letter (KZ-1048 reads it alike); as CP866 {}",
                at(d)
            ),
        ),
        (Some(_), Some(w), None) => (
            Encoding::Kz1048,
            format!(
                "Kazakh letters at bytes only KZ-1048 gives them; as windows-1251 {}",
                at(w)
            ),
        ),
        (Some(_), None, Some(k)) => (
            Encoding::Cp1251,
            format!("every byte is a windows-1251 letter; as KZ-1048 {}", at(k)),
        ),
        (d, w, k) => {
            let reading = |name: &str, r: Option<(usize, char)>| match r {
                Some(x) => format!("as {name} {}", at(x)),
                None => format!("{name} reads every byte as a letter"),
            };
            return Err(DecodeError(format!(
                "cannot tell the encoding: {}; {}; {}. Give --encoding",
                reading("CP866", d),
                reading("windows-1251", w),
                reading("KZ-1048", k)
            )));
        }
    };
    Ok(Decoded {
        text: single_byte(bytes, chosen.0),
        encoding: chosen.0,
        why: chosen.1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp866(s: &str) -> Vec<u8> {
        let (b, _, bad) = encoding_rs::IBM866.encode(s);
        assert!(!bad);
        b.into_owned()
    }

    #[test]
    fn auto_tells_the_encodings_apart_and_says_why() {
        let text = "/FM/СЕРИКОВА\n/NM/АЙГЕРИМ\n";
        let d = decode(&cp866(text), None).unwrap();
        assert_eq!((d.encoding, d.text.as_str()), (Encoding::Cp866, text));
        assert!(d.why.contains("CP866"), "{}", d.why);

        let (w, _, _) = encoding_rs::WINDOWS_1251.encode(text);
        let d = decode(&w, None).unwrap();
        assert_eq!((d.encoding, d.text.as_str()), (Encoding::Cp1251, text));

        // Ә (0xA3) and Қ (0x8D) are KZ-1048's; windows-1251 has Ј and Ќ there.
        let mut kz = b"/FM/".to_vec();
        kz.extend([0xA3, 0xCB, 0xC8, 0xCC, 0xCE, 0xC2, 0x8D]);
        let d = decode(&kz, None).unwrap();
        assert_eq!(
            (d.encoding, d.text.as_str()),
            (Encoding::Kz1048, "/FM/ӘЛИМОВҚ")
        );
        assert!(d.why.contains("Ј"), "{}", d.why);

        let d = decode("/FM/ӘЛІМОВ".as_bytes(), None).unwrap();
        assert_eq!(d.encoding, Encoding::Utf8);
        let mut bom = BOM.to_vec();
        bom.extend_from_slice(b"{1:");
        assert_eq!(decode(&bom, None).unwrap().text, "{1:");
    }

    #[test]
    fn a_file_no_reading_fits_is_refused_asking_for_the_encoding() {
        // 0xB0-0xB2 are box drawing in CP866 and ° ± І in windows-1251.
        let e = decode(b"/FM/\xB0\xB1", None).unwrap_err();
        assert!(e.0.contains("Give --encoding"), "{e}");
        assert!(e.0.contains("line 1"), "{e}");
        // A UTF-8 byte-order mark followed by bytes that are not UTF-8.
        let e = decode(b"\xEF\xBB\xBF{1:\n\xFF", None).unwrap_err();
        assert_eq!(e.0, "not UTF-8: byte 0xFF at offset 7 (line 2)");
    }

    #[test]
    fn kz1048_is_windows_1251_but_for_its_16_letters() {
        for b in 0u8..=255 {
            let w = single_byte(&[b], Encoding::Cp1251);
            let k = single_byte(&[b], Encoding::Kz1048);
            match KZ1048_OVER_CP1251.iter().find(|(x, _)| *x == b) {
                Some((_, c)) => assert_eq!(k, c.to_string()),
                None => assert_eq!(k, w, "byte 0x{b:02X}"),
            }
        }
    }
}
