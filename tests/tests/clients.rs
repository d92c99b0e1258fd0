//! Issue 29: the client libraries (`clients/java`, `clients/python`) end
//! to end on Apache Kafka. Each client's README examples publish a payment
//! order in one transaction, a register record and a Fund benefit signed
//! with the tests' key, and an order aborted half-way; the projector
//! applies what was committed (signatures accepted, nothing dead-lettered,
//! the aborted order nowhere), the same accounts from either language.
//! Publishing the order again changes no balance.
//!
//! The libraries' own suites (the shared vectors among them) run in
//! scripts/test before this: `mvn verify` and `pytest`.

use ledger_e2e::{
    balances, kafka_brokers, keys_dir, project_to_end, run, stderr, stdout, unique_topic,
};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Clone, Copy, Debug)]
enum Client {
    Java,
    Python,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The client's example `name` (`publish_payment_order` …) with `args`,
/// run to its end, which must succeed; its output.
fn example(client: Client, name: &str, args: &[&str]) -> String {
    let mut c = match client {
        Client::Java => {
            let classpath = std::env::var("SI_LEDGER_JAVA_CLIENT_CP").unwrap_or_else(|_| {
                panic!(
                    "SI_LEDGER_JAVA_CLIENT_CP is not set: run this test through scripts/test, \
                     which builds clients/java with Maven and sets it"
                )
            });
            let class: String = name
                .split('_')
                .map(|w| w[..1].to_uppercase() + &w[1..])
                .collect();
            let mut c = Command::new("java");
            c.args(["-Xmx256m", "-XX:+UseSerialGC", "-cp", &classpath])
                .arg(format!("kz.siledger.client.example.{class}"));
            c
        }
        Client::Python => {
            let python = std::env::var("SI_LEDGER_CLIENT_PYTHON").unwrap_or_else(|_| {
                panic!(
                    "SI_LEDGER_CLIENT_PYTHON is not set: run this test through scripts/test, \
                     which installs clients/python in a virtual environment and sets it"
                )
            });
            let mut c = Command::new(python);
            c.arg(root().join(format!("clients/python/examples/{name}.py")));
            c
        }
    };
    let o = c.args(args).output().unwrap();
    assert!(
        o.status.success(),
        "{client:?} {name} {args:?}: {}{}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

fn project(topic: &str, data: &Path) -> String {
    let o = project_to_end(&kafka_brokers(), topic, data, &[]);
    assert!(o.status.success(), "project: {}", stderr(&o));
    stdout(&o) + &stderr(&o)
}

fn account(iin: &str, data: &Path) -> serde_json::Value {
    let o = run(&["account", iin, "--data", data.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "account: {}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

/// Publishes each example of `client` to a fresh topic of four partitions
/// (so that a record placed otherwise than by murmur2 is dead-lettered),
/// projects it, checks the accounts and returns their balances.
fn publish_and_project(client: Client, dir: &Path) -> Vec<serde_json::Value> {
    let brokers = kafka_brokers();
    let topic = unique_topic(&format!("client-{client:?}").to_lowercase());
    let o = run(&[
        "topics",
        "create",
        "--brokers",
        &brokers,
        "--topic",
        &topic,
        "--partitions",
        "4",
    ]);
    assert!(o.status.success(), "topics create: {}", stderr(&o));
    let key = keys_dir().join("test.key");

    let out = example(client, "publish_payment_order", &[&brokers, &topic]);
    assert!(out.contains("published 2 lines"), "{out}");
    let out = example(
        client,
        "publish_signed_records",
        &[&brokers, &topic, key.to_str().unwrap()],
    );
    assert!(out.contains("published 3 signed records"), "{out}");
    let out = example(client, "aborted_order", &[&brokers, &topic]);
    assert!(out.contains("aborted: "), "{out}");

    let data = dir.join(format!("{client:?}"));
    let said = project(&topic, &data);
    assert!(
        said.contains("projected 5 records") && said.contains("5 applied"),
        "{client:?}: {said}"
    );
    let letters = stdout(&run(&["dead-letters", "--data", data.to_str().unwrap()]));
    assert!(
        letters.starts_with("0 dead letters"),
        "{client:?}: {letters}"
    );

    // The order's lines, the register's person and the Fund's benefit;
    // nothing of the aborted order (99,999.00 and 11,111.00).
    let first = account("900517400015", &data);
    assert_eq!(first["contributions_total"], "27050.00", "{first}");
    assert_eq!(first["person"]["surname"], "Ахметова", "{first}");
    assert_eq!(first["benefits"][0]["paid_total"], "180000.00", "{first}");
    assert!(
        first["rejections"].as_array().unwrap().is_empty(),
        "{first}"
    );
    let second = account("851201003007", &data);
    assert_eq!(second["contributions_total"], "27050.00", "{second}");
    let history = stdout(&run(&[
        "history",
        "900517400015",
        "--data",
        data.to_str().unwrap(),
        "--json",
    ]));
    let history: Vec<serde_json::Value> = serde_json::from_str(&history).unwrap();
    assert_eq!(history.len(), 4, "{history:?}");
    for entry in &history {
        assert_eq!(entry["outcome"], "applied", "{client:?}: {entry}");
        assert!(
            !entry["event_id"].as_str().unwrap().contains("PP-2"),
            "the aborted order was read: {entry}"
        );
    }
    let before = balances(&data);

    // The bank publishes the same order again (a retry after a crash):
    // two duplicates, no balance changed.
    example(client, "publish_payment_order", &[&brokers, &topic]);
    let said = project(&topic, &data);
    assert!(said.contains("2 duplicates ignored"), "{client:?}: {said}");
    assert_eq!(
        balances(&data),
        before,
        "{client:?}: a re-publish changed a balance"
    );
    before
}

#[test]
fn each_client_publishes_an_order_and_signed_records_the_ledger_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let java = publish_and_project(Client::Java, dir.path());
    let python = publish_and_project(Client::Python, dir.path());
    assert_eq!(java.len(), 2);
    assert_eq!(java, python, "the two clients' records project otherwise");
}

/// Every example a client's README or docs/kafka.md shows is a file this
/// suite runs, quoted as it is.
#[test]
fn the_docs_show_the_examples_the_tests_run() {
    let root = root();
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    let java_dir = "clients/java/src/test/java/kz/siledger/client/example";
    let examples = [
        (
            "clients/java/README.md",
            format!("{java_dir}/PublishPaymentOrder.java"),
        ),
        (
            "clients/java/README.md",
            format!("{java_dir}/PublishSignedRecords.java"),
        ),
        (
            "clients/python/README.md",
            "clients/python/examples/publish_payment_order.py".to_string(),
        ),
        (
            "clients/python/README.md",
            "clients/python/examples/publish_signed_records.py".to_string(),
        ),
    ];
    let mut files = Vec::new();
    for (readme, file) in &examples {
        let code = read(file);
        assert!(
            read(readme).contains(&code),
            "{readme} does not show {file} as it is"
        );
        files.push(code);
    }
    // docs/kafka.md quotes parts of them: every Java and Python block there
    // is in one of the files.
    let docs = read("docs/kafka.md");
    let mut quoted = 0;
    for lang in ["```java\n", "```python\n"] {
        for block in docs.split(lang).skip(1) {
            let (code, _) = block.split_once("```").unwrap();
            assert!(
                files.iter().any(|f| f.contains(code)),
                "docs/kafka.md shows code that no example runs:\n{code}"
            );
            quoted += 1;
        }
    }
    assert!(quoted >= 4, "docs/kafka.md quotes {quoted} examples");
}

/// Pieces of the random values: digits and dates, signs, points and
/// exponents, every kind of white space, control and format characters,
/// combining marks, digits of other scripts, codes and identifiers, and
/// long runs. Only characters every Unicode version since 6 knows: the
/// clients refuse what their runtime's Unicode does not (their READMEs).
const PIECES: &[&str] = &[
    "0",
    "1",
    "9",
    "12",
    "00",
    "01",
    "13",
    "31",
    "2025",
    "1899",
    "2200",
    "2201",
    "-",
    "+",
    ".",
    "e",
    "E",
    "1e3",
    "4250",
    "27050.00",
    "0.001",
    "999999999999",
    " ",
    "\u{a0}",
    "\t",
    "\n",
    "\r",
    "\u{1c}",
    "\u{1f}",
    "\u{7}",
    "\u{0}",
    "\u{85}",
    "\u{3000}",
    "\u{2028}",
    "\u{2007}",
    "\u{200b}",
    "\u{feff}",
    "\u{202e}",
    "\u{2066}",
    "\u{301}",
    "\u{306}",
    "\u{308}",
    "и",
    "е",
    "й",
    "A",
    "я",
    "Ә",
    "ө",
    "ﬁ",
    "Å",
    "\u{212b}",
    "٩",
    "９",
    "_",
    "NaN",
    "Infinity",
    "M",
    "F",
    "m",
    "f",
    "x",
    "=",
    "012",
    "017",
    "010",
    "0704",
    "0706",
    "900517400015",
    "900517400016",
    "150340000179",
    "851201003007",
    // Long runs, so that texts, ids and amounts cross their limits (200,
    // 500, 128 and 2000 characters; 64 for an amount; 128 bytes for an id).
    "яяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяяя",
    "00000000000000000000000000000000",
    "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
];

/// Every string leaf of a JSON value, as a path of keys.
fn string_leaves(v: &serde_json::Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, child) in m {
                // A signature's value is base64 bytes, not a text.
                if k == "value" {
                    continue;
                }
                path.push(k.clone());
                string_leaves(child, path, out);
                path.pop();
            }
        }
        serde_json::Value::String(_) => out.push(path.clone()),
        _ => {}
    }
}

fn leaf<'a>(v: &'a mut serde_json::Value, path: &[String]) -> &'a mut serde_json::Value {
    path.iter().fold(v, |v, k| &mut v[k.as_str()])
}

/// The ledger's decision on a record value: its canonical bytes without
/// the signature, the field it refuses, or that it cannot decode it.
fn ledger_decides(value: &[u8]) -> String {
    use ledger_proto::v1 as pb;
    use prost::Message;
    let Ok(mut e) = pb::Envelope::decode(value) else {
        return "undecodable".into();
    };
    ledger_proto::canonicalize(&mut e);
    match ledger_proto::envelope_from_wire(&e) {
        Ok(_) => {
            e.signature = None;
            format!("ok {}", hex::encode(e.encode_to_vec()))
        }
        Err(w) => format!("refused {}", w.field),
    }
}

/// Runs a client's judge (`Judge.java`, `tests/judge.py`) on the values.
fn client_decides(client: Client, values: &[Vec<u8>]) -> Vec<String> {
    use std::io::Write;
    let mut c = match client {
        Client::Java => {
            let mut c = Command::new("java");
            c.args(["-Xmx256m", "-XX:+UseSerialGC", "-cp"])
                .arg(std::env::var("SI_LEDGER_JAVA_CLIENT_CP").expect("scripts/test sets it"))
                .arg("kz.siledger.client.Judge");
            c
        }
        Client::Python => {
            let mut c = Command::new(
                std::env::var("SI_LEDGER_CLIENT_PYTHON").expect("scripts/test sets it"),
            );
            c.arg(root().join("clients/python/tests/judge.py"));
            c
        }
    };
    let mut child = c
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input: String = values.iter().map(|v| hex::encode(v) + "\n").collect();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(o.status.success(), "{client:?} judge: {}", stderr(&o));
    stdout(&o).lines().map(str::to_string).collect()
}

/// Not only the vectors: random records, made by replacing one to three
/// texts of a vector's input with random pieces (white space of every
/// kind, control characters, combining marks, signs, exponents, foreign
/// digits) and numbers with random ones, are decided by each client as by
/// the ledger: the same canonical bytes, or the same field refused.
#[test]
fn the_clients_decide_random_records_as_the_ledger_does() {
    use ledger_proto::v1 as pb;
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;
    use prost::Message;

    let cases: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("proto/testdata/cases.json")).unwrap(),
    )
    .unwrap();
    let inputs: Vec<serde_json::Value> = cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["envelope"].clone())
        .collect();
    let piece = proptest::sample::select(PIECES);
    let text = proptest::collection::vec(piece, 0..9).prop_map(|p| p.concat());
    // Three draws in four from the accepted inputs: most of what they
    // become is still accepted, and its spelling is the question.
    let accepted_inputs: Vec<usize> = cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, c)| !c["name"].as_str().unwrap().starts_with("refused: "))
        .map(|(i, _)| i)
        .collect();
    let which = (
        0..inputs.len(),
        proptest::sample::select(accepted_inputs),
        0..4u8,
    )
        .prop_map(|(any, accepted, coin)| if coin == 0 { any } else { accepted });
    let mutation = (
        which,
        proptest::collection::vec(
            (
                proptest::arbitrary::any::<proptest::sample::Index>(),
                text,
                0u32..120,
            ),
            1..4,
        ),
    );
    let mut runner = TestRunner::deterministic();
    let mut values = Vec::new();
    let mut shown = Vec::new();
    while values.len() < 6000 {
        let (which, changes) = mutation.new_tree(&mut runner).unwrap().current();
        let mut json = inputs[which].clone();
        let mut leaves = Vec::new();
        string_leaves(&json, &mut Vec::new(), &mut leaves);
        for (at, text, number) in changes {
            let path = &leaves[at.index(leaves.len())];
            let place = leaf(&mut json, path);
            let original = place.as_str().unwrap_or_default().to_string();
            // The value replaced, or the pieces before or after it.
            *place = serde_json::Value::String(match number % 3 {
                0 => text,
                1 => original + &text,
                _ => text + &original,
            });
            // Now and then a number too: an application's size, a percentage, a status.
            if number < 30 {
                let payload = json.as_object_mut().unwrap();
                for key in ["refund", "benefitAssigned", "benefitStatus"] {
                    if let Some(p) = payload.get_mut(key) {
                        let field = match key {
                            "refund" => "applicationSize",
                            "benefitAssigned" => "workCapacityLossPercent",
                            _ => "status",
                        };
                        p[field] = if key == "benefitStatus" {
                            [
                                "SUSPENDED",
                                "RESUMED",
                                "TERMINATED",
                                "BENEFIT_STATUS_UNSPECIFIED",
                            ][number as usize % 4]
                                .into()
                        } else {
                            (number * 4).into()
                        };
                    }
                }
            }
        }
        let Ok(e) = serde_json::from_value::<pb::Envelope>(json.clone()) else {
            continue;
        };
        values.push(e.encode_to_vec());
        shown.push(json);
    }
    let ledger: Vec<String> = values.iter().map(|v| ledger_decides(v)).collect();
    let refused = ledger.iter().filter(|d| d.starts_with("refused")).count();
    let accepted = ledger.len() - refused;
    assert!(
        accepted >= 500 && refused >= 500,
        "a mix of accepted and refused records: {accepted} accepted, {refused} refused"
    );
    for client in [Client::Java, Client::Python] {
        let decided = client_decides(client, &values);
        assert_eq!(
            decided.len(),
            ledger.len(),
            "{client:?} decided every record"
        );
        let differ: Vec<String> = (0..ledger.len())
            .filter(|&i| decided[i] != ledger[i])
            .take(5)
            .map(|i| {
                format!(
                    "{}\n  ledger: {}\n  {client:?}: {}",
                    shown[i], ledger[i], decided[i]
                )
            })
            .collect();
        assert!(
            differ.is_empty(),
            "{client:?} decides otherwise than the ledger:\n{}",
            differ.join("\n")
        );
    }
}
