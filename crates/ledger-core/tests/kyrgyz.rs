//! A Kyrgyz deployment (`--id-scheme kg`, DOMAIN §2): participants keyed by
//! 14-digit PINs, payers by 14-digit numbers. Its own test binary, since
//! the identifier scheme is one per process.

use chrono::NaiveDate;
use ledger_core::*;

fn kg() {
    id::set_scheme(IdScheme::Kg).unwrap();
}

fn pin() -> Iin {
    Iin::generate_pin(
        NaiveDate::from_ymd_opt(1990, 5, 17).unwrap(),
        Sex::Female,
        1,
    )
    .unwrap()
}

#[test]
fn domain_2_the_deployment_parses_pins_and_refuses_iins() {
    kg();
    assert_eq!(Iin::parse(pin().as_str()), Ok(pin()));
    assert!(matches!(
        Iin::parse("871008401427"),
        Err(IdError::Length(12))
    ));
    assert_eq!(
        IdError::Length(12).to_string(),
        "must be exactly 14 digits, got 12 characters"
    );
    // A second scheme in one process is refused.
    assert!(id::set_scheme(IdScheme::Kz).is_err());
}

#[test]
fn domain_2_a_fourteen_digit_payer_survives_the_store_encoding() {
    kg();
    let payer = PayerId::parse("01234567890123").unwrap();
    assert_eq!(payer.kind(), IdKind::Bin);
    let person = PayerId::from(pin());
    assert_eq!(person.kind(), IdKind::Iin);
    for p in [payer, person] {
        let bytes = postcard::to_stdvec(&p).unwrap();
        assert_eq!(postcard::from_bytes::<PayerId>(&bytes).unwrap(), p);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, format!("\"{p}\""));
    }
}
