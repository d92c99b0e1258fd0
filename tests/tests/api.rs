//! The HTTP API over real HTTP on loopback, served by the real binary:
//! authentication and roles, bad input, the access log, the OpenAPI
//! document, and personal data kept out of the server's logs.

use ledger_e2e::{demo, free_port, http, run, si_ledger, stdout, Reaped};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn sha(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// Tokens of at least 32 characters (shorter ones are refused unread).
const AUDITOR: &str = "auditor-token-1-0123456789abcdef0123";
const REPORTER: &str = "reporter-token-1-0123456789abcdef012";
const OPERATOR: &str = "operator-token-1-0123456789abcdef012";

/// A raw HTTP/1.1 exchange on loopback: the status and the body.
fn raw(port: u16, request: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[test]
fn the_api_authenticates_authorizes_records_access_and_keeps_iins_out_of_logs() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path(), 150, 3);
    let d = data.to_str().unwrap();
    // Everything the store says, read before the server takes its lock.
    let accounts = ledger_e2e::statements(&data);
    let iins: Vec<String> = accounts
        .iter()
        .map(|a| a["iin"].as_str().unwrap().to_string())
        .collect();
    assert!(iins.len() > 100);
    let iin = &iins[0];
    let statement = json(&stdout(&run(&["account", iin, "--data", d, "--json"])));
    let digest = json(&stdout(&run(&["digest", "--data", d, "--json"])));

    let auth = dir.path().join("auth.toml");
    std::fs::write(
        &auth,
        format!(
            "[[tokens]]\nname = \"audit-office\"\nrole = \"auditor\"\nsha256 = \"{}\"\n\n\
             [[tokens]]\nname = \"monthly-report\"\nrole = \"reporter\"\nsha256 = \"{}\"\n\n\
             [[tokens]]\nname = \"ops\"\nrole = \"operator\"\nsha256 = \"{}\"\n",
            sha(AUDITOR),
            sha(REPORTER),
            sha(OPERATOR)
        ),
    )
    .unwrap();
    assert!(
        !std::fs::read_to_string(&auth).unwrap().contains(AUDITOR),
        "the auth file holds digests, not tokens"
    );
    let port = free_port();
    let log_file = dir.path().join("serve.log");
    let mut server = Reaped(Some(
        si_ledger(&[
            "serve",
            "--data",
            d,
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--auth",
            auth.to_str().unwrap(),
        ])
        .env("SI_LEDGER_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_file).unwrap())
        .spawn()
        .unwrap(),
    ));
    let started = Instant::now();
    while http(port, "/healthz", None).map(|r| r.0) != Some(200) {
        assert!(server.child().try_wait().unwrap().is_none(), "serve exited");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "serve never answered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let get = |path: &str, token: Option<&str>| http(port, path, token).expect("answered");
    let account = format!("/v1/accounts/{iin}");

    // Authentication and roles.
    let (status, body) = get(&account, None);
    assert_eq!(status, 401, "{body}");
    assert_eq!(json(&body)["error"]["code"], "unauthenticated");
    assert_eq!(get(&account, Some("not-a-token")).0, 401);
    assert_eq!(
        get(&account, Some(&sha(AUDITOR))).0,
        401,
        "a digest is no token"
    );
    let (status, body) = get(&account, Some(REPORTER));
    assert_eq!(status, 403, "{body}");
    assert!(json(&body)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("auditor"));
    assert_eq!(get(&format!("{account}/history"), Some(OPERATOR)).0, 403);
    assert_eq!(get("/metrics", Some(AUDITOR)).0, 403);
    assert_eq!(get("/v1/access-log", Some(REPORTER)).0, 403);

    // Bad input: which field, why.
    let (status, body) = get("/v1/accounts/12345", Some(AUDITOR));
    assert_eq!(status, 400, "{body}");
    assert_eq!(json(&body)["error"]["code"], "bad_iin");
    let mut wrong_check = iin.clone();
    let last = wrong_check.pop().unwrap();
    wrong_check.push(if last == '0' { '1' } else { '0' });
    let (status, body) = get(&format!("/v1/accounts/{wrong_check}"), Some(AUDITOR));
    assert_eq!(status, 400, "{body}");
    assert!(
        !body.contains(&wrong_check),
        "error bodies mask the IIN: {body}"
    );
    let (status, body) = get(&format!("{account}?as_of=2025-13-01"), Some(AUDITOR));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("as_of"), "{body}");
    assert_eq!(get(&format!("{account}?bogus=1"), Some(AUDITOR)).0, 400);

    // Strict about what it is sent (issue 14): every error is JSON.
    let request = |line: &str, headers: &str| {
        raw(
            port,
            &format!("{line} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n"),
        )
    };
    let (status, body) = request(
        &format!("GET {account}"),
        &format!("Authorization: bearer {AUDITOR}\r\n"),
    );
    assert_eq!(status, 200, "the scheme is case-insensitive: {body}");
    // HEAD answers like GET without a body, and is recorded as HEAD.
    let (status, _) = request(
        &format!("HEAD {account}"),
        &format!("Authorization: Bearer {AUDITOR}\r\n"),
    );
    assert_eq!(status, 200);
    let (status, body) = request(
        &format!("GET {account}"),
        &format!("Authorization: Bearer {AUDITOR}\r\nAuthorization: Bearer {REPORTER}\r\n"),
    );
    assert_eq!(
        (status, json(&body)["error"]["code"].clone()),
        (400, "bad_request".into()),
        "{body}"
    );
    let (status, body) = get(
        &format!("{account}?as_of=garbage&as_of=2026-03-31"),
        Some(AUDITOR),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("given twice"), "{body}");
    let (status, body) = get(
        &format!("{account}/history?as_of=2026-03-31"),
        Some(AUDITOR),
    );
    assert_eq!(status, 400, "history refuses what it would ignore: {body}");
    let (status, body) = get(&format!("{account}?as_of=0000-01-01"), Some(AUDITOR));
    assert_eq!(status, 400, "{body}");
    let (status, body) = get(&format!("{account}?as_of=1999-12-31"), Some(AUDITOR));
    assert!(
        status == 400 && body.contains("before the ledger's epoch"),
        "{body}"
    );
    let long = "x".repeat(60_000);
    let (status, body) = get(&format!("{account}?as_of={long}"), Some(AUDITOR));
    assert_eq!(status, 414, "{body}");
    assert_eq!(json(&body)["error"]["code"], "uri_too_long");
    let (status, body) = get(&format!("{account}?as_of={}", &long[..5000]), Some(AUDITOR));
    assert_eq!(status, 400);
    assert!(
        body.len() < 1000,
        "a rejected value is cut short: {} bytes",
        body.len()
    );
    let (status, body) = request(
        &format!("POST {account}"),
        &format!("Authorization: Bearer {AUDITOR}\r\nContent-Length: 0\r\n"),
    );
    assert_eq!(
        (status, json(&body)["error"]["code"].clone()),
        (405, "method_not_allowed".into()),
        "{body}"
    );
    let (status, body) = request(
        "GET /v1/accounts/%FF%FE",
        &format!("Authorization: Bearer {AUDITOR}\r\n"),
    );
    assert_eq!(
        (status, json(&body)["error"]["code"].clone()),
        (400, "bad_iin".into()),
        "{body}"
    );
    assert_eq!(
        get(&account, Some("short-token")).0,
        401,
        "tokens under 32 characters"
    );
    for route in ["/healthz?x=1", "/openapi.json?x=1", "/v1/digest?x=1"] {
        assert_eq!(
            get(route, Some(AUDITOR)).0,
            400,
            "{route} refuses what it would ignore"
        );
    }

    // Reads, equal to what the command line says.
    let (status, body) = get(&account, Some(AUDITOR));
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body), statement);
    let (status, body) = get(&format!("{account}/history"), Some(AUDITOR));
    assert_eq!(status, 200, "{body}");
    assert!(!json(&body)["entries"].as_array().unwrap().is_empty());
    let (status, body) = get(&format!("{account}?as_of=2000-01-01"), Some(AUDITOR));
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["contributions_total"], "0.00", "{body}");
    let (status, body) = get("/v1/digest", Some(REPORTER));
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body), digest);
    let (status, body) = get("/metrics", Some(OPERATOR));
    assert_eq!(status, 200);
    assert!(
        body.contains("si_ledger_api_requests_total{route=\"account\",status=\"401\"}"),
        "{body}"
    );

    // A well-formed IIN the ledger does not hold: 404, and recorded (it
    // says whether a person is in the ledger).
    let absent = (1..)
        .filter_map(|serial| {
            ledger_core::Iin::generate(
                chrono::NaiveDate::from_ymd_opt(1950, 1, 1).unwrap(),
                ledger_core::Sex::Male,
                serial,
            )
        })
        .map(|i| i.to_string())
        .find(|i| !iins.contains(i))
        .unwrap();
    let (status, body) = get(&format!("/v1/accounts/{absent}"), Some(AUDITOR));
    assert_eq!(status, 404, "{body}");

    // Every attempted read of personal data left a record: who, which IIN,
    // how it was answered, with what parameters, from where.
    let (status, body) = get("/v1/access-log?limit=1000", Some(AUDITOR));
    assert_eq!(status, 200, "{body}");
    let page = json(&body);
    let records = page["records"].as_array().unwrap().clone();
    // A role that may not read tried all the same: recorded, with its 403.
    let refused: Vec<(&Value, &Value)> = records
        .iter()
        .filter(|r| r["iin"] == iin.as_str() && r["outcome"] == 403)
        .map(|r| (&r["role"], &r["endpoint"]))
        .collect();
    assert_eq!(
        refused,
        [
            (
                &Value::from("reporter"),
                &Value::from("GET /v1/accounts/{iin}")
            ),
            (
                &Value::from("operator"),
                &Value::from("GET /v1/accounts/{iin}/history")
            ),
        ],
        "{page}"
    );
    // Attempts with bad parameters name the IIN too: recorded, with 400.
    assert!(
        records
            .iter()
            .filter(|r| r["iin"] == iin.as_str() && r["outcome"] == 400)
            .count()
            >= 5,
        "{page}"
    );
    let reads: Vec<&Value> = records
        .iter()
        .filter(|r| r["iin"] == iin.as_str() && r["outcome"] != 403 && r["outcome"] != 400)
        .collect();
    assert_eq!(
        reads.len(),
        5,
        "account (Bearer, bearer, HEAD), history, as-of: {page}"
    );
    assert!(reads
        .iter()
        .all(|r| r["who"] == "audit-office" && r["role"] == "auditor" && r["outcome"] == 200));
    assert!(reads.iter().any(|r| r["as_of"] == "2000-01-01"), "{page}");
    assert_eq!(reads.iter().filter(|r| r["method"] == "HEAD").count(), 1);
    assert!(reads
        .iter()
        .all(|r| (r["method"] == "GET" || r["method"] == "HEAD")
            && r["client"].as_str().unwrap().starts_with("127.0.0.1:")));
    let misses: Vec<&Value> = records
        .iter()
        .filter(|r| r["iin"] == absent.as_str())
        .collect();
    assert_eq!(misses.len(), 1, "{page}");
    assert_eq!(misses[0]["outcome"], 404);
    assert_eq!(
        records.len(),
        17,
        "unauthenticated requests and ones that name no valid IIN leave no record; a \
         wrong role (also at the access log), bad parameters with a valid IIN (7), a miss \
         and reading the log do: {page}"
    );
    assert_eq!(page["next_cursor"], Value::Null);
    // Pages, filters, a cap.
    let (_, body) = get("/v1/access-log?limit=2", Some(AUDITOR));
    let first = json(&body);
    assert_eq!(first["records"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    let (_, body) = get(
        &format!("/v1/access-log?limit=2&cursor={cursor}"),
        Some(AUDITOR),
    );
    assert_eq!(
        json(&body)["records"][0],
        records[2],
        "the next page goes on"
    );
    // Filtered by an IIN: the miss, and this read itself (a read of the log
    // for one person is recorded with that person's IIN).
    let (_, body) = get(&format!("/v1/access-log?iin={absent}"), Some(AUDITOR));
    let by_iin = json(&body);
    let endpoints: Vec<&str> = by_iin["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["endpoint"].as_str().unwrap())
        .collect();
    assert_eq!(endpoints, ["GET /v1/accounts/{iin}", "GET /v1/access-log"]);
    assert_eq!(get("/v1/access-log?limit=100000", Some(AUDITOR)).0, 400);
    assert_eq!(get("/v1/access-log?who=a&who=b", Some(AUDITOR)).0, 400);
    let (_, body) = get("/v1/access-log?from=2099-01-01T00:00:00Z", Some(AUDITOR));
    assert_eq!(json(&body)["records"].as_array().unwrap().len(), 0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("access-log.jsonl"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the access log is its owner's alone");
    }

    // The OpenAPI document is JSON, OpenAPI 3, and every path it lists is
    // a route of the server.
    let (status, body) = get("/openapi.json", None);
    assert_eq!(status, 200);
    let doc = json(&body);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.0"));
    // Valid OpenAPI 3.0: it reads as the specification's object model,
    // every schema and response reference resolving.
    let spec: openapiv3::OpenAPI =
        serde_json::from_str(&body).expect("a valid OpenAPI 3.0 document");
    let components = spec.components.as_ref().unwrap();
    for (path, item) in spec.paths.paths.iter() {
        let item = item.as_item().unwrap();
        let op = item
            .get
            .as_ref()
            .or(item.post.as_ref())
            .unwrap_or_else(|| panic!("{path}: GET or POST"));
        for (code, r) in &op.responses.responses {
            if let openapiv3::ReferenceOr::Reference { reference } = r {
                let name = reference.trim_start_matches("#/components/responses/");
                assert!(
                    components.responses.contains_key(name),
                    "{path} {code}: {reference}"
                );
            }
        }
    }
    for text in body.split("\"$ref\": \"#/components/schemas/").skip(1) {
        let name = &text[..text.find('"').unwrap()];
        assert!(components.schemas.contains_key(name), "schema {name}");
    }
    let on_disk = json(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json"),
        )
        .unwrap(),
    );
    assert_eq!(doc, on_disk, "served document is docs/openapi.json");
    for path in doc["paths"].as_object().unwrap().keys() {
        let (status, body) = get(&path.replace("{iin}", iin), Some(AUDITOR));
        let code = serde_json::from_str::<Value>(&body)
            .ok()
            .map(|v| v["error"]["code"].clone());
        assert!(
            !(status == 404 && code == Some(Value::from("no_route"))),
            "{path} is not served"
        );
    }
    assert_eq!(
        json(&get("/v2/nothing", Some(AUDITOR)).1)["error"]["code"],
        "no_route"
    );

    drop(server);
    let listed = stdout(&run(&["access-log", "--data", d]));
    assert!(
        listed.contains("audit-office (auditor)") && listed.contains(iin.as_str()),
        "{listed}"
    );

    // Nothing the server or a projector logged names a participant: the
    // logs say whose data was read, masked.
    let logged = std::fs::read_to_string(&log_file).unwrap();
    let masked = format!("{}******{}", &iin[..4], &iin[10..]);
    assert!(
        logged.contains(&masked),
        "reads are logged, masked: {logged}"
    );
    assert!(
        logged.contains("requests without a valid token since the last report"),
        "refusals are logged as bursts"
    );
    assert!(!logged.contains("not-a-token"), "tokens are never logged");
    let projected = si_ledger(&[
        "project",
        "--log",
        data.join("log").to_str().unwrap(),
        "--data",
        dir.path().join("again").to_str().unwrap(),
    ])
    .env("SI_LEDGER_LOG", "trace")
    .output()
    .unwrap();
    assert!(projected.status.success());
    let projector_log = String::from_utf8_lossy(&projected.stderr);
    assert!(
        projector_log.contains("TRACE")
            || projector_log.contains("DEBUG")
            || projector_log.contains("INFO"),
        "{projector_log}"
    );
    let names: Vec<String> = std::fs::read_to_string(data.join("events.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            v["envelope"]["person"]["surname"]
                .as_str()
                .map(String::from)
        })
        .collect();
    assert!(!names.is_empty());
    for log in [&logged, &projector_log.to_string()] {
        for i in &iins {
            assert!(!log.contains(i.as_str()), "IIN {i} in a log");
        }
        for n in &names {
            assert!(!log.contains(n.as_str()), "name {n} in a log");
        }
    }
}

/// `project --serve`: the API inside a following projector answers from its
/// live store, and stops with it on SIGTERM.
#[test]
fn a_projector_serves_the_api_on_its_live_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path(), 60, 2);
    let d = data.to_str().unwrap();
    let iin = ledger_e2e::statements(&data)[0]["iin"]
        .as_str()
        .unwrap()
        .to_string();
    let statement = json(&stdout(&run(&["account", &iin, "--data", d, "--json"])));
    let auth = dir.path().join("auth.toml");
    std::fs::write(
        &auth,
        format!(
            "[[tokens]]\nname = \"a\"\nrole = \"auditor\"\nsha256 = \"{}\"\n",
            sha(AUDITOR)
        ),
    )
    .unwrap();
    let port = free_port();
    let live = dir.path().join("live");
    let mut projector = Reaped(Some(
        si_ledger(&[
            "project",
            "--log",
            data.join("log").to_str().unwrap(),
            "--data",
            live.to_str().unwrap(),
            "--follow",
            "--serve",
            &format!("127.0.0.1:{port}"),
            "--auth",
            auth.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    ));
    let started = Instant::now();
    let path = format!("/v1/accounts/{iin}");
    loop {
        if let Some((200, body)) = http(port, &path, Some(AUDITOR)) {
            if json(&body) == statement {
                break;
            }
        }
        assert!(
            projector.child().try_wait().unwrap().is_none(),
            "projector exited"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never served the statement"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The console is served from the projector too.
    let (status, page) = http(port, "/console/", None).expect("answered");
    assert_eq!(status, 200);
    assert!(page.contains("src=\"app.js\""), "{page}");
    ledger_e2e::sigterm(projector.child());
    let status = projector.take().wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        http(port, "/healthz", None).is_none(),
        "the API stopped with the projector"
    );
    let records = stdout(&run(&["access-log", "--data", live.to_str().unwrap()]));
    assert!(records.contains(&iin), "{records}");
}

/// One HTTP/1.1 exchange on loopback: status, header block, body.
fn exchange(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

/// What the console reads (issue 18): the POST routes answer as the GET
/// ones and the command line do, with the IIN in the body; `verify` names
/// the first broken entry of one account after a byte of the store is
/// flipped; the monthly report equals `report monthly`; the console's files
/// come with their security headers.
#[test]
fn the_console_routes_answer_as_the_command_line_does() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path(), 150, 4);
    let d = data.to_str().unwrap();
    let accounts = ledger_e2e::statements(&data);
    let iin = accounts[0]["iin"].as_str().unwrap().to_string();
    // A month closed, for the report routes.
    let period = accounts[0]["periods"][1]["period"]
        .as_str()
        .unwrap()
        .to_string();
    let log = data.join("log");
    let l = log.to_str().unwrap();
    assert!(run(&["close-month", &period, "--log", l]).status.success());
    assert!(run(&["project", "--log", l, "--data", d]).status.success());
    let cli = |args: &[&str]| json(&stdout(&run(args)));
    let statement = cli(&["account", &iin, "--data", d, "--json"]);
    let history = cli(&["history", &iin, "--data", d, "--json"]);
    let known_on = history[1]["recorded_at"].as_str().unwrap()[..10].to_string();
    let then = cli(&[
        "account",
        &iin,
        "--data",
        d,
        "--json",
        "--as-known-on",
        &known_on,
    ]);
    let csv_file = dir.path().join("report.csv");
    let report = cli(&[
        "report",
        "monthly",
        &period,
        "--data",
        d,
        "--json",
        "--csv",
        csv_file.to_str().unwrap(),
    ]);
    // One byte of one entry flipped, in a copy (the audit test's tampering).
    let (flipped, at) = ledger_e2e::tampered(&data, dir.path(), "flipped", |e| {
        let mid = e[3].event.len() / 2;
        e[3].event[mid] ^= 0x20;
        vec![e[3].position.offset]
    });
    let (owner, bystander) = {
        let store = ledger_store::LedgerStore::open(&flipped.join("store")).unwrap();
        let mut in_p0 = Vec::new();
        store
            .for_each_account(|p, a| {
                if p == 0 {
                    in_p0.push(a.iin);
                }
            })
            .unwrap();
        let owns = |i: &ledger_core::Iin| {
            let rec = store.account_record(0, i).unwrap().unwrap();
            rec.refs.iter().any(|r| r.offset == at[0])
        };
        let owner = *in_p0.iter().find(|i| owns(i)).unwrap();
        let bystander = *in_p0.iter().find(|i| !owns(i)).unwrap();
        (owner.to_string(), bystander.to_string())
    };

    let auth = ledger_e2e::auth_file(
        dir.path(),
        &[
            ("audit-office", "auditor", AUDITOR),
            ("monthly-report", "reporter", REPORTER),
            ("ops", "operator", OPERATOR),
        ],
    );
    let serve = |data: &std::path::Path| {
        let port = free_port();
        let mut child = ledger_e2e::spawn_quiet(
            &[
                "serve",
                "--data",
                data.to_str().unwrap(),
                "--auth",
                auth.to_str().unwrap(),
                "--listen",
                &format!("127.0.0.1:{port}"),
            ],
            None,
        );
        ledger_e2e::wait_serving(port, &mut child);
        (child, port)
    };
    let (_a, port) = serve(&data);
    let (_b, tampered_port) = serve(&flipped);
    let post = |path: &str, token: &str, body: &str| {
        let (s, _, b) = exchange(port, "POST", path, Some(token), Some(body));
        (s, b)
    };
    let get = |path: &str, token: &str| {
        let (s, _, b) = exchange(port, "GET", path, Some(token), None);
        (s, b)
    };
    let body = |v: Value| v.to_string();

    // Who am I.
    let (s, b) = get("/v1/whoami", REPORTER);
    assert_eq!(s, 200, "{b}");
    assert_eq!(json(&b)["role"], "reporter");
    assert_eq!(json(&b)["id_scheme"], "kz");

    // Statements and history, the IIN in the body.
    let (s, b) = post(
        "/v1/accounts/statement",
        AUDITOR,
        &body(serde_json::json!({"iin": iin})),
    );
    assert_eq!((s, json(&b)), (200, statement.clone()));
    let (s, b) = post(
        "/v1/accounts/statement",
        AUDITOR,
        &body(serde_json::json!({"iin": iin, "as_known_on": known_on})),
    );
    assert_eq!((s, json(&b)), (200, then));
    let (s, b) = post(
        "/v1/accounts/history",
        AUDITOR,
        &body(serde_json::json!({"iin": iin})),
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(json(&b)["entries"], history);
    assert_eq!(
        json(&b),
        json(&get(&format!("/v1/accounts/{iin}/history"), AUDITOR).1)
    );
    // Refusals: a reporter (recorded), bad bodies.
    let (s, b) = post(
        "/v1/accounts/statement",
        REPORTER,
        &body(serde_json::json!({"iin": iin})),
    );
    assert_eq!(s, 403, "{b}");
    for (bad, code) in [
        ("not json", "bad_body"),
        ("[1]", "bad_body"),
        (r#"{"iin": 5}"#, "bad_body"),
        (r#"{"iin": null}"#, "bad_body"),
        (r#"{"iin": "x", "extra": "1"}"#, "bad_body"),
        ("{}", "bad_iin"),
    ] {
        let (s, b) = post("/v1/accounts/history", AUDITOR, bad);
        assert_eq!(
            (s, json(&b)["error"]["code"].as_str().unwrap()),
            (400, code),
            "{bad}: {b}"
        );
    }
    let (s, b) = post(
        "/v1/accounts/verify",
        AUDITOR,
        &format!("{{\"iin\": \"{}\"}}", "1".repeat(5000)),
    );
    assert_eq!(s, 413, "{b}");
    let (s, b) = post(
        "/v1/accounts/verify",
        AUDITOR,
        &body(serde_json::json!({"iin": ledger_e2e::wrong_check_digit(&iin)})),
    );
    assert_eq!(s, 400, "a wrong check digit: {b}");
    assert!(b.contains("check digit"), "{b}");
    assert!(!b.contains(&iin[..11]), "the IIN is masked in errors: {b}");

    // Verify: intact on the live store, both ways of asking.
    let (s, b) = get(&format!("/v1/accounts/{iin}/verify"), AUDITOR);
    assert_eq!(s, 200, "{b}");
    let v = json(&b);
    assert_eq!(v["intact"], true, "{v}");
    assert_eq!(v["entries"], statement["history_len"]);
    assert_eq!(
        v,
        json(
            &post(
                "/v1/accounts/verify",
                AUDITOR,
                &body(serde_json::json!({"iin": iin}))
            )
            .1
        )
    );
    // On the tampered copy: the flipped entry is named; an account of the
    // same partition that it does not touch still verifies.
    let tampered = |who: &str| {
        let (s, _, b) = exchange(
            tampered_port,
            "POST",
            "/v1/accounts/verify",
            Some(AUDITOR),
            Some(&body(serde_json::json!({"iin": who}))),
        );
        assert_eq!(s, 200, "{b}");
        json(&b)
    };
    let v = tampered(&owner);
    assert_eq!(v["intact"], false, "{v}");
    assert_eq!(v["first_break"]["offset"], at[0], "{v}");
    assert_eq!(v["first_break"]["partition"], 0, "{v}");
    assert_eq!(tampered(&bystander)["intact"], true);

    // The monthly report, as `report monthly` prints and writes it.
    let (s, b) = get("/v1/reports/monthly", REPORTER);
    assert_eq!(s, 200, "{b}");
    assert_eq!(json(&b)["months"][0]["period"], period.as_str());
    let (s, b) = get(&format!("/v1/reports/monthly/{period}"), REPORTER);
    assert_eq!(s, 200, "{b}");
    let r = json(&b);
    assert_eq!(r["report"], report);
    assert_eq!(r["months"].as_array().unwrap().len(), 12);
    assert_eq!(
        r["months"][11]["contributions_total"],
        report["contributions_total"]
    );
    assert_eq!(r["revisions"].as_array().unwrap().len(), 4);
    let (s, head, csv) = exchange(
        port,
        "GET",
        &format!("/v1/reports/monthly/{period}/csv"),
        Some(REPORTER),
        None,
    );
    assert_eq!(s, 200);
    assert!(head.contains("content-type: text/csv"), "{head}");
    assert_eq!(csv, std::fs::read_to_string(&csv_file).unwrap());
    let open = accounts[0]["periods"][2]["period"].as_str().unwrap();
    let (s, b) = get(&format!("/v1/reports/monthly/{open}"), REPORTER);
    assert_eq!(
        (s, json(&b)["error"]["code"].clone()),
        (409, "month_open".into()),
        "{b}"
    );
    let (s, b) = get("/v1/reports/monthly/2026-13", REPORTER);
    assert_eq!(
        (s, json(&b)["error"]["code"].clone()),
        (400, "bad_period".into()),
        "{b}"
    );
    assert_eq!(
        get(&format!("/v1/reports/monthly/{period}"), OPERATOR).0,
        403
    );

    // The access log searched by IIN, which stays out of the URL.
    let (s, b) = post(
        "/v1/access-log/search",
        AUDITOR,
        &body(serde_json::json!({"iin": iin, "limit": 1000})),
    );
    assert_eq!(s, 200, "{b}");
    let records = json(&b)["records"].as_array().unwrap().clone();
    assert!(records.len() >= 6, "{records:?}");
    assert!(records.iter().all(|r| r["iin"] == iin.as_str()));
    assert!(records
        .iter()
        .any(|r| r["endpoint"] == "POST /v1/accounts/statement" && r["outcome"] == 403));

    // The console: its files, with a strict policy; nothing else.
    let (s, head, page) = exchange(port, "GET", "/console/", None, None);
    assert_eq!(s, 200);
    assert!(page.contains("<script type=\"module\" src=\"app.js\">"));
    for want in [
        "content-security-policy: default-src 'none'; script-src 'self'",
        "x-content-type-options: nosniff",
        "referrer-policy: no-referrer",
        "x-frame-options: deny",
    ] {
        assert!(head.contains(want), "{want}: {head}");
    }
    let (s, head, _) = exchange(port, "GET", "/console/app.js", None, None);
    assert_eq!(s, 200);
    assert!(head.contains("content-type: text/javascript"), "{head}");
    assert_eq!(
        exchange(port, "GET", "/console/../Cargo.toml", None, None).0,
        404
    );
    assert_eq!(
        exchange(port, "GET", "/console/nothing.js", None, None).0,
        404
    );
    let (s, head, _) = exchange(port, "GET", "/console", None, None);
    assert_eq!(s, 308);
    assert!(head.contains("location: /console/"), "{head}");
}

/// What a hostile client found in the console's routes (issue 18's
/// attack): a body promised and never sent holds no connection past the
/// header-read timeout, and the token is checked before a body is read; a
/// declared length over the limit is refused unread; a body must be JSON,
/// declared so, each member once; an IIN in any parameter is masked in
/// the error; every attempt that names a valid IIN is in the access log,
/// whatever it is answered, the role checked before the parameters; so is
/// a role refused the access log; a month before the epoch is a 400; a
/// missing console file answers in JSON.
#[test]
fn the_console_routes_hold_up_under_hostile_clients() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path(), 60, 2);
    let d = data.to_str().unwrap();
    let iin = ledger_e2e::statements(&data)[0]["iin"]
        .as_str()
        .unwrap()
        .to_string();
    let auth = ledger_e2e::auth_file(
        dir.path(),
        &[
            ("audit-office", "auditor", AUDITOR),
            ("monthly-report", "reporter", REPORTER),
        ],
    );
    let port = free_port();
    let mut server = ledger_e2e::spawn_quiet(
        &[
            "serve",
            "--data",
            d,
            "--auth",
            auth.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--header-read-timeout-ms",
            "500",
            "--max-connections",
            "2",
        ],
        None,
    );
    ledger_e2e::wait_serving(port, &mut server);

    // Two connections (the cap) promise bodies and send a byte: both are
    // answered 408 (or 401, unread, without a token) and closed, and the
    // server answers others.
    let promise = |token: Option<&str>| {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        write!(
            s,
            "POST /v1/accounts/statement HTTP/1.1\r\nHost: x\r\n{auth}\
             Content-Type: application/json\r\nContent-Length: 50\r\n\r\n{{"
        )
        .unwrap();
        s
    };
    let started = Instant::now();
    let (mut a, mut b) = (promise(Some(AUDITOR)), promise(None));
    let answer = |s: &mut std::net::TcpStream| {
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.split_whitespace().nth(1).unwrap_or("").to_string()
    };
    assert_eq!(answer(&mut b), "401", "no token: refused unread");
    assert_eq!(answer(&mut a), "408", "the body never came");
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(exchange(port, "GET", "/healthz", None, None).0, 200);

    let post = |path: &str, token: &str, body: &str| {
        let (s, _, b) = exchange(port, "POST", path, Some(token), Some(body));
        (s, json(&b))
    };
    // Declared too long: 413 before a byte is read.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "POST /v1/accounts/history HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {AUDITOR}\r\n\
         Content-Type: application/json\r\nContent-Length: 4097\r\n\r\n"
    )
    .unwrap();
    assert_eq!(answer(&mut s), "413");
    // Not declared JSON: 415.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = format!("{{\"iin\":\"{iin}\"}}");
    write!(
        s,
        "POST /v1/accounts/history HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {AUDITOR}\r\n\
         Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    assert_eq!(answer(&mut s), "415");
    // A member twice: refused, not the last one taken.
    let (status, b) = post(
        "/v1/accounts/statement",
        AUDITOR,
        &format!("{{\"iin\":\"{iin}\",\"iin\":\"{iin}\"}}"),
    );
    assert_eq!(
        (status, b["error"]["code"].as_str()),
        (400, Some("bad_body")),
        "{b}"
    );

    // An IIN anywhere in a request is masked in the error.
    for (method, path, body) in [
        ("GET", format!("/v1/accounts/{iin}?as_of={iin}"), None),
        ("GET", format!("/v1/accounts/{iin}?{iin}=1"), None),
        ("GET", format!("/v1/reports/monthly/{iin}"), None),
        ("GET", format!("/v1/access-log?from={iin}"), None),
        (
            "POST",
            "/v1/accounts/statement".to_string(),
            Some(format!("{{\"iin\":\"{iin}\",\"as_of\":\"{iin}\"}}")),
        ),
        (
            "POST",
            "/v1/accounts/statement".to_string(),
            Some(format!("{{\"iin\":\"{iin}\",\"{iin}\":\"1\"}}")),
        ),
    ] {
        let (status, _, b) = exchange(port, method, &path, Some(AUDITOR), body.as_deref());
        assert_eq!(status, 400, "{path}: {b}");
        assert!(!b.contains(&iin), "{method} {path}: the IIN shows: {b}");
    }
    // The field named is the one sent.
    let (_, b) = post(
        "/v1/accounts/statement",
        AUDITOR,
        &format!("{{\"iin\":\"{iin}\",\"as_of\":\"x\"}}"),
    );
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("body member as_of"),
        "{b}"
    );
    // Before the epoch.
    let (status, _, b) = exchange(
        port,
        "GET",
        "/v1/reports/monthly/1999-12",
        Some(REPORTER),
        None,
    );
    assert_eq!(status, 400, "{b}");
    assert!(b.contains("epoch"), "{b}");
    // A missing console file: JSON.
    let (status, head, b) = exchange(port, "GET", "/console/nothing.js", None, None);
    assert_eq!(
        (status, json(&b)["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    assert!(head.contains("application/json"), "{head}");

    // A reporter's attempts, with bad parameters too, are recorded as 403;
    // an auditor's bad parameters as 400; a reporter at the access log too.
    let (s1, _, _) = exchange(
        port,
        "GET",
        &format!("/v1/accounts/{iin}/history?x=1"),
        Some(REPORTER),
        None,
    );
    assert_eq!(s1, 403);
    assert_eq!(
        post(
            "/v1/accounts/statement",
            REPORTER,
            &format!("{{\"iin\":\"{iin}\",\"as_of\":\"x\"}}")
        )
        .0,
        403
    );
    assert_eq!(
        exchange(
            port,
            "GET",
            &format!("/v1/accounts/{iin}?foo=1"),
            Some(AUDITOR),
            None
        )
        .0,
        400
    );
    assert_eq!(
        post(
            "/v1/accounts/verify",
            AUDITOR,
            &format!("{{\"iin\":\"{iin}\",\"extra\":\"1\"}}")
        )
        .0,
        400
    );
    assert_eq!(
        exchange(port, "GET", "/v1/access-log", Some(REPORTER), None).0,
        403
    );
    drop(server);
    let records: Vec<Value> = std::fs::read_to_string(data.join("access-log.jsonl"))
        .unwrap()
        .lines()
        .map(json)
        .collect();
    let has = |endpoint: &str, who: &str, outcome: u64| {
        records
            .iter()
            .any(|r| r["endpoint"] == endpoint && r["who"] == who && r["outcome"] == outcome)
    };
    assert!(
        has("GET /v1/accounts/{iin}/history", "monthly-report", 403),
        "{records:?}"
    );
    assert!(
        has("POST /v1/accounts/statement", "monthly-report", 403),
        "{records:?}"
    );
    assert!(
        has("GET /v1/accounts/{iin}", "audit-office", 400),
        "{records:?}"
    );
    assert!(
        has("POST /v1/accounts/verify", "audit-office", 400),
        "{records:?}"
    );
    assert!(
        has("POST /v1/accounts/statement", "audit-office", 400),
        "{records:?}"
    );
    assert!(
        has("GET /v1/access-log", "monthly-report", 403),
        "{records:?}"
    );
}

/// Case 15 of wave 3: answers with personal data carried no
/// `Cache-Control: no-store`. Every route of the OpenAPI document, every
/// method, with no token and with tokens of two roles, and each error the
/// API answers itself (400, 401, 403, 404, 405, 408, 413, 414, 415, 431):
/// each answer says `no-store` and `nosniff` (a 503 is checked where a full
/// disk makes one, in `access_log.rs`).
#[test]
fn every_answer_forbids_caching_and_sniffing() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path(), 30, 2);
    let iin = ledger_e2e::statements(&data)[0]["iin"]
        .as_str()
        .unwrap()
        .to_string();
    let auth = ledger_e2e::auth_file(
        dir.path(),
        &[
            ("audit-office", "auditor", AUDITOR),
            ("monthly-report", "reporter", REPORTER),
        ],
    );
    let port = free_port();
    let mut server = ledger_e2e::spawn_quiet(
        &[
            "serve",
            "--data",
            data.to_str().unwrap(),
            "--auth",
            auth.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--header-read-timeout-ms",
            "500",
        ],
        None,
    );
    ledger_e2e::wait_serving(port, &mut server);
    // One raw exchange: the status and the lowercased header block.
    let send = |request: &[u8]| -> (u16, String) {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(request).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let out = String::from_utf8_lossy(&out);
        let head = out.split("\r\n\r\n").next().unwrap().to_ascii_lowercase();
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        (status, head)
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut check = |what: &str, (status, head): (u16, String)| {
        assert!(
            head.contains("\r\ncache-control: no-store")
                && head.contains("\r\nx-content-type-options: nosniff"),
            "{what}: {head}"
        );
        seen.insert(status);
    };
    let openapi = json(&http(port, "/openapi.json", None).unwrap().1);
    let paths: Vec<String> = openapi["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(|p| p.replace("{iin}", &iin).replace("{period}", "2025-01"))
        .collect();
    assert!(paths.len() >= 15, "{paths:?}");
    for path in &paths {
        let body = if path.starts_with("/v1/accounts/") {
            format!(r#"{{"iin":"{iin}"}}"#)
        } else {
            "{}".to_string()
        };
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"] {
            for token in [None, Some(REPORTER), Some(AUDITOR)] {
                let auth = token
                    .map(|t| format!("Authorization: Bearer {t}\r\n"))
                    .unwrap_or_default();
                let request = format!(
                    "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\
                     Content-Type: application/json\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
                check(&format!("{method} {path}"), send(request.as_bytes()));
            }
        }
    }
    let with_token = |first_line: &str, extra: &str, body: &str| {
        format!(
            "{first_line}\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {AUDITOR}\r\n{extra}\
             Connection: close\r\n\r\n{body}"
        )
    };
    let errors = [
        ("no such route", with_token("GET /v1/nope HTTP/1.1", "", "")),
        (
            "a bad IIN",
            with_token("GET /v1/accounts/12345 HTTP/1.1", "", ""),
        ),
        (
            "a body declared too large",
            with_token(
                "POST /v1/accounts/statement HTTP/1.1",
                "Content-Type: application/json\r\nContent-Length: 100000000\r\n",
                "",
            ),
        ),
        (
            "a body not JSON",
            with_token(
                "POST /v1/accounts/statement HTTP/1.1",
                "Content-Type: text/plain\r\nContent-Length: 2\r\n",
                "{}",
            ),
        ),
        (
            "a body that never comes",
            with_token(
                "POST /v1/accounts/statement HTTP/1.1",
                "Content-Type: application/json\r\nContent-Length: 50\r\n",
                "{",
            ),
        ),
        (
            "a long target",
            with_token(
                &format!("GET /v1/whoami?{} HTTP/1.1", "x".repeat(9000)),
                "",
                "",
            ),
        ),
        (
            "many headers",
            with_token(
                "GET /v1/whoami HTTP/1.1",
                &(0..120)
                    .map(|i| format!("X-Pad-{i}: 1\r\n"))
                    .collect::<String>(),
                "",
            ),
        ),
    ];
    for (what, request) in errors {
        check(what, send(request.as_bytes()));
    }
    for status in [200, 400, 401, 403, 404, 405, 408, 413, 414, 415, 431] {
        assert!(seen.contains(&status), "no {status} among {seen:?}");
    }
}
