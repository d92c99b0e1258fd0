//! Golden files (`tests/data/*.mt102`, written by `tests/data/make.py` with
//! Python's codecs): each file read as `import mt102` reads it, and what
//! became of each message, envelope by envelope, compared with
//! `tests/data/<name>.expected` (`UPDATE_EXPECT=1` writes them anew; read
//! the difference before committing it).

use ledger_mt102::{decode, messages, read, Item, Options, Outcome};
use std::collections::HashMap;
use std::fmt::Write as _;

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn rnn_map() -> HashMap<String, String> {
    String::from_utf8(data("rnn-map.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let (r, i) = l.split_once(',').unwrap();
            (r.to_string(), i.to_string())
        })
        .collect()
}

/// What the import makes of a file, as text.
fn render(name: &str, opts: &Options) -> String {
    let d = decode(&data(name), None).unwrap();
    let mut out = format!("encoding: {} ({})\n", d.encoding, d.why);
    for item in messages(&d.text) {
        match item {
            Item::Stray { line, reason } => writeln!(out, "line {line}: {reason}").unwrap(),
            Item::Message(m) => match read(&m, opts) {
                Outcome::Imported(o) => {
                    writeln!(
                        out,
                        "line {}: imported {:?} /NUM/{:?} ppc {} payer {}: {} of {} lines, {} of {}; received on {} ({})",
                        o.id.line,
                        o.id.reference.as_deref().unwrap_or(""),
                        o.id.document_number.as_deref().unwrap_or(""),
                        o.ppc,
                        o.payer_id,
                        o.envelopes.len(),
                        o.line_count,
                        o.sum,
                        o.total,
                        o.received_on,
                        o.received_on_from
                    )
                    .unwrap();
                    for r in &o.refused {
                        writeln!(out, "  line {} refused: {}: {}", r.line, r.field, r.reason)
                            .unwrap();
                    }
                    for (iin, e) in &o.envelopes {
                        assert_eq!(iin.as_str(), e.iin);
                        writeln!(out, "  {}", serde_json::to_string(e).unwrap()).unwrap();
                    }
                }
                Outcome::Skipped { id, ppc } => writeln!(
                    out,
                    "line {}: skipped {:?}: purpose code {ppc}",
                    id.line,
                    id.reference.unwrap_or_default()
                )
                .unwrap(),
                Outcome::Refused { id, why } => writeln!(
                    out,
                    "line {}: refused {:?} /NUM/{:?}: line {}: {}: {}",
                    id.line,
                    id.reference.unwrap_or_default(),
                    id.document_number.unwrap_or_default(),
                    why.line,
                    why.field,
                    why.reason
                )
                .unwrap(),
            },
        }
    }
    out
}

fn golden(name: &str, opts: &Options) {
    let expected = expect_test::expect_file![format!(
        "{}/tests/data/{}.expected",
        env!("CARGO_MANIFEST_DIR"),
        name.trim_end_matches(".mt102")
    )];
    expected.assert_eq(&render(name, opts));
}

#[test]
fn one_line_and_multi_line_orders_in_every_encoding() {
    for name in ["utf-8.mt102", "cp866.mt102", "cp1251.mt102", "kz1048.mt102"] {
        golden(name, &Options::default());
    }
}

#[test]
fn every_encoding_gives_the_same_envelopes_but_for_the_names() {
    // The same orders, written in four encodings with other references
    // and each its own first person: amounts, periods, the other
    // identifiers and dates are the same.
    let strip = |name: &str| -> Vec<(String, String, String)> {
        let d = decode(&data(name), None).unwrap();
        messages(&d.text)
            .filter_map(|i| match i {
                Item::Message(m) => match read(&m, &Options::default()) {
                    Outcome::Imported(o) => Some(o),
                    _ => None,
                },
                _ => None,
            })
            .flat_map(|o| o.envelopes)
            .map(|(iin, e)| match e.payload {
                // The first person is each file's own (born 1985-12-31).
                Some(ledger_proto::v1::envelope::Payload::Contribution(c)) => {
                    let who = if iin.as_str().starts_with("851231") {
                        "the file's own".to_string()
                    } else {
                        iin.as_str().to_string()
                    };
                    (who, c.period, c.amount)
                }
                _ => unreachable!(),
            })
            .collect()
    };
    let utf8 = strip("utf-8.mt102");
    assert_eq!(utf8.len(), 4);
    for name in ["cp866.mt102", "cp1251.mt102", "kz1048.mt102"] {
        assert_eq!(strip(name), utf8, "{name}");
    }
}

#[test]
fn the_anomalies_producers_write() {
    golden("anomalies.mt102", &Options::default());
}

#[test]
fn a_penalty_order_017_is_imported_line_by_line() {
    golden("penalty.mt102", &Options::default());
}

#[test]
fn rnn_era_lines_are_keyed_through_the_map_or_refused_alone() {
    golden(
        "rnn-era.mt102",
        &Options {
            rnn_map: Some(rnn_map()),
            ..Options::default()
        },
    );
    // Without the map the payer cannot be named: the order is refused.
    let out = render("rnn-era.mt102", &Options::default());
    assert!(out.contains("refused \"RNN00001\""), "{out}");
    assert!(out.contains("give --rnn-map"), "{out}");
}

#[test]
fn orders_that_do_not_add_up_or_fit_are_refused_whole() {
    golden(
        "refused.mt102",
        &Options {
            received_on: chrono::NaiveDate::from_ymd_opt(2025, 4, 11),
            source: Some("bank-x".into()),
            rnn_map: None,
        },
    );
}

#[test]
fn a_refusal_quotes_no_birth_date_and_no_line_that_may_hold_a_name() {
    let text = String::from_utf8(data("utf-8.mt102")).unwrap();
    let second = text.rfind("{1:").unwrap();
    // A name where the first order's person :70: should begin; a bad
    // birth date in the second order.
    let text = text[..second].replacen(":70:/OPV/S\n", ":70:ӘЛІМОВА\n/OPV/S\n", 1)
        + &text[second..].replacen("/DT/19851231", "/DT/19851399", 1);
    let d = decode(text.as_bytes(), None).unwrap();
    let reasons: Vec<String> = messages(&d.text)
        .map(|i| match i {
            Item::Message(m) => match read(&m, &Options::default()) {
                Outcome::Refused { why, .. } => {
                    format!("{}: {}: {}", why.line, why.field, why.reason)
                }
                o => panic!("{o:?}"),
            },
            i => panic!("{i:?}"),
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "30: (message): a line that is not a /CODE/value subfield begins the field (not quoted: it may hold a name)",
            "72: :70:/DT/: is not a date YYYYMMDD (a birth date: not quoted)",
        ]
    );
}

#[test]
fn a_missing_tag_is_named_where_its_subfields_landed() {
    // The order's `:70:` tag dropped: /NUM/ … /KNP/ are read under :59:.
    let text =
        String::from_utf8(data("utf-8.mt102"))
            .unwrap()
            .replacen(":70:/NUM/110", "/NUM/110", 1);
    let d = decode(text.as_bytes(), None).unwrap();
    let first = messages(&d.text).next().unwrap();
    let Item::Message(m) = first else { panic!() };
    let Outcome::Refused { why, .. } = read(&m, &Options::default()) else {
        panic!()
    };
    assert_eq!(
        why.to_string(),
        ":70:/KNP/: is under :59: here: the order's :70: tag is missing before it"
    );
    assert_eq!(why.line, 25);
}
