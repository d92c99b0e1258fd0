//! The shared test vectors of the client libraries (issue 29):
//! `proto/testdata/vectors.json`, generated here from
//! `proto/testdata/cases.json` by the ledger's own code, and checked byte
//! for byte by the Java (`clients/java`) and Python (`clients/python`)
//! suites. A change of canonical form, of a check or of a field's name in
//! the ledger changes this file; the other two suites then fail until their
//! library follows.
//!
//! For each case, what the projector does with a record value:
//! decode, canonicalize (`ledger_proto::canonical`), check
//! (`envelope_from_wire`). An accepted case gives its canonical bytes
//! without the signature (what an authority signs, after the domain
//! prefix), the Ed25519 signature of the vectors' key over them, and the
//! whole record value with that signature. A refused case gives the field
//! and the reason; an undecodable one, why the decoder refuses the bytes.
//!
//! The key is RFC 8032's first test key (§7.1 TEST 1), so that its
//! public key and RFC 7638 key id can be checked against RFC 8037
//! (Appendix A) as well.
//!
//! `UPDATE_VECTORS=1 cargo test -p ledger-proto --test vectors` writes the
//! file; without it, the test fails when the file is not what the code
//! gives.

use ledger_core::authority::{public_key_text, signing_input, Domain, Signer};
use ledger_proto::{canonicalize, decode_canonical, envelope_from_wire, sign_envelope, v1 as pb};
use prost::Message;
use serde::Serialize;
use std::path::PathBuf;

/// RFC 8032 §7.1, TEST 1: the secret key.
const RFC8032_TEST1_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

#[derive(Serialize)]
struct Vectors {
    about: &'static str,
    signing: Signing,
    cases: Vec<Case>,
}

#[derive(Serialize)]
struct Signing {
    /// What precedes the canonical bytes in the signed message.
    domain_prefix: String,
    /// The key as `si-ledger keygen` writes it.
    pkcs8_pem: String,
    /// The public key, base64url without padding (JWK `x`).
    public_key: String,
    /// Its RFC 7638 thumbprint.
    key_id: String,
}

#[derive(Serialize)]
struct Case {
    name: String,
    /// The record value as the producer wrote it (cases.json's envelope,
    /// encoded, with `append_hex` after it).
    input_hex: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    canonical_hex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature_hex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    record_hex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal: Option<Refusal>,
    /// Why the ledger cannot decode the value at all (a dead letter of
    /// kind `undecodable`).
    #[serde(skip_serializing_if = "Option::is_none")]
    undecodable: Option<String>,
}

#[derive(Serialize)]
struct Refusal {
    field: String,
    reason: String,
}

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto/testdata")
}

fn generate() -> String {
    let cases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(testdata().join("cases.json")).unwrap())
            .unwrap();
    let seed: [u8; 32] = hex::decode(RFC8032_TEST1_SEED).unwrap().try_into().unwrap();
    let signer = Signer::from_seed(&seed);
    let mut out = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for case in cases["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap().to_string();
        assert!(names.insert(name.clone()), "two cases are named {name:?}");
        let wire: pb::Envelope = serde_json::from_value(case["envelope"].clone())
            .unwrap_or_else(|e| panic!("{name}: not an Envelope in the JSON mapping: {e}"));
        assert!(
            !matches!(wire.payload, Some(pb::envelope::Payload::MergeTransfer(_))),
            "{name}: merge transfers are the projector's, never a producer's"
        );
        let mut input = Vec::new();
        if let Some(extra) = case.get("prepend_hex") {
            input.extend(hex::decode(extra.as_str().unwrap()).unwrap());
        }
        input.extend(wire.encode_to_vec());
        if let Some(extra) = case.get("append_hex") {
            input.extend(hex::decode(extra.as_str().unwrap()).unwrap());
        }
        // What the projector does with the value.
        let expect_undecodable = name.starts_with("undecodable: ");
        let mut decoded = match pb::Envelope::decode(input.as_slice()) {
            Ok(d) => {
                assert!(
                    !expect_undecodable,
                    "{name}: decoded, but named undecodable"
                );
                d
            }
            Err(e) => {
                assert!(
                    expect_undecodable,
                    "{name}: undecodable ({e}), but not named so"
                );
                out.push(Case {
                    name,
                    input_hex: hex::encode(&input),
                    canonical_hex: None,
                    signature_hex: None,
                    record_hex: None,
                    refusal: None,
                    undecodable: Some(e.to_string()),
                });
                continue;
            }
        };
        canonicalize(&mut decoded);
        let checked = envelope_from_wire(&decoded);
        let expect_refusal = name.starts_with("refused: ");
        let case = match checked {
            Err(e) => {
                assert!(expect_refusal, "{name}: refused ({e}), but not named so");
                Case {
                    name,
                    input_hex: hex::encode(&input),
                    canonical_hex: None,
                    signature_hex: None,
                    record_hex: None,
                    refusal: Some(Refusal {
                        field: e.field,
                        reason: e.reason,
                    }),
                    undecodable: None,
                }
            }
            Ok(_) => {
                assert!(!expect_refusal, "{name}: accepted, but named refused");
                let mut unsigned = decoded.clone();
                unsigned.signature = None;
                let canonical = unsigned.encode_to_vec();
                let mut signed = decoded;
                sign_envelope(&mut signed, &signer);
                let sig = signed.signature.clone().unwrap();
                let record = signed.encode_to_vec();
                // The projector takes the record as it is, and finds the
                // signed bytes the signature was made over.
                let d = decode_canonical(&record).unwrap();
                assert_eq!(d.canonical, record, "{name}: a record is canonical");
                assert_eq!(d.signed.as_ref().unwrap().1, canonical, "{name}");
                assert_eq!(
                    signer.sign(Domain::Envelope, &canonical).value,
                    sig.value,
                    "{name}"
                );
                Case {
                    name,
                    input_hex: hex::encode(&input),
                    canonical_hex: Some(hex::encode(&canonical)),
                    signature_hex: Some(hex::encode(&sig.value)),
                    record_hex: Some(hex::encode(&record)),
                    refusal: None,
                    undecodable: None,
                }
            }
        };
        out.push(case);
    }
    let v = Vectors {
        about: "Generated by crates/ledger-proto/tests/vectors.rs from cases.json (the inputs, by name); do not edit: see README.md here.",
        signing: Signing {
            domain_prefix: String::from_utf8(signing_input(Domain::Envelope, b"")).unwrap(),
            pkcs8_pem: signer.to_pem().unwrap(),
            public_key: public_key_text(&signer.verifying_key()),
            key_id: signer.key_id().to_string(),
        },
        cases: out,
    };
    serde_json::to_string_pretty(&v).unwrap() + "\n"
}

#[test]
fn the_shared_vectors_are_what_the_ledger_does() {
    let text = generate();
    let path = testdata().join("vectors.json");
    if std::env::var_os("UPDATE_VECTORS").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == text,
        "proto/testdata/vectors.json is not what the ledger's code gives: if the change is \
         meant, run `UPDATE_VECTORS=1 cargo test -p ledger-proto --test vectors` and make the \
         Java and Python clients follow"
    );
}

/// The vectors' key is RFC 8032's TEST 1 key, whose public key and key id
/// RFC 8037 Appendix A.1 and A.3 print.
#[test]
fn the_vectors_key_is_the_rfcs_own() {
    let seed: [u8; 32] = hex::decode(RFC8032_TEST1_SEED).unwrap().try_into().unwrap();
    let signer = Signer::from_seed(&seed);
    assert_eq!(
        public_key_text(&signer.verifying_key()),
        "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    );
    assert_eq!(
        signer.key_id(),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
}
