//! Inputs §3: one fact, one content hash, however a producer spelled it.
//! Properties over random amounts, names and spellings: every spelling of
//! a line hashes like its canonical spelling, and canonical bytes are a
//! fixed point (the store keeps them and re-derives hashes from them).

use ledger_proto::{decode_canonical, parse_line, v1 as pb};
use proptest::prelude::*;
use prost::Message;

const IIN: &str = "900517400451";
const BIN: &str = "150340000179";

fn envelope(amount: &str, surname: &str, payer_name: &str, sex: Option<&str>) -> pb::Envelope {
    let payload = match sex {
        None => pb::envelope::Payload::Contribution(pb::ContributionPaid {
            payment: Some(pb::PaymentDocument {
                document_number: "PP-1".into(),
                received_on: "2025-04-10".into(),
                ppc: "012".into(),
                payer_id: BIN.into(),
                payer_name: payer_name.into(),
                total_amount: amount.into(),
                line_count: 1,
                ..Default::default()
            }),
            period: "2025-03".into(),
            amount: amount.into(),
            person: Some(pb::PersonName {
                surname: surname.into(),
                name: "Айгерим".into(),
                patronymic: String::new(),
                birth_date: "1990-05-17".into(),
            }),
        }),
        Some(sex) => pb::envelope::Payload::Person(pb::PersonRegistered {
            surname: surname.into(),
            name: "Айгерим".into(),
            birth_date: "1990-05-17".into(),
            sex: sex.into(),
            ..Default::default()
        }),
    };
    pb::Envelope {
        event_id: "e-1".into(),
        iin: IIN.into(),
        source: "bank".into(),
        signature: None,
        payload: Some(payload),
    }
}

/// Spellings of `tiyn` as producers' runtimes write them.
fn spellings(tiyn: u64) -> Vec<String> {
    let (whole, frac) = (tiyn / 100, tiyn % 100);
    let mut out = vec![
        format!("{whole}.{frac:02}"),
        format!("{whole}.{frac:02}00"),
        format!("+{whole}.{frac:02}"),
        format!("00{whole}.{frac:02}"),
        format!("{tiyn}E-2"),
        format!("{tiyn}e-2"),
        format!("{}.{:02}E+1", whole / 10, (whole % 10) * 10 + frac / 10)
            + if frac % 10 == 0 { "" } else { "X" },
    ];
    if frac == 0 {
        out.push(whole.to_string());
        out.push(format!("{whole}."));
    }
    if frac % 10 == 0 {
        out.push(format!("{whole}.{}", frac / 10));
    }
    out.retain(|s| !s.ends_with('X'));
    out
}

/// A surname in decomposed form and with stray white space.
fn respell(name: &str, pad: bool) -> String {
    let nfd: String = unicode_normalization::UnicodeNormalization::nfd(name).collect();
    if pad {
        format!("  {}\t", nfd.replace(' ', "   "))
    } else {
        nfd
    }
}

fn hash_of(e: &pb::Envelope) -> [u8; 32] {
    decode_canonical(&e.encode_to_vec()).unwrap().hash.0
}

proptest! {
    #[test]
    fn every_spelling_hashes_like_the_canonical_one(
        tiyn in 1u64..100_000_000_000_000,
        surname in prop::sample::select(vec!["Байжанов", "Семёнова", "Müller", "Ölçek Ýılmaz", "Ахметова"]),
        pad in any::<bool>(),
        pick in any::<prop::sample::Index>(),
    ) {
        let canonical = {
            let m = ledger_core::Money::from_tiyn(i64::try_from(tiyn).unwrap());
            envelope(&m.to_string(), surname, "ТОО Пример", None)
        };
        let all = spellings(tiyn);
        let spelled = pick.get(&all);
        let other = envelope(spelled, &respell(surname, pad), &respell("ТОО Пример", pad), None);
        prop_assert_eq!(hash_of(&other), hash_of(&canonical), "{} {:?}", spelled, surname);
        // A fixed point: canonical bytes decode to themselves.
        let d = decode_canonical(&other.encode_to_vec()).unwrap();
        let again = decode_canonical(&d.canonical).unwrap();
        prop_assert_eq!(&again.canonical, &d.canonical);
        prop_assert_eq!(again.hash, d.hash);
    }
}

#[test]
fn sex_codes_and_json_lines_are_canonical_too() {
    assert_eq!(
        hash_of(&envelope("", "Ахметова", "", Some("f"))),
        hash_of(&envelope("", "Ахметова", "", Some("F")))
    );
    // A JSON line and the protobuf a Java producer sends for the same line
    // are one record.
    let line = format!(
        r#"{{"eventId":"e-1","iin":"{IIN}","source":"bank","contribution":{{"payment":{{"documentNumber":"PP-1","receivedOn":"2025-04-10","ppc":"012","payerId":"{BIN}","payerName":" ТОО  Пример ","totalAmount":"6E+2","lineCount":1}},"period":"2025-03","amount":"600","person":{{"surname":"Ахметова","name":"Айгерим","birthDate":"1990-05-17"}}}}}}"#
    );
    let parsed = parse_line(&line).unwrap();
    assert_eq!(
        parsed.wire,
        envelope("600.00", "Ахметова", "ТОО Пример", None)
    );
    // A different value is a different fact.
    assert_ne!(
        hash_of(&envelope("600.01", "Ахметова", "ТОО Пример", None)),
        hash_of(&envelope("600.00", "Ахметова", "ТОО Пример", None))
    );
}
