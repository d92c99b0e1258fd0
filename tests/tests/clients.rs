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

use ledger_e2e::{balances, kafka_brokers, keys_dir, run, stderr, stdout, unique_topic};
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
    let o = run(&[
        "project",
        "--brokers",
        &kafka_brokers(),
        "--topic",
        topic,
        "--group",
        topic,
        "--data",
        data.to_str().unwrap(),
        "--until-end",
    ]);
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
