//! What a text field of an event may hold (inputs §3): no control
//! characters (NUL, BEL, escape…; a line break or tab only in free texts
//! such as a reason or an address), no bidirectional overrides that make a
//! name display as another (U+202A-U+202E, U+2066-U+2069), no byte-order
//! mark inside, and a bounded length, so that a 10 MB "surname" is refused
//! at the door rather than stored in every history entry.

use crate::convert::{PersonFields, WireError};
use crate::v1 as pb;

/// A text field's limits: most characters, and whether line breaks and
/// tabs are allowed.
#[derive(Clone, Copy)]
struct Kind {
    max: usize,
    free: bool,
}

const NAME: Kind = Kind {
    max: 200,
    free: false,
};
const ORG: Kind = Kind {
    max: 500,
    free: false,
};
const CODE: Kind = Kind {
    max: 128,
    free: false,
};
const FREE: Kind = Kind {
    max: 2000,
    free: true,
};

fn check(path: &str, v: &str, kind: Kind) -> Result<(), WireError> {
    let refuse = |reason: String| WireError {
        field: path.to_string(),
        reason,
    };
    for (i, c) in v.chars().enumerate() {
        let allowed_space = kind.free && matches!(c, '\n' | '\r' | '\t');
        let bidi = matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
        if (c.is_control() && !allowed_space) || bidi || c == '\u{FEFF}' {
            return Err(refuse(format!(
                "contains the control character U+{:04X} at position {}",
                u32::from(c),
                i + 1
            )));
        }
        if i >= kind.max {
            return Err(refuse(format!(
                "is longer than {} characters ({} bytes)",
                kind.max,
                v.len()
            )));
        }
    }
    Ok(())
}

fn payment(at: &str, p: &pb::PaymentDocument) -> Result<(), WireError> {
    check(&format!("{at}.document_number"), &p.document_number, CODE)?;
    check(&format!("{at}.payer_name"), &p.payer_name, ORG)?;
    check(&format!("{at}.recipient_name"), &p.recipient_name, ORG)
}

fn person(at: &str, p: &PersonFields) -> Result<(), WireError> {
    let fields = [
        ("surname", p.surname, NAME),
        ("name", p.name, NAME),
        ("patronymic", p.patronymic, NAME),
        ("address", p.address, ORG),
        ("postcode", p.postcode, CODE),
        ("citizenship", p.citizenship, CODE),
        ("sex", p.sex, CODE),
    ];
    for (n, v, k) in fields {
        check(&format!("{at}.{n}"), v, k)?;
    }
    if let Some(d) = p.document {
        check(&format!("{at}.document.series"), &d.series, CODE)?;
        check(&format!("{at}.document.number"), &d.number, CODE)?;
        check(&format!("{at}.document.issuer"), &d.issuer, ORG)?;
    }
    Ok(())
}

/// The first text field of `e` that breaks the rules above, by its path.
pub fn check_texts(e: &pb::Envelope) -> Result<(), WireError> {
    check("source", &e.source, CODE)?;
    use pb::envelope::Payload as P;
    match &e.payload {
        None => Ok(()),
        Some(P::Contribution(c)) => {
            if let Some(p) = &c.payment {
                payment("contribution.payment", p)?;
            }
            if let Some(p) = &c.person {
                check("contribution.person.surname", &p.surname, NAME)?;
                check("contribution.person.name", &p.name, NAME)?;
                check("contribution.person.patronymic", &p.patronymic, NAME)?;
            }
            Ok(())
        }
        Some(P::Refund(r)) => {
            check("refund.application_id", &r.application_id, CODE)?;
            check("refund.reason", &r.reason, FREE)?;
            r.payment
                .as_ref()
                .map_or(Ok(()), |p| payment("refund.payment", p))
        }
        Some(P::BenefitAssigned(b)) => check("benefit_assigned.benefit_id", &b.benefit_id, CODE),
        Some(P::BenefitStatus(s)) => {
            check("benefit_status.benefit_id", &s.benefit_id, CODE)?;
            check("benefit_status.reason", &s.reason, FREE)
        }
        Some(P::BenefitPaid(b)) => {
            check("benefit_paid.benefit_id", &b.benefit_id, CODE)?;
            b.payment
                .as_ref()
                .map_or(Ok(()), |p| payment("benefit_paid.payment", p))
        }
        Some(P::BenefitReturned(b)) => {
            check("benefit_returned.benefit_id", &b.benefit_id, CODE)?;
            b.payment
                .as_ref()
                .map_or(Ok(()), |p| payment("benefit_returned.payment", p))
        }
        Some(P::Person(p)) => person("person", &PersonFields::of_registered(p)),
        Some(P::PersonChanged(p)) => person("person_changed", &PersonFields::of_changed(p)),
        Some(P::Merged(m)) => check("merged.reason", &m.reason, FREE),
        Some(P::MergeTransfer(t)) => check("merge_transfer.reason", &t.reason, FREE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_lengths_are_refused_by_field() {
        for (v, kind, ok) in [
            ("Ахметова", NAME, true),
            ("Ахметова\u{0000}", NAME, false),
            ("\u{0007}", NAME, false),
            ("Ахм\u{202E}етова", NAME, false),
            ("Ах\u{FEFF}метова", NAME, false),
            ("line one\nline two", FREE, true),
            ("line one\nline two", NAME, false),
            ("\u{009B}", FREE, false),
        ] {
            assert_eq!(check("f", v, kind).is_ok(), ok, "{v:?}");
        }
        assert!(check("f", &"я".repeat(200), NAME).is_ok());
        let long = check("f", &"я".repeat(201), NAME).unwrap_err();
        assert_eq!(long.field, "f");
        assert!(
            long.reason
                .contains("longer than 200 characters (402 bytes)"),
            "{long}"
        );
    }
}
