//! Money in KZT: a decimal with exactly two places, never a float, with
//! checked arithmetic (DOMAIN.md §3).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Largest amount one event may carry: a trillion tenge. Sums of any
/// realistic number of such amounts stay far inside `Decimal`'s 96 bits.
const MAX_AMOUNT: i64 = 1_000_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("not a decimal amount like \"4250.00\": {0:?}")]
    Syntax(String),
    #[error("more than two decimals: {0:?}")]
    Precision(String),
    #[error("amount {0:?} is out of range")]
    Range(String),
}

/// An amount of tenge with two decimals. Invariant: scale is exactly 2.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(Decimal);

/// Zero with scale 2, like every other amount: a derived default would be a
/// scale-0 zero that prints and encodes differently.
impl Default for Money {
    fn default() -> Self {
        Money::ZERO
    }
}

/// A value as an error shows it: whole up to 40 characters, else its
/// start and its length (an error never echoes a whole 60 KB field).
pub fn excerpt(s: &str) -> String {
    const SHOWN: usize = 40;
    match s.char_indices().nth(SHOWN) {
        None => s.to_string(),
        Some((cut, _)) => format!("{}… ({} bytes)", &s[..cut], s.len()),
    }
}

impl Money {
    pub const ZERO: Money = Money(Decimal::from_parts(0, 0, 0, false, 2));

    /// Parses a decimal amount in any spelling a producer's runtime writes
    /// for it: `"4250"`, `"4250.5"`, `"4250.00"`, `"4250.000"`, and the
    /// scientific forms of Java's `BigDecimal.toString()` and Python's
    /// `Decimal` (`"6E+2"`, `"4.25E3"`), with an optional sign. All are one
    /// value: [`Money`]'s `Display` is its one canonical spelling (two
    /// decimals), which the content hash covers, so a line re-sent as
    /// `"600"` after `"600.00"` is a duplicate, not a conflict. Refused: a
    /// value with a non-zero digit past the second decimal (`"1.005"`),
    /// anything that is not a decimal number (`"1,5"`, `"NaN"`, `"0x10"`,
    /// spaces), and magnitudes over a trillion tenge.
    pub fn parse(s: &str) -> Result<Money, MoneyError> {
        let syntax = || MoneyError::Syntax(excerpt(s));
        // Java's BigDecimal(String) grammar: sign, digits with at most one
        // point (at least one digit), then an optional exponent.
        let body = s.strip_prefix(['-', '+']).unwrap_or(s);
        let (number, exponent) = match body.split_once(['e', 'E']) {
            Some((n, e)) => (n, Some(e)),
            None => (body, None),
        };
        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        let digits_ok = (!int.is_empty() || !frac.is_empty())
            && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit());
        let exponent: i64 = match exponent {
            None => 0,
            Some(e) => {
                let digits = e.strip_prefix(['-', '+']).unwrap_or(e);
                if digits.is_empty()
                    || digits.len() > 3
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(syntax());
                }
                e.parse().map_err(|_| syntax())?
            }
        };
        if !digits_ok || s.len() > 64 {
            return Err(syntax());
        }
        // The common spelling, `4250.00`, without a copy: this runs twice
        // per contribution line on the projector's path.
        if exponent == 0 && frac.len() <= 2 && int.len() <= 13 {
            let digits = |d: &str| d.bytes().fold(0i128, |n, c| n * 10 + i128::from(c - b'0'));
            let frac_tiyn = digits(frac) * if frac.len() == 1 { 10 } else { 1 };
            let tiyn = digits(int) * 100 + frac_tiyn;
            let tiyn = if s.starts_with('-') { -tiyn } else { tiyn };
            let d = Decimal::from_i128_with_scale(tiyn, 2);
            if d.abs() > Decimal::from(MAX_AMOUNT) {
                return Err(MoneyError::Range(excerpt(s)));
            }
            return Ok(Money::from_decimal(d));
        }
        // The value is `mantissa` × 10^-scale.
        let mut mantissa: String = int.chars().chain(frac.chars()).collect();
        mantissa = mantissa.trim_start_matches('0').to_string();
        let mut scale = frac.len() as i64 - exponent;
        // Zeros past the second decimal spell no value.
        while scale > 2 && mantissa.ends_with('0') {
            mantissa.pop();
            scale -= 1;
        }
        if mantissa.is_empty() {
            return Ok(Money::ZERO);
        }
        if scale > 2 {
            return Err(MoneyError::Precision(excerpt(s)));
        }
        if mantissa.len() as i64 - scale > 13 {
            return Err(MoneyError::Range(excerpt(s)));
        }
        // At most 13 whole digits and 2 decimals: 15 digits of tiyn.
        let n: i128 = mantissa.parse().map_err(|_| syntax())?;
        let tiyn = n * 10i128.pow(u32::try_from(2 - scale).map_err(|_| syntax())?);
        let mut d = Decimal::from_i128_with_scale(tiyn, 2);
        if s.starts_with('-') {
            d.set_sign_negative(!d.is_zero());
        }
        if d.abs() > Decimal::from(MAX_AMOUNT) {
            return Err(MoneyError::Range(excerpt(s)));
        }
        Ok(Money::from_decimal(d))
    }

    fn from_decimal(mut d: Decimal) -> Money {
        d.rescale(2);
        Money(d)
    }

    /// Whole tenge and tiyn, e.g. `from_tiyn(425000)` is 4250.00.
    pub fn from_tiyn(tiyn: i64) -> Money {
        Money(Decimal::new(tiyn, 2))
    }

    pub fn decimal(&self) -> Decimal {
        self.0
    }

    pub fn is_positive(&self) -> bool {
        self.0.is_sign_positive() && !self.0.is_zero()
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }

    pub fn checked_add(self, o: Money) -> Option<Money> {
        self.0.checked_add(o.0).map(Money::from_decimal)
    }

    pub fn checked_sub(self, o: Money) -> Option<Money> {
        self.0.checked_sub(o.0).map(Money::from_decimal)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({})", self.0)
    }
}

/// A decimal string (`"4250.00"`) in human-readable formats such as JSON;
/// the integer number of tiyn in compact binary ones (the store), where it
/// takes a few bytes instead of a string.
impl Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_i128(self.0.mantissa())
        }
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            Money::parse(&s).map_err(serde::de::Error::custom)
        } else {
            let tiyn = i128::deserialize(d)?;
            Decimal::try_from_i128_with_scale(tiyn, 2)
                .map(Money)
                .map_err(serde::de::Error::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_two_decimals() {
        assert_eq!(Money::parse("4250").unwrap().to_string(), "4250.00");
        assert_eq!(Money::parse("4250.5").unwrap().to_string(), "4250.50");
        assert_eq!(Money::parse("0.01").unwrap().to_string(), "0.01");
        assert_eq!(Money::ZERO.to_string(), "0.00");
        assert_eq!(Money::default().to_string(), "0.00");
        assert_eq!(Money::from_tiyn(425000).to_string(), "4250.00");
    }

    #[test]
    fn rejects_what_is_not_money() {
        for bad in [
            "",
            "-",
            ".",
            "e2",
            "1e",
            "1e+",
            "1e1000",
            "1,5",
            "1 000",
            " 5",
            "12.345",
            "1.23E-1",
            "0x10",
            "NaN",
            "Infinity",
            "99999999999999",
            "1E13",
        ] {
            assert!(Money::parse(bad).is_err(), "{bad:?} must be rejected");
        }
    }

    /// Inputs §3 (`cases/wave2/09-…`): every spelling of one value is the
    /// same money and prints one way.
    #[test]
    fn every_spelling_of_a_value_is_one_amount() {
        let table = [
            ("600", "600.00"),
            ("600.0", "600.00"),
            ("600.00", "600.00"),
            ("600.000", "600.00"),
            ("0600", "600.00"),
            ("+600", "600.00"),
            ("6E+2", "600.00"),
            ("6e2", "600.00"),
            ("6.0E2", "600.00"),
            ("60000E-2", "600.00"),
            ("600.", "600.00"),
            ("4.25E3", "4250.00"),
            ("4250.5", "4250.50"),
            (".5", "0.50"),
            ("5E-2", "0.05"),
            ("0.010", "0.01"),
            ("-0", "0.00"),
            ("-12.5", "-12.50"),
            ("1000000000000", "1000000000000.00"),
            ("1E12", "1000000000000.00"),
        ];
        for (spelling, canonical) in table {
            let m = Money::parse(spelling).unwrap_or_else(|e| panic!("{spelling}: {e}"));
            assert_eq!(m.to_string(), canonical, "{spelling}");
            assert_eq!(Money::parse(canonical).unwrap(), m);
        }
    }

    #[test]
    fn json_uses_strings() {
        let m = Money::parse("4250.5").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"4250.50\"");
        assert_eq!(serde_json::from_str::<Money>("\"4250.50\"").unwrap(), m);
    }

    #[test]
    fn arithmetic_keeps_scale() {
        let a = Money::parse("0.10").unwrap();
        let b = Money::parse("0.2").unwrap();
        assert_eq!(a.checked_add(b).unwrap().to_string(), "0.30");
        assert_eq!(a.checked_sub(b).unwrap().to_string(), "-0.10");
    }
}
