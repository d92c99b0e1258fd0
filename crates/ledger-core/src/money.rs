//! Money in KZT: a decimal with exactly two places, never a float, with
//! checked arithmetic (DOMAIN.md §3).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

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

impl Money {
    pub const ZERO: Money = Money(Decimal::from_parts(0, 0, 0, false, 2));

    /// Parses `"4250"`, `"4250.5"` or `"4250.00"`; rejects exponents, signs
    /// other than a leading minus, more than two decimals and absurd sizes.
    pub fn parse(s: &str) -> Result<Money, MoneyError> {
        let body = s.strip_prefix('-').unwrap_or(s);
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        let syntax_ok = !int.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.bytes().all(|b| b.is_ascii_digit())
            && (frac.is_empty() != body.contains('.'));
        if !syntax_ok {
            return Err(MoneyError::Syntax(s.to_string()));
        }
        if frac.len() > 2 {
            return Err(MoneyError::Precision(s.to_string()));
        }
        if int.len() > 13 {
            return Err(MoneyError::Range(s.to_string()));
        }
        let d = Decimal::from_str(s).map_err(|_| MoneyError::Syntax(s.to_string()))?;
        if d.abs() > Decimal::from(MAX_AMOUNT) {
            return Err(MoneyError::Range(s.to_string()));
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
            "1e3",
            "+5",
            "4250.",
            ".5",
            "1,5",
            "12.345",
            "NaN",
            "99999999999999",
        ] {
            assert!(Money::parse(bad).is_err(), "{bad:?} must be rejected");
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
