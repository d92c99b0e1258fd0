//! One spelling per fact (inputs §3): a value that can be written more
//! than one way is rewritten to its canonical form before the content hash
//! is taken, so that the same line re-sent by another producer, runtime or
//! serializer is a duplicate, never a conflict.
//!
//! - amounts: [`ledger_core::Money`]'s spelling, two decimals (`"600"`,
//!   `"600.000"`, `"6E+2"` are `"600.00"`);
//! - every text: Unicode NFC (`й` typed as `и` + U+0306 is `й`);
//! - names of people and payers: also without surrounding spaces and with
//!   inner runs of white space as one space;
//! - sex: `M` or `F` (`m`, `f` accepted);
//! - a merge transfer's original record: canonical too.
//!
//! Dates, periods, identifiers and codes have one spelling already (their
//! parsers are strict). A value that does not parse is left as it is, for
//! `envelope_from_wire` to refuse by its field. Canonicalizing is
//! idempotent: canonical bytes decode and canonicalize to themselves (the
//! store keeps canonical bytes and re-derives hashes from them).

use crate::v1 as pb;
use prost::Message;
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

/// Rewrites `e` in place to its canonical spelling.
pub fn canonicalize(e: &mut pb::Envelope) {
    text(&mut e.source);
    use pb::envelope::Payload as P;
    match e.payload.as_mut() {
        None => {}
        Some(P::Contribution(c)) => {
            money(&mut c.amount);
            if let Some(p) = c.payment.as_mut() {
                payment(p);
            }
            if let Some(p) = c.person.as_mut() {
                name(&mut p.surname);
                name(&mut p.name);
                name(&mut p.patronymic);
            }
        }
        Some(P::Refund(r)) => {
            text(&mut r.application_id);
            text(&mut r.reason);
            money(&mut r.amount);
            if let Some(p) = r.payment.as_mut() {
                payment(p);
            }
        }
        Some(P::BenefitAssigned(b)) => {
            text(&mut b.benefit_id);
            money(&mut b.monthly_amount);
            money(&mut b.average_monthly_income);
        }
        Some(P::BenefitStatus(s)) => {
            text(&mut s.benefit_id);
            text(&mut s.reason);
        }
        Some(P::BenefitPaid(b)) => {
            text(&mut b.benefit_id);
            money(&mut b.amount);
            money(&mut b.pension_contribution_withheld);
            if let Some(p) = b.payment.as_mut() {
                payment(p);
            }
        }
        Some(P::BenefitReturned(b)) => {
            text(&mut b.benefit_id);
            money(&mut b.amount);
            if let Some(p) = b.payment.as_mut() {
                payment(p);
            }
        }
        Some(P::Person(p)) => person(
            [&mut p.surname, &mut p.name, &mut p.patronymic],
            &mut p.sex,
            [&mut p.address, &mut p.postcode, &mut p.citizenship],
            p.document.as_mut(),
        ),
        Some(P::PersonChanged(p)) => person(
            [&mut p.surname, &mut p.name, &mut p.patronymic],
            &mut p.sex,
            [&mut p.address, &mut p.postcode, &mut p.citizenship],
            p.document.as_mut(),
        ),
        Some(P::Merged(m)) => text(&mut m.reason),
        Some(P::MergeTransfer(t)) => {
            text(&mut t.reason);
            if let Ok(mut inner) = pb::Envelope::decode(t.original.as_slice()) {
                canonicalize(&mut inner);
                t.original = inner.encode_to_vec();
            }
        }
    }
}

fn payment(p: &mut pb::PaymentDocument) {
    text(&mut p.document_number);
    name(&mut p.payer_name);
    name(&mut p.recipient_name);
    money(&mut p.total_amount);
}

fn person(
    names: [&mut String; 3],
    sex: &mut String,
    texts: [&mut String; 3],
    document: Option<&mut pb::IdentityDocument>,
) {
    names.into_iter().for_each(name);
    texts.into_iter().for_each(text);
    if sex == "m" || sex == "f" {
        *sex = sex.to_uppercase();
    }
    if let Some(d) = document {
        text(&mut d.series);
        text(&mut d.number);
        text(&mut d.issuer);
    }
}

fn money(v: &mut String) {
    if v.is_empty() || is_canonical_amount(v) {
        return;
    }
    if let Ok(m) = ledger_core::Money::parse(v) {
        let canonical = m.to_string();
        if *v != canonical {
            *v = canonical;
        }
    }
}

/// Already `Money`'s spelling: an optional minus, digits without a leading
/// zero (but `0`), a point and two digits. Most amounts are: this spares
/// them a parse and a copy on the projector's path.
fn is_canonical_amount(v: &str) -> bool {
    let b = v.strip_prefix('-').unwrap_or(v).as_bytes();
    let n = b.len();
    n >= 4
        && b[n - 3] == b'.'
        && b[n - 2].is_ascii_digit()
        && b[n - 1].is_ascii_digit()
        && b[..n - 3].iter().all(u8::is_ascii_digit)
        && (b[0] != b'0' || n == 4)
        && n <= 16
        && v != "-0.00"
}

/// NFC. Most texts are NFC already: the quick check avoids a copy.
fn text(v: &mut String) {
    if is_nfc_quick(v.chars()) != IsNormalized::Yes {
        *v = v.nfc().collect();
    }
}

/// NFC, trimmed, inner white space as one space.
fn name(v: &mut String) {
    text(v);
    let tidy = v.split_whitespace().eq(v.split(' ')) && !v.is_empty();
    if !tidy && !v.is_empty() {
        *v = v.split_whitespace().collect::<Vec<_>>().join(" ");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path agrees with `Money`'s own spelling.
    #[test]
    fn canonical_amounts_are_recognized() {
        for (v, canonical) in [
            ("0.00", true),
            ("4250.00", true),
            ("-12.50", true),
            ("1000000000000.00", true),
            ("-0.00", false),
            ("04250.00", false),
            ("4250", false),
            ("4250.0", false),
            ("4250.000", false),
            ("6E+2", false),
            (".50", false),
            ("+4250.00", false),
            ("10000000000000.00", false),
        ] {
            assert_eq!(is_canonical_amount(v), canonical, "{v}");
            if canonical {
                assert_eq!(ledger_core::Money::parse(v).unwrap().to_string(), v);
            }
        }
    }
}
