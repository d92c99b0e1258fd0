//! Twelve-digit identifiers: the IIN of a person and the BIN of a legal
//! entity, with the check digit of DOMAIN.md §2 (seeds `000_…`, `001_…`).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a string is not a 12-digit identifier with a valid check digit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must be exactly 12 digits, got {0} characters")]
    Length(usize),
    #[error("must contain only digits 0-9")]
    NotDigits,
    #[error("check digit does not match (expected {expected}, found {found})")]
    CheckDigit { expected: u8, found: u8 },
    #[error("no valid check digit exists for these 11 digits (never issued)")]
    NeverIssued,
    #[error("5th digit {0} is not a BIN entity type (4-6): this is not a BIN")]
    NotBin(u8),
}

/// The check digit over the first 11 digits, or `None` when both weightings
/// give 10 (such numbers are never issued). DOMAIN.md §2.
pub fn check_digit(d: &[u8; 12]) -> Option<u8> {
    const W1: [u32; 11] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    const W2: [u32; 11] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];
    let sum = |w: &[u32; 11]| (0..11).map(|i| u32::from(d[i]) * w[i]).sum::<u32>() % 11;
    match sum(&W1) {
        10 => match sum(&W2) {
            10 => None,
            c => Some(c as u8),
        },
        c => Some(c as u8),
    }
}

fn digits(s: &str) -> Result<[u8; 12], IdError> {
    let b = s.as_bytes();
    if b.len() != 12 {
        return Err(IdError::Length(s.chars().count()));
    }
    let mut d = [0u8; 12];
    for (i, c) in b.iter().enumerate() {
        if !c.is_ascii_digit() {
            return Err(IdError::NotDigits);
        }
        d[i] = c - b'0';
    }
    match check_digit(&d) {
        None => Err(IdError::NeverIssued),
        Some(c) if c != d[11] => Err(IdError::CheckDigit {
            expected: c,
            found: d[11],
        }),
        Some(_) => Ok(d),
    }
}

fn to_ascii(d: &[u8; 12]) -> [u8; 12] {
    d.map(|x| x + b'0')
}

/// Completes 11 digits with their check digit, if one exists.
fn complete(mut d: [u8; 12]) -> Option<[u8; 12]> {
    d[11] = check_digit(&d)?;
    Some(d)
}

/// Completes the first 11 digits of `s` (ASCII digits) with their check
/// digit, as ASCII, if one exists.
fn complete_str(s: &str) -> Option<[u8; 12]> {
    let mut d = [0u8; 12];
    for (i, b) in s.bytes().take(11).enumerate() {
        d[i] = b - b'0';
    }
    complete(d).map(|d| to_ascii(&d))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sex {
    #[serde(rename = "M")]
    Male,
    #[serde(rename = "F")]
    Female,
}

impl Sex {
    pub fn code(self) -> &'static str {
        match self {
            Sex::Male => "M",
            Sex::Female => "F",
        }
    }
}

/// A person's individual identification number. Twelve ASCII digits, check
/// digit verified; never a number type, since leading zeros are real digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Iin([u8; 12]);

/// What the digits of an IIN say, with warnings where they do not follow the
/// scheme (foreigners' and historical numbers have exceptions, so these never
/// make the IIN invalid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IinInfo {
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<Sex>,
    pub warnings: Vec<String>,
}

impl Iin {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        digits(s).map(|d| Iin(to_ascii(&d)))
    }

    pub fn as_str(&self) -> &str {
        // Constructed from ASCII digits only.
        std::str::from_utf8(&self.0).expect("ascii digits")
    }

    pub fn as_bytes(&self) -> &[u8; 12] {
        &self.0
    }

    fn digit(&self, i: usize) -> u8 {
        self.0[i] - b'0'
    }

    /// Decodes birth date and sex from digits 1-7 (DOMAIN.md §2).
    pub fn info(&self) -> IinInfo {
        let mut warnings = Vec::new();
        let c = self.digit(6);
        let (century, sex) = match c {
            1 | 2 => (
                Some(1800),
                Some(if c == 1 { Sex::Male } else { Sex::Female }),
            ),
            3 | 4 => (
                Some(1900),
                Some(if c == 3 { Sex::Male } else { Sex::Female }),
            ),
            5 | 6 => (
                Some(2000),
                Some(if c == 5 { Sex::Male } else { Sex::Female }),
            ),
            _ => {
                warnings.push(format!("7th digit {c} is not a century/sex code (1-6)"));
                (None, None)
            }
        };
        let yy = i32::from(self.digit(0) * 10 + self.digit(1));
        let mm = u32::from(self.digit(2) * 10 + self.digit(3));
        let dd = u32::from(self.digit(4) * 10 + self.digit(5));
        let birth_date = century.and_then(|cent| {
            let d = NaiveDate::from_ymd_opt(cent + yy, mm, dd);
            if d.is_none() {
                warnings.push(format!(
                    "digits 1-6 ({}) are not a valid birth date",
                    &self.as_str()[..6]
                ));
            }
            d
        });
        IinInfo {
            birth_date,
            sex,
            warnings,
        }
    }

    /// The birth date the IIN encodes, when it encodes a valid one.
    pub fn birth_date(&self) -> Option<NaiveDate> {
        self.info().birth_date
    }

    /// Builds a synthetic IIN for `birth` and `sex` with the given 4-digit
    /// serial, or `None` when that serial has no valid check digit (try the
    /// next). Used for test fixtures and the demo: never real people.
    pub fn generate(birth: NaiveDate, sex: Sex, serial: u16) -> Option<Iin> {
        use chrono::Datelike;
        let year = birth.year();
        let c = match (year / 100, sex) {
            (18, Sex::Male) => 1,
            (18, Sex::Female) => 2,
            (19, Sex::Male) => 3,
            (19, Sex::Female) => 4,
            (20, Sex::Male) => 5,
            (20, Sex::Female) => 6,
            _ => return None,
        };
        if serial > 9999 {
            return None;
        }
        let s = format!(
            "{:02}{:02}{:02}{}{:04}",
            year % 100,
            birth.month(),
            birth.day(),
            c,
            serial
        );
        complete_str(&s).map(Iin)
    }

    /// The IIN with its serial and check digits hidden, for logs and errors:
    /// personal data never appears unmasked there.
    pub fn masked(&self) -> String {
        mask_id(self.as_str())
    }
}

/// Masks a 12-character identifier to its first four and last two characters
/// (`8710******27`); anything else is masked whole.
pub fn mask_id(s: &str) -> String {
    if s.len() == 12 && s.is_ascii() {
        format!("{}******{}", &s[..4], &s[10..])
    } else {
        "*".repeat(s.chars().count().min(12))
    }
}

impl fmt::Display for Iin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Debug is masked so that an IIN in a `{:?}` log line leaks nothing.
impl fmt::Debug for Iin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Iin({})", self.masked())
    }
}

impl std::str::FromStr for Iin {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Iin::parse(s)
    }
}

impl Serialize for Iin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Iin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Iin;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a 12-digit IIN")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Iin, E> {
                Iin::parse(s).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// Whose payment it was: a legal entity's BIN or an individual
/// entrepreneur's IIN (DOMAIN.md §2). Same length and check digit; the 5th
/// digit tells them apart (a BIN's entity type 4-6 can never be a day's tens).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PayerId(#[serde(with = "payer_serde")] [u8; 12]);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IdKind {
    Iin,
    Bin,
}

impl PayerId {
    /// The least payer id in order: where a range over payers starts.
    pub const MIN: PayerId = PayerId(*b"000000000000");

    pub fn parse(s: &str) -> Result<Self, IdError> {
        digits(s).map(|d| PayerId(to_ascii(&d)))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ascii digits")
    }

    pub fn kind(&self) -> IdKind {
        id_kind(&self.0)
    }
}

/// A legal entity's business identification number (DOMAIN.md §2): the
/// IIN's length and check digit, with an entity type of 4-6 in the 5th digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bin([u8; 12]);

impl Bin {
    pub fn parse(s: &str) -> Result<Bin, IdError> {
        let ascii = to_ascii(&digits(s)?);
        match id_kind(&ascii) {
            IdKind::Bin => Ok(Bin(ascii)),
            IdKind::Iin => Err(IdError::NotBin(ascii[4] - b'0')),
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ascii digits")
    }

    /// Builds a synthetic BIN registered in year `yy`, month `mm`, of a
    /// resident legal entity's head office, with the given serial; `None` if
    /// no check digit fits. For fixtures and the demo only.
    pub fn generate(yy: u8, mm: u8, serial: u32) -> Option<Bin> {
        complete_str(&format!(
            "{:02}{:02}40{:05}",
            yy % 100,
            mm,
            serial % 100_000
        ))
        .map(Bin)
    }
}

impl fmt::Display for Bin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Bin> for PayerId {
    fn from(b: Bin) -> Self {
        PayerId(b.0)
    }
}

fn id_kind(ascii: &[u8; 12]) -> IdKind {
    if ascii[4] >= b'4' {
        IdKind::Bin
    } else {
        IdKind::Iin
    }
}

impl From<Iin> for PayerId {
    fn from(i: Iin) -> Self {
        PayerId(i.0)
    }
}

impl fmt::Display for PayerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A 12-digit string in human-readable formats; the number it spells in
/// compact binary ones (the store), where it takes about six bytes.
mod payer_serde {
    pub fn serialize<S: serde::Serializer>(v: &[u8; 12], s: S) -> Result<S::Ok, S::Error> {
        let text = std::str::from_utf8(v).map_err(serde::ser::Error::custom)?;
        if s.is_human_readable() {
            s.serialize_str(text)
        } else {
            s.serialize_u64(text.parse().map_err(serde::ser::Error::custom)?)
        }
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<[u8; 12], D::Error> {
        if d.is_human_readable() {
            let text = <String as serde::Deserialize>::deserialize(d)?;
            return super::PayerId::parse(&text)
                .map(|p| p.0)
                .map_err(serde::de::Error::custom);
        }
        let n = <u64 as serde::Deserialize>::deserialize(d)?;
        if n >= 1_000_000_000_000 {
            return Err(serde::de::Error::custom(format!(
                "{n} has more than 12 digits"
            )));
        }
        // The twelve digits of `n`, checked like any parsed id.
        let mut ascii = [b'0'; 12];
        let mut rest = n;
        for c in ascii.iter_mut().rev() {
            *c = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        let text = std::str::from_utf8(&ascii).expect("ascii digits");
        super::digits(text)
            .map(|_| ascii)
            .map_err(serde::de::Error::custom)
    }
}

/// The result of `si-ledger iin check` for one id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdCheck {
    pub id: String,
    pub valid: bool,
    pub kind: Option<IdKind>,
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<&'static str>,
    pub warnings: Vec<String>,
    pub error: Option<String>,
}

/// Checks any 12-digit identifier: a bad check digit is an error; a bad date
/// or 7th digit only a warning (DOMAIN.md §2).
pub fn check_id(s: &str) -> IdCheck {
    let mut out = IdCheck {
        id: s.to_string(),
        valid: false,
        kind: None,
        birth_date: None,
        sex: None,
        warnings: vec![],
        error: None,
    };
    match digits(s) {
        Err(e) => out.error = Some(e.to_string()),
        Ok(d) => {
            out.valid = true;
            let ascii = to_ascii(&d);
            let kind = id_kind(&ascii);
            out.kind = Some(kind);
            match kind {
                IdKind::Iin => {
                    let info = Iin(ascii).info();
                    out.birth_date = info.birth_date;
                    out.sex = info.sex.map(Sex::code);
                    out.warnings = info.warnings;
                }
                IdKind::Bin => {
                    let mm = (d[2] * 10 + d[3]) as u32;
                    if !(1..=12).contains(&mm) {
                        out.warnings
                            .push(format!("digits 3-4 ({mm:02}) are not a registration month"));
                    }
                    if d[5] > 4 {
                        out.warnings
                            .push(format!("6th digit {} is not a known unit kind (0-4)", d[5]));
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_vectors() {
        for ok in [
            "871008401427",
            "760212350620",
            "830717350867",
            "061211600012",
        ] {
            assert!(Iin::parse(ok).is_ok(), "{ok} should be valid");
        }
        assert_eq!(Iin::parse("000813159890"), Err(IdError::NeverIssued));
        assert_eq!(Iin::parse("821214240092"), Err(IdError::NeverIssued));
        assert!(matches!(
            Iin::parse("010101600586"),
            Err(IdError::CheckDigit { .. })
        ));
        assert!(matches!(
            Iin::parse("901123300254"),
            Err(IdError::CheckDigit { .. })
        ));
        assert_eq!(Iin::parse("87100840142"), Err(IdError::Length(11)));
        assert_eq!(Iin::parse("87100840142x"), Err(IdError::NotDigits));
    }

    #[test]
    fn second_pass_vector_decodes() {
        let info = Iin::parse("061211600012").unwrap().info();
        assert_eq!(info.birth_date, NaiveDate::from_ymd_opt(2006, 12, 11));
        assert_eq!(info.sex, Some(Sex::Female));
        assert!(info.warnings.is_empty());
    }

    #[test]
    fn bad_date_and_century_are_warnings() {
        // Build 11 digits with a 7th digit 0 and a month 13, then complete.
        let mut d = [1, 2, 1, 3, 0, 1, 0, 0, 0, 0, 1, 0];
        let mut serial = 1u8;
        let iin = loop {
            d[10] = serial % 10;
            d[9] = serial / 10;
            if let Some(full) = complete(d) {
                break Iin(to_ascii(&full));
            }
            serial += 1;
        };
        let c = check_id(iin.as_str());
        assert!(c.valid);
        assert_eq!(c.birth_date, None);
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    }

    #[test]
    fn generated_iins_round_trip() {
        let birth = NaiveDate::from_ymd_opt(2003, 2, 28).unwrap();
        let made: Vec<Iin> = (0..50)
            .filter_map(|s| Iin::generate(birth, Sex::Male, s))
            .collect();
        assert!(made.len() > 40);
        for iin in made {
            let again = Iin::parse(iin.as_str()).unwrap();
            assert_eq!(again.birth_date(), Some(birth));
            assert!(iin.as_str().starts_with("030228"));
        }
    }

    #[test]
    fn bins_are_told_apart() {
        let bin = (0..20).find_map(|s| Bin::generate(15, 3, s)).unwrap();
        assert_eq!(Bin::parse(bin.as_str()), Ok(bin));
        assert_eq!(PayerId::from(bin).kind(), IdKind::Bin);
        let c = check_id(bin.as_str());
        assert_eq!(c.kind, Some(IdKind::Bin));
        assert!(c.warnings.is_empty());
        assert_eq!(check_id("871008401427").kind, Some(IdKind::Iin));
        assert_eq!(Bin::parse("871008401427"), Err(IdError::NotBin(0)));
        assert!(matches!(
            Bin::parse(&bin.as_str().replace(&bin.as_str()[11..], "x")),
            Err(IdError::NotDigits)
        ));
    }

    #[test]
    fn masking_hides_serial() {
        let iin = Iin::parse("871008401427").unwrap();
        assert_eq!(iin.masked(), "8710******27");
        assert_eq!(format!("{iin:?}"), "Iin(8710******27)");
    }
}
