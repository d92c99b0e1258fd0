//! The wire contract: JSON mapping, field-named errors, and golden bytes
//! that old producers wrote and the ledger must always decode.

use ledger_core::{Event, Money, Ppc};
use ledger_proto::{decode_envelope, encode_envelope, parse_line, v1 as pb};
use std::path::PathBuf;

/// Synthetic IIN and BIN from the project's generator (never real people).
const IIN: &str = "900517400451";
const BIN: &str = "150340000179";

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn contribution_json(id_key: &str, doc_key: &str) -> String {
    format!(
        r#"{{"{id_key}":"evt-1","iin":"{IIN}","source":"bank-x","contribution":{{
            "payment":{{"{doc_key}":"PP-1","receivedOn":"2025-04-10","ppc":"012","payerId":"{BIN}",
                        "payerName":"ТОО Пример","totalAmount":"4250.00","lineCount":1}},
            "period":"2025-03","amount":"4250","person":{{"surname":"Ахметова","name":"Айгерим",
            "birthDate":"1990-05-17"}}}}}}"#
    )
    .replace('\n', "")
}

#[test]
fn fixture_ids_are_valid() {
    assert!(ledger_core::Iin::parse(IIN).is_ok());
    assert_eq!(
        ledger_core::PayerId::parse(BIN).unwrap().kind(),
        ledger_core::IdKind::Bin
    );
}

#[test]
fn camel_case_and_original_names_both_parse() {
    let a = parse_line(&contribution_json("eventId", "documentNumber")).unwrap();
    let b = parse_line(&contribution_json("event_id", "document_number")).unwrap();
    assert_eq!(a.wire, b.wire);
    assert_eq!(a.envelope, b.envelope);
    let Event::ContributionPaid(c) = &a.envelope.event else {
        panic!("contribution expected")
    };
    assert_eq!(c.amount, Money::parse("4250.00").unwrap());
    assert_eq!(c.payment.ppc, Ppc::CONTRIBUTION);
    assert_eq!(a.timestamp, None);
}

#[test]
fn wrapped_line_carries_the_record_timestamp() {
    let line = format!(
        r#"{{"timestamp":"2025-04-11T10:00:00+05:00","envelope":{}}}"#,
        contribution_json("eventId", "documentNumber")
    );
    let p = parse_line(&line).unwrap();
    assert_eq!(
        p.timestamp.unwrap().to_rfc3339(),
        "2025-04-11T05:00:00+00:00"
    );
    let bad = line.replace("2025-04-11T10:00:00+05:00", "yesterday");
    assert_eq!(parse_line(&bad).unwrap_err().field, "timestamp");
}

#[test]
fn errors_name_the_field() {
    let cases = [
        (
            contribution_json("eventId", "documentNumber")
                .replace("\"2025-04-10\"", "\"2025-13-10\""),
            "contribution.payment.received_on",
        ),
        (
            contribution_json("eventId", "documentNumber").replace("\"4250\"", "\"42.501\""),
            "contribution.amount",
        ),
        (
            contribution_json("eventId", "documentNumber").replace("\"012\"", "\"026\""),
            "contribution.payment.ppc",
        ),
        (
            contribution_json("eventId", "documentNumber").replace(IIN, "900517400452"),
            "iin",
        ),
        (
            contribution_json("eventId", "documentNumber").replace("\"period\"", "\"perod\""),
            "contribution.perod",
        ),
        (
            contribution_json("eventId", "documentNumber").replace("\"Ахметова\"", "\"\""),
            "contribution.person.surname",
        ),
        (format!(r#"{{"eventId":"x","iin":"{IIN}"}}"#), "payload"),
    ];
    for (line, field) in cases {
        let e = parse_line(&line).unwrap_err();
        assert_eq!(e.field, field, "{e}");
        assert!(!e.reason.is_empty());
    }
}

/// One envelope of each payload kind, as a producer of schema v1 encodes it.
fn golden_envelopes() -> Vec<pb::Envelope> {
    let doc = pb::PaymentDocument {
        document_number: "PP-77".into(),
        document_date: "2025-04-09".into(),
        received_on: "2025-04-10".into(),
        dispatched_on: "2025-04-09".into(),
        ppc: "012".into(),
        payer_id: BIN.into(),
        payer_name: "ТОО Пример".into(),
        recipient_name: "Госкорпорация".into(),
        total_amount: "4250.00".into(),
        line_count: 1,
    };
    use pb::envelope::Payload as P;
    let env = |id: &str, p: P| pb::Envelope {
        event_id: id.into(),
        iin: IIN.into(),
        source: "golden".into(),
        signature: None,
        payload: Some(p),
    };
    let person = pb::PersonRegistered {
        surname: "Ахметова".into(),
        name: "Айгерим".into(),
        birth_date: "1990-05-17".into(),
        sex: "F".into(),
        document: Some(pb::IdentityDocument {
            series: "N".into(),
            number: "012345678".into(),
            issued_on: "2020-01-15".into(),
            issuer: "МВД РК".into(),
        }),
        citizenship: "KZ".into(),
        ..Default::default()
    };
    vec![
        env(
            "g-1",
            P::Contribution(pb::ContributionPaid {
                payment: Some(doc.clone()),
                period: "2025-03".into(),
                amount: "4250.00".into(),
                person: Some(pb::PersonName {
                    surname: "Ахметова".into(),
                    name: "Айгерим".into(),
                    patronymic: String::new(),
                    birth_date: "1990-05-17".into(),
                }),
            }),
        ),
        env(
            "g-2",
            P::Refund(pb::ContributionRefunded {
                application_id: "APP-1".into(),
                reason: "overpaid".into(),
                refunded_ppc: "012".into(),
                period: "2025-03".into(),
                amount: "100.00".into(),
                payer_id: BIN.into(),
                decided_on: "2025-05-02".into(),
                payment: None,
                // Not set: the golden bytes predate the field, and still
                // decode (a refund outside an application).
                application_size: 0,
            }),
        ),
        env(
            "g-3",
            P::BenefitAssigned(pb::BenefitAssigned {
                benefit_id: "B-1".into(),
                benefit_type: "0705".into(),
                applied_on: "2025-06-01".into(),
                decided_on: "2025-06-05".into(),
                start_period: "2025-06".into(),
                end_period: "2026-11".into(),
                monthly_amount: "34000.00".into(),
                child_birth_order: 1,
                ..Default::default()
            }),
        ),
        env(
            "g-4",
            P::BenefitStatus(pb::BenefitStatusChanged {
                benefit_id: "B-1".into(),
                status: pb::BenefitStatus::Suspended as i32,
                effective_on: "2025-09-01".into(),
                reason: "r".into(),
            }),
        ),
        env(
            "g-5",
            P::BenefitPaid(pb::BenefitPaid {
                benefit_id: "B-1".into(),
                period: "2025-06".into(),
                amount: "34000.00".into(),
                pension_contribution_withheld: "3400.00".into(),
                payment: Some(pb::PaymentDocument {
                    ppc: "091".into(),
                    ..doc.clone()
                }),
            }),
        ),
        env(
            "g-6",
            P::BenefitReturned(pb::BenefitReturned {
                benefit_id: "B-1".into(),
                period: "2025-06".into(),
                amount: "100.00".into(),
                payment: None,
            }),
        ),
        env("g-7", P::Person(person.clone())),
        env(
            "g-8",
            P::PersonChanged(pb::PersonDataChanged {
                surname: "Ахметова-Нур".into(),
                effective_on: "2025-07-01".into(),
                ..Default::default()
            }),
        ),
    ]
}

/// `golden/envelopes.hex` holds one encoded envelope per line. Regenerate
/// only on purpose: `SI_LEDGER_BLESS=1 cargo test -p ledger-proto`.
#[test]
fn golden_bytes_decode_to_known_values() {
    let path = golden_dir().join("envelopes.hex");
    let expected = golden_envelopes();
    if std::env::var_os("SI_LEDGER_BLESS").is_some() {
        let text: String = expected
            .iter()
            .map(|e| hex::encode(encode_envelope(e)) + "\n")
            .collect();
        std::fs::write(&path, text).unwrap();
    }
    let text = std::fs::read_to_string(&path).expect("golden file is committed");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), expected.len());
    let kinds = [
        "contribution",
        "refund",
        "benefit_assigned",
        "benefit_status",
        "benefit_paid",
        "benefit_returned",
        "person",
        "person_changed",
    ];
    for ((line, want), kind) in lines.iter().zip(&expected).zip(kinds) {
        let bytes = hex::decode(line).unwrap();
        let (env, _) = decode_envelope(&bytes).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(env.event.kind(), kind);
        assert_eq!(env.iin.as_str(), IIN);
        assert_eq!(
            encode_envelope(want),
            bytes,
            "{kind}: today's encoder writes other bytes"
        );
    }
    let (first, hash) = decode_envelope(&hex::decode(lines[0]).unwrap()).unwrap();
    let Event::ContributionPaid(c) = first.event else {
        unreachable!()
    };
    assert_eq!(c.amount.to_string(), "4250.00");
    assert_eq!(c.payment.received_on.to_string(), "2025-04-10");
    assert_eq!(c.person.birth_date.to_string(), "1990-05-17");
    assert_eq!(format!("{hash:?}").len(), 16);
}

#[test]
fn garbage_bytes_are_a_decode_error() {
    let e = decode_envelope(&[0xff, 0xff, 0xff]).unwrap_err();
    assert_eq!(e.kind(), "undecodable");
}

/// A `MonthClosed` marker's bytes (issue 25): one written before the
/// overrides existed decodes with none, and a marker without overrides is
/// still encoded to exactly those bytes (so its signature holds); the
/// overrides, when given, are fields 3 and 4.
#[test]
fn month_closed_markers_keep_their_bytes_and_carry_overrides() {
    use ledger_core::close::CloseOverrides;
    use ledger_proto::monthly::Control;
    use ledger_proto::monthly::{decode_control, encode_month_closed, encode_month_closed_with};
    let period = ledger_core::Period::parse("2025-03").unwrap();
    // Control { month_closed (1): { period (1): "2025-03", closed_by (2): "golden" } }
    let old = "0a110a07323032352d30331206676f6c64656e";
    assert_eq!(
        hex::encode(encode_month_closed(period, "golden", None)),
        old
    );
    assert_eq!(
        decode_control(&hex::decode(old).unwrap()).unwrap(),
        Control::MonthClosed {
            period,
            closed_by: "golden".into(),
            overrides: CloseOverrides::default(),
        }
    );
    // … with allow_unended (3) and allow_before_epoch (4) set.
    let both = CloseOverrides {
        unended: true,
        before_epoch: true,
    };
    let overridden = "0a150a07323032352d30331206676f6c64656e18012001";
    assert_eq!(
        hex::encode(encode_month_closed_with(period, "golden", both, None)),
        overridden
    );
    assert_eq!(
        decode_control(&hex::decode(overridden).unwrap()).unwrap(),
        Control::MonthClosed {
            period,
            closed_by: "golden".into(),
            overrides: both,
        }
    );
}
