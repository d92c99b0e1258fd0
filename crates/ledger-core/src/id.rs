//! Identifiers: the IIN of a person and the BIN of a legal entity, twelve
//! digits with the check digit of DOMAIN.md §2 (seeds `000_…`, `001_…`); or,
//! in a Kyrgyz deployment, the 14-digit PIN (seed `002_…`).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::OnceLock;

/// Which identifiers a deployment keys its participants by. One per
/// deployment and per log: a store records it and refuses another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdScheme {
    /// Kazakhstan: 12-digit IINs and BINs with their check digit.
    #[default]
    Kz,
    /// Kyrgyzstan: 14-digit PINs (sex, birth date `DDMMYYYY`, 5-digit
    /// serial, no check digit); payers by a 14-digit PIN or INN.
    Kg,
}

impl IdScheme {
    pub fn name(self) -> &'static str {
        match self {
            IdScheme::Kz => "kz",
            IdScheme::Kg => "kg",
        }
    }

    pub fn parse_name(s: &str) -> Result<IdScheme, String> {
        match s {
            "kz" => Ok(IdScheme::Kz),
            "kg" => Ok(IdScheme::Kg),
            other => Err(format!("identifier scheme {other:?}: expected kz or kg")),
        }
    }

    /// A participant's identifier under this scheme.
    pub fn parse(self, s: &str) -> Result<Iin, IdError> {
        match self {
            IdScheme::Kz => {
                let d = digits(s)?;
                // DOMAIN §2: a 5th digit 4-6 is a legal entity's type, never
                // the tens of a birth day: a BIN, not a person.
                if (4..=6).contains(&d[4]) {
                    return Err(IdError::IsBin(d[4]));
                }
                Ok(Iin::from_ascii(&to_ascii(&d)))
            }
            IdScheme::Kg => pin_digits(s).map(|a| Iin::from_ascii(&a)),
        }
    }
}

static SCHEME: OnceLock<IdScheme> = OnceLock::new();

/// Sets the process's identifier scheme, once, before any identifier is
/// parsed (the binary does it from `--id-scheme`). Refused if another
/// scheme was set or used already.
pub fn set_scheme(s: IdScheme) -> Result<(), String> {
    let now = *SCHEME.get_or_init(|| s);
    if now == s {
        Ok(())
    } else {
        Err(format!(
            "identifier scheme is {} already, not {}",
            now.name(),
            s.name()
        ))
    }
}

/// The process's identifier scheme: Kazakhstan's unless set.
pub fn scheme() -> IdScheme {
    *SCHEME.get_or_init(IdScheme::default)
}

/// A Kyrgyz PIN (DOMAIN.md §2): 14 digits, the first the sex code (1
/// female, 2 male). There is no check digit; a birth date that is not a
/// date is only a warning (numbers assigned in error exist, seed `002_…`).
fn pin_digits(s: &str) -> Result<[u8; 14], IdError> {
    let b = ascii_digits(s, 14)?;
    if !matches!(b[0], b'1' | b'2') {
        return Err(IdError::PinSex(b[0] - b'0'));
    }
    let mut a = [0u8; 14];
    a.copy_from_slice(b);
    Ok(a)
}

fn scheme_length() -> usize {
    match scheme() {
        IdScheme::Kz => 12,
        IdScheme::Kg => 14,
    }
}

/// Why a string is not an identifier of the deployment's scheme.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must be exactly {} digits, got {} characters", scheme_length(), .0)]
    Length(usize),
    #[error("1st digit {0} is not a PIN's sex code (1 female, 2 male)")]
    PinSex(u8),
    /// A digit of another script (fullwidth `９`, Arabic-Indic `٩`…):
    /// only ASCII 0-9 spell an identifier. `position` counts characters
    /// from 1.
    #[error("contains a non-ASCII digit {found:?} (U+{:04X}) at position {position}: only 0-9 are accepted", u32::from(*.found))]
    NonAsciiDigit { position: usize, found: char },
    /// Any other character that is not a digit.
    #[error("contains {found:?} at position {position}: only digits 0-9 are accepted")]
    NotDigit { position: usize, found: char },
    #[error("check digit does not match (expected {expected}, found {found})")]
    CheckDigit { expected: u8, found: u8 },
    #[error("no valid check digit exists for these 11 digits (never issued)")]
    NeverIssued,
    #[error("5th digit {0} is not a BIN entity type (4-6): this is not a BIN")]
    NotBin(u8),
    #[error("5th digit {0} is a legal entity's type: this is a BIN, not a person's IIN")]
    IsBin(u8),
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

/// The ASCII digits of `s`, which must be exactly `len` of them. The first
/// character that is not one is named with its position, so that a digit of
/// another script (typed on a phone, pasted from a PDF) is told apart from
/// a stray letter.
fn ascii_digits(s: &str, len: usize) -> Result<&[u8], IdError> {
    if let Some((i, found)) = s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        let position = s[..i].chars().count() + 1;
        return Err(if found.is_numeric() {
            IdError::NonAsciiDigit { position, found }
        } else {
            IdError::NotDigit { position, found }
        });
    }
    if s.len() != len {
        return Err(IdError::Length(s.len()));
    }
    Ok(s.as_bytes())
}

fn digits(s: &str) -> Result<[u8; 12], IdError> {
    let b = ascii_digits(s, 12)?;
    let mut d = [0u8; 12];
    for (i, c) in b.iter().enumerate() {
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

/// A person's identifier: an IIN (twelve ASCII digits, check digit
/// verified) or, in a Kyrgyz deployment, a PIN (fourteen). Never a number
/// type, since leading zeros are real digits. The name stays `Iin`: it is
/// the ledger's key, whichever scheme spells it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Iin(Digits);

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
    /// An identifier of the process's scheme ([`scheme`]).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        scheme().parse(s)
    }

    fn from_ascii(a: &[u8]) -> Iin {
        Iin(Digits::of(a))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    fn digit(&self, i: usize) -> u8 {
        self.0.ascii[i] - b'0'
    }

    /// Decodes birth date and sex: digits 1-7 of an IIN, digits 1-9 of a
    /// PIN (DOMAIN.md §2).
    pub fn info(&self) -> IinInfo {
        if self.0.len == 14 {
            return self.pin_info();
        }
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
        let birth_date = century.and_then(|cent| NaiveDate::from_ymd_opt(cent + yy, mm, dd));
        // Without a century the date is still checked in every century
        // the 7th digit could name.
        let some_date = birth_date.is_some()
            || (century.is_none()
                && [1800, 1900, 2000]
                    .iter()
                    .any(|c| NaiveDate::from_ymd_opt(c + yy, mm, dd).is_some()));
        if !some_date {
            warnings.push(format!(
                "digits 1-6 ({}) are not a valid birth date",
                &self.as_str()[..6]
            ));
        }
        IinInfo {
            birth_date,
            sex,
            warnings,
        }
    }

    fn pin_info(&self) -> IinInfo {
        let mut warnings = Vec::new();
        let sex = match self.digit(0) {
            1 => Some(Sex::Female),
            2 => Some(Sex::Male),
            c => {
                warnings.push(format!("1st digit {c} is not a sex code (1-2)"));
                None
            }
        };
        let n = |from: usize, to: usize| {
            (from..to).fold(0u32, |acc, i| acc * 10 + u32::from(self.digit(i)))
        };
        let birth_date = NaiveDate::from_ymd_opt(n(5, 9) as i32, n(3, 5), n(1, 3));
        if birth_date.is_none() {
            warnings.push(format!(
                "digits 2-9 ({}) are not a valid birth date",
                &self.as_str()[1..9]
            ));
        }
        IinInfo {
            birth_date,
            sex,
            warnings,
        }
    }

    /// Builds a synthetic Kyrgyz PIN for `birth` and `sex` with the given
    /// 5-digit serial. For fixtures only: never real people.
    pub fn generate_pin(birth: NaiveDate, sex: Sex, serial: u32) -> Option<Iin> {
        use chrono::Datelike;
        if serial > 99_999 || !(1000..=9999).contains(&birth.year()) {
            return None;
        }
        let s = format!(
            "{}{:02}{:02}{:04}{serial:05}",
            match sex {
                Sex::Female => 1,
                Sex::Male => 2,
            },
            birth.day(),
            birth.month(),
            birth.year()
        );
        pin_digits(&s).ok().map(|a| Iin::from_ascii(&a))
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
        complete_str(&s).map(|a| Iin::from_ascii(&a))
    }

    /// The IIN with its serial and check digits hidden, for logs and errors:
    /// personal data never appears unmasked there.
    pub fn masked(&self) -> String {
        mask_id(self.as_str())
    }
}

/// Masks a 12- or 14-character identifier to its first four and last two
/// characters (`8710******27`, `2150********34`); anything else is masked
/// whole.
pub fn mask_id(s: &str) -> String {
    if (s.len() == 12 || s.len() == 14) && s.is_ascii() {
        let n = s.len();
        format!("{}{}{}", &s[..4], "*".repeat(n - 6), &s[n - 2..])
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
                f.write_str("an identifier (a 12-digit IIN or a 14-digit PIN)")
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
/// In a Kyrgyz deployment: 14 digits, an organization's INN or a person's
/// PIN (no check digit is published for either).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PayerId(#[serde(with = "payer_serde")] Digits);

/// An identifier's ASCII digits, 12 or 14 of them, zero-padded: what an
/// `Iin` and a `PayerId` hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Digits {
    ascii: [u8; 14],
    len: u8,
}

impl Digits {
    fn of(a: &[u8]) -> Digits {
        let mut ascii = [0u8; 14];
        ascii[..a.len()].copy_from_slice(a);
        Digits {
            ascii,
            len: a.len() as u8,
        }
    }
    fn as_bytes(&self) -> &[u8] {
        &self.ascii[..usize::from(self.len)]
    }
    fn as_str(&self) -> &str {
        // Constructed from ASCII digits only.
        std::str::from_utf8(self.as_bytes()).expect("ascii digits")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IdKind {
    Iin,
    Bin,
}

impl PayerId {
    /// The least payer id in order: where a range over payers starts.
    pub const MIN: PayerId = PayerId(Digits {
        ascii: [0; 14],
        len: 0,
    });

    /// A payer id of the process's scheme ([`scheme`]).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        match scheme() {
            IdScheme::Kz => digits(s).map(|d| PayerId(Digits::of(&to_ascii(&d)))),
            IdScheme::Kg => Ok(PayerId(Digits::of(ascii_digits(s, 14)?))),
        }
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// A person's number or an organization's: for a PIN-scheme payer, a
    /// first digit 1 or 2 (a PIN's sex code) is a person.
    pub fn kind(&self) -> IdKind {
        let a = &self.0.ascii;
        if self.0.len == 14 {
            return if matches!(a[0], b'1' | b'2') {
                IdKind::Iin
            } else {
                IdKind::Bin
            };
        }
        id_kind(a[..12].try_into().expect("12 digits"))
    }
}

/// A legal entity's business identification number (DOMAIN.md §2): the
/// IIN's length and check digit, with an entity type of 4-6 in the 5th digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bin([u8; 12]);

impl Bin {
    pub fn parse(s: &str) -> Result<Bin, IdError> {
        let ascii = to_ascii(&digits(s)?);
        match ascii[4] {
            b'4'..=b'6' => Ok(Bin(ascii)),
            t => Err(IdError::NotBin(t - b'0')),
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
        PayerId(Digits::of(&b.0))
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

/// The digits as a string in human-readable formats; the number they spell
/// in compact binary ones (the store), where it takes about six bytes. A
/// 14-digit id is stored as 10^15 + its number, so leading zeros and the
/// length survive.
mod payer_serde {
    use super::Digits;

    const WIDE: u64 = 1_000_000_000_000_000;

    pub fn serialize<S: serde::Serializer>(v: &Digits, s: S) -> Result<S::Ok, S::Error> {
        let text = v.as_str();
        if s.is_human_readable() {
            return s.serialize_str(text);
        }
        let n: u64 = text.parse().map_err(serde::ser::Error::custom)?;
        s.serialize_u64(if v.len == 14 { WIDE + n } else { n })
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Digits, D::Error> {
        if d.is_human_readable() {
            let text = <String as serde::Deserialize>::deserialize(d)?;
            return super::PayerId::parse(&text)
                .map(|p| p.0)
                .map_err(serde::de::Error::custom);
        }
        let n = <u64 as serde::Deserialize>::deserialize(d)?;
        let (n, width) = match n {
            n if n < 1_000_000_000_000 => (n, 12),
            n if (WIDE..WIDE + 100_000_000_000_000).contains(&n) => (n - WIDE, 14),
            n => {
                return Err(serde::de::Error::custom(format!(
                    "{n} is not a stored payer id"
                )))
            }
        };
        // The digits of `n`, checked like any parsed id.
        let text = format!("{n:0width$}");
        super::PayerId::parse(&text)
            .map(|p| p.0)
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
/// or 7th digit only a warning (DOMAIN.md §2). A 14-digit one is checked as
/// a Kyrgyz PIN: a sex code other than 1 or 2 is an error, a bad date a
/// warning.
pub fn check_id(s: &str) -> IdCheck {
    if s.len() == 14 {
        return check_pin(s);
    }
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
            let iin = Iin::from_ascii(&ascii);
            // DOMAIN.md §2: the 5th digit is the tens of the birth day in an
            // IIN (0-3) and the entity type in a BIN (4-6); 7-9 is neither.
            match d[4] {
                0..=3 => {
                    let info = iin.info();
                    out.kind = Some(IdKind::Iin);
                    out.birth_date = info.birth_date;
                    out.sex = info.sex.map(Sex::code);
                    out.warnings = info.warnings;
                }
                4..=6 => {
                    out.kind = Some(IdKind::Bin);
                    out.warnings = bin_warnings(&d);
                }
                t => {
                    let mut as_iin = iin.info().warnings;
                    if as_iin.is_empty() {
                        as_iin.push(format!("digits 5-6 ({}{}) are not a birth day", d[4], d[5]));
                    }
                    out.warnings.push(format!(
                        "neither an IIN nor a BIN: the check digit holds, but as an IIN {}, and \
                         as a BIN the 5th digit {t} is not a legal-entity type (4 resident, \
                         5 non-resident, 6 joint individual entrepreneurship)",
                        as_iin.join("; ")
                    ));
                }
            }
        }
    }
    out
}

/// What a BIN's digits say that does not follow DOMAIN.md §2: digits 1-4
/// are the registration's `YYMM`, the 6th the unit kind.
fn bin_warnings(d: &[u8; 12]) -> Vec<String> {
    let mut w = Vec::new();
    let mm = u32::from(d[2] * 10 + d[3]);
    if !(1..=12).contains(&mm) {
        w.push(format!("digits 3-4 ({mm:02}) are not a registration month"));
    }
    if d[5] > 4 {
        w.push(format!("6th digit {} is not a known unit kind (0-4)", d[5]));
    }
    w
}

fn check_pin(s: &str) -> IdCheck {
    let mut out = IdCheck {
        id: s.to_string(),
        valid: false,
        kind: Some(IdKind::Iin),
        birth_date: None,
        sex: None,
        warnings: vec![],
        error: None,
    };
    match IdScheme::Kg.parse(s) {
        Err(e) => {
            out.kind = None;
            out.error = Some(e.to_string());
        }
        Ok(pin) => {
            let info = pin.info();
            out.valid = true;
            out.birth_date = info.birth_date;
            out.sex = info.sex.map(Sex::code);
            out.warnings = info.warnings;
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
        assert_eq!(
            Iin::parse("87100840142x"),
            Err(IdError::NotDigit {
                position: 12,
                found: 'x'
            })
        );
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
                break Iin::from_ascii(&to_ascii(&full));
            }
            serial += 1;
        };
        let c = check_id(iin.as_str());
        assert!(c.valid);
        assert_eq!(c.birth_date, None);
        // Both: no century, and 13 is no month in any century.
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
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
            Bin::parse(&format!("{}x", &bin.as_str()[..11])),
            Err(IdError::NotDigit { position: 12, .. })
        ));
    }

    #[test]
    fn domain_2_a_kyrgyz_pin_is_sex_birth_date_and_serial() {
        let birth = NaiveDate::from_ymd_opt(1988, 3, 9).unwrap();
        let pin = Iin::generate_pin(birth, Sex::Male, 417).unwrap();
        assert_eq!(pin.as_str(), "20903198800417");
        assert_eq!(IdScheme::Kg.parse(pin.as_str()), Ok(pin));
        let info = pin.info();
        assert_eq!((info.birth_date, info.sex), (Some(birth), Some(Sex::Male)));
        assert!(info.warnings.is_empty());
        assert_eq!(pin.masked(), "2090********17");
        // A sex code other than 1 (female) or 2 (male) is never issued.
        assert_eq!(
            IdScheme::Kg.parse("30903198800417"),
            Err(IdError::PinSex(3))
        );
        assert_eq!(IdScheme::Kg.parse("871008401427"), Err(IdError::Length(12)));
        assert_eq!(
            IdScheme::Kg.parse("2090319880041x"),
            Err(IdError::NotDigit {
                position: 14,
                found: 'x'
            })
        );
        // Not a date: valid (numbers assigned in error exist), with a warning.
        let odd = check_id("13213198800417");
        assert!(odd.valid, "{odd:?}");
        assert_eq!(odd.birth_date, None);
        assert_eq!(odd.warnings.len(), 1, "{:?}", odd.warnings);
        assert_eq!(
            check_id("30903198800417")
                .error
                .as_deref()
                .map(|e| e.contains("sex code")),
            Some(true)
        );
        // And a PIN is no IIN.
        assert!(IdScheme::Kz.parse(pin.as_str()).is_err());
    }

    /// Inputs §2: a digit of another script is named, with its position,
    /// whatever the scheme; so is any other stray character.
    #[test]
    fn a_non_ascii_digit_is_named_with_its_position() {
        let cases = [
            ("９００５１７４００４５１", 1, '９'), // fullwidth
            ("٩٠٠٥١٧٤٠٠٤٥١", 1, '٩'),              // Arabic-Indic
            ("9005۱7400451", 5, '۱'),              // one Extended Arabic-Indic digit
            ("900517400４51", 10, '４'),
        ];
        for (s, position, found) in cases {
            let e = Iin::parse(s).unwrap_err();
            assert_eq!(e, IdError::NonAsciiDigit { position, found }, "{s}");
            assert!(
                e.to_string()
                    .contains(&format!("non-ASCII digit {found:?}")),
                "{e}"
            );
            assert!(PayerId::parse(s).is_err());
            assert!(!check_id(s).valid);
        }
        assert_eq!(
            IdScheme::Kg.parse("２0903198800417"),
            Err(IdError::NonAsciiDigit {
                position: 1,
                found: '２'
            })
        );
        assert_eq!(
            Iin::parse("9005 17400451"),
            Err(IdError::NotDigit {
                position: 5,
                found: ' '
            })
        );
        assert_eq!(Iin::parse("90051740045"), Err(IdError::Length(11)));
    }

    /// Inputs §2: the 5th digit decides IIN (day tens 0-3) or BIN (entity
    /// type 4-6); 7-9 is neither, and `iin check` says so.
    #[test]
    fn iin_check_classifies_by_the_fifth_digit() {
        let c = check_id("970884011659");
        assert!(c.valid, "the check digit holds: {c:?}");
        assert_eq!(c.kind, None);
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("not a valid birth date"), "{c:?}");
        assert!(c.warnings[0].contains("5th digit 8 is not a legal-entity type"));
        assert_eq!(Bin::parse("970884011659"), Err(IdError::NotBin(8)));
        // Every 5th digit: 0-3 an IIN, 4-6 a BIN, 7-9 neither.
        for fifth in 0..10u8 {
            let mut d = [9, 7, 0, 1, fifth, 1, 4, 0, 0, 0, 0, 0];
            let full = (0..100u8)
                .find_map(|serial| {
                    d[9] = serial / 10;
                    d[10] = serial % 10;
                    complete(d)
                })
                .unwrap();
            let c = check_id(std::str::from_utf8(&to_ascii(&full)).unwrap());
            let want = match fifth {
                0..=3 => Some(IdKind::Iin),
                4..=6 => Some(IdKind::Bin),
                _ => None,
            };
            assert_eq!(c.kind, want, "5th digit {fifth}: {c:?}");
            assert_eq!(c.warnings.is_empty(), want.is_some(), "{c:?}");
        }
    }

    /// A BIN has the IIN's length and check digit: as a participant's
    /// identifier it is refused (a participant is a person).
    #[test]
    fn a_bin_is_not_a_participant() {
        let bin = (0..20).find_map(|s| Bin::generate(15, 3, s)).unwrap();
        assert_eq!(Iin::parse(bin.as_str()), Err(IdError::IsBin(4)));
        assert!(PayerId::parse(bin.as_str()).is_ok(), "a BIN pays");
    }

    #[test]
    fn masking_hides_serial() {
        let iin = Iin::parse("871008401427").unwrap();
        assert_eq!(iin.masked(), "8710******27");
        assert_eq!(format!("{iin:?}"), "Iin(8710******27)");
    }
}
