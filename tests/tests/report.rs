//! Month close and the monthly report, with the real binary: markers on
//! every partition, projections written when the projector reaches them,
//! totals equal to a reference computed from the input lines, the CSV equal
//! to the JSON, and a replay giving the same report.

use ledger_e2e::{demo, run, stderr, stdout};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

fn tiyn(s: &str) -> i64 {
    let (whole, frac) = s.split_once('.').unwrap_or((s, "0"));
    let frac = format!("{frac:0<2}");
    whole.parse::<i64>().unwrap() * 100 + frac[..2].parse::<i64>().unwrap()
}

/// What the input lines say about `period`, computed here without the
/// ledger: the first line of each event id counts (later ones are
/// duplicates or conflicts); a line whose birth date differs from the one
/// the IIN encodes is returned to its payer.
#[derive(Debug, Default, PartialEq)]
struct Reference {
    contributions: i64,
    penalties: i64,
    returned: i64,
    lines: u64,
    participants: usize,
}

fn reference(events: &Path, period: &str) -> Reference {
    let mut seen = HashSet::new();
    let mut r = Reference::default();
    let mut paid: BTreeMap<String, i64> = BTreeMap::new();
    for line in std::fs::read_to_string(events).unwrap().lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let e = &v["envelope"];
        let Some(id) = e["eventId"].as_str() else {
            continue;
        };
        if !seen.insert(id.to_string()) {
            continue;
        }
        let c = &e["contribution"];
        if c.is_null() || c["period"] != period {
            continue;
        }
        let iin = e["iin"].as_str().unwrap();
        let amount = tiyn(c["amount"].as_str().unwrap());
        let encoded = ledger_core::Iin::parse(iin).unwrap().birth_date().unwrap();
        r.lines += 1;
        if c["person"]["birthDate"].as_str().unwrap() != encoded.to_string() {
            r.returned += amount;
        } else if c["payment"]["ppc"] == "017" {
            r.penalties += amount;
        } else {
            r.contributions += amount;
            *paid.entry(iin.to_string()).or_default() += amount;
        }
    }
    r.participants = paid.values().filter(|a| **a > 0).count();
    r
}

fn report(data: &Path, period: &str, csv: Option<&Path>) -> Value {
    let mut args = vec![
        "report",
        "monthly",
        period,
        "--data",
        data.to_str().unwrap(),
        "--json",
    ];
    if let Some(c) = csv {
        args.extend(["--csv", c.to_str().unwrap()]);
    }
    let o = run(&args);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

#[test]
fn a_closed_month_reports_what_the_lines_say_and_replays_identically() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path(), 300, 6);
    let d = data.to_str().unwrap();
    let log = data.join("log");
    let l = log.to_str().unwrap();
    // Pick the busiest period of the demo.
    let events = data.join("events.jsonl");
    let text = std::fs::read_to_string(&events).unwrap();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for line in text.lines() {
        if let Ok(v) = serde_json::from_str::<Value>(line) {
            if let Some(p) = v["envelope"]["contribution"]["period"].as_str() {
                *counts.entry(p.to_string()).or_default() += 1;
            }
        }
    }
    let period = counts.iter().max_by_key(|(_, n)| **n).unwrap().0.clone();

    // Not closed yet: the report refuses, naming the open partitions.
    let o = run(&["report", "monthly", &period, "--data", d]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("not closed on partitions [0, 1, 2, 3]"),
        "{}",
        stderr(&o)
    );

    let o = run(&["close-month", &period, "--log", l, "--by", "test"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 4, "one marker per partition");
    let o = run(&["project", "--log", l, "--data", d, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let totals: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(totals["months_closed"], 4, "{totals}");

    let csv_path = dir.path().join("report.csv");
    let r = report(&data, &period, Some(&csv_path));
    let want = reference(&events, &period);
    assert!(want.lines > 250, "{want:?}");
    assert!(want.returned > 0, "the demo returns some lines: {want:?}");
    let got = Reference {
        contributions: tiyn(r["contributions_total"].as_str().unwrap()),
        penalties: tiyn(r["penalties_total"].as_str().unwrap()),
        returned: tiyn(r["returned_total"].as_str().unwrap()),
        lines: r["lines"].as_u64().unwrap(),
        participants: r["participants"].as_u64().unwrap() as usize,
    };
    assert_eq!(got, want, "{r}");
    assert_eq!(
        r["reconciliation"]["projections_sum_equals_partition_summaries"],
        true
    );
    let ppc_012 = tiyn(r["by_ppc"]["012"]["credited"].as_str().unwrap());
    assert_eq!(ppc_012, want.contributions);

    // The CSV parses as CSV (quoted fields and all) and says what the JSON says.
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let mut rows = csv.lines();
    assert_eq!(rows.next(), Some("figure,code,value"));
    let mut figures = BTreeMap::new();
    for row in rows {
        let cells: Vec<&str> = row.split(',').collect();
        assert_eq!(cells.len(), 3, "{row}");
        figures.insert(
            (cells[0].to_string(), cells[1].to_string()),
            cells[2].to_string(),
        );
    }
    for k in [
        "contributions_total",
        "penalties_total",
        "returned_total",
        "on_time_share",
    ] {
        assert_eq!(
            figures[&(k.to_string(), String::new())],
            r[k].as_str().unwrap(),
            "{k}"
        );
    }
    assert_eq!(
        figures[&("participants".into(), String::new())],
        r["participants"].to_string()
    );
    let ppcs: BTreeSet<&String> = r["by_ppc"].as_object().unwrap().keys().collect();
    for p in ppcs {
        assert_eq!(
            figures[&("ppc_credited".to_string(), p.clone())],
            r["by_ppc"][p]["credited"].as_str().unwrap()
        );
    }

    // The chart next to the CSV: twelve months, a bar for the closed one.
    let svg = std::fs::read_to_string(csv_path.with_extension("svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(
        svg.matches("text-anchor=\"middle\">20").count(),
        12,
        "{svg}"
    );
    assert_eq!(svg.matches("<title>").count(), 1, "one closed month: {svg}");
    assert!(svg.contains(&format!(
        "<title>{period}: {}</title>",
        r["contributions_total"].as_str().unwrap()
    )));

    // A replay from scratch writes the same projections: the same report
    // and the same digest of everything else.
    let again = dir.path().join("again");
    let o = run(&["replay", "--log", l, "--data", again.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(report(&again, &period, None), r);

    // A second marker for the same period changes nothing.
    assert!(run(&["close-month", &period, "--log", l]).status.success());
    assert!(run(&["project", "--log", l, "--data", d]).status.success());
    assert_eq!(report(&data, &period, None), r);

    // A late line for the closed period: a restatement of exactly that
    // participant (revision 2), a new summary revision, revision 1 kept.
    let before = projections(&data, &period);
    let line = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| {
            let c = &v["envelope"]["contribution"];
            c["period"] == period.as_str()
                && c["payment"]["ppc"] == "012"
                && c["person"]["birthDate"].as_str().unwrap()
                    == ledger_core::Iin::parse(v["envelope"]["iin"].as_str().unwrap())
                        .unwrap()
                        .birth_date()
                        .unwrap()
                        .to_string()
        })
        .unwrap();
    let mut late = line["envelope"].clone();
    late["eventId"] = Value::from("late-after-close-1");
    let iin = late["iin"].as_str().unwrap().to_string();
    let amount = tiyn(late["contribution"]["amount"].as_str().unwrap());
    let file = dir.path().join("late.jsonl");
    std::fs::write(&file, late.to_string() + "\n").unwrap();
    assert!(run(&["publish", "--log", l, file.to_str().unwrap()])
        .status
        .success());
    let o = run(&["project", "--log", l, "--data", d, "--json"]);
    let t: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(t["restatements"], 1, "{t}");
    let after = projections(&data, &period);
    assert_eq!(
        after.len(),
        before.len() + 1,
        "one more projection, none changed"
    );
    for p in &before {
        assert!(after.contains(p), "revision untouched: {p}");
    }
    let new: Vec<&Value> = after.iter().filter(|p| !before.contains(p)).collect();
    assert_eq!(new[0]["iin"], iin.as_str());
    assert_eq!(new[0]["revision"], 2);
    assert!(
        new[0]["reason"].as_str().unwrap().starts_with("restated"),
        "{}",
        new[0]
    );
    let restated = report(&data, &period, None);
    assert_eq!(restated["revision"], 2);
    assert_eq!(
        tiyn(restated["contributions_total"].as_str().unwrap()),
        want.contributions + amount
    );
    assert_eq!(
        restated["reconciliation"]["projections_sum_equals_partition_summaries"],
        true
    );

    // Replayed from scratch, the same projections, revision by revision.
    let third = dir.path().join("third");
    assert!(
        run(&["replay", "--log", l, "--data", third.to_str().unwrap()])
            .status
            .success()
    );
    assert_eq!(projections(&third, &period), after);
    assert_eq!(report(&third, &period, None), restated);
}

fn projections(data: &Path, period: &str) -> Vec<Value> {
    let o = run(&[
        "report",
        "projections",
        period,
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Issue 25 case 10: `close-month` refuses a month that has not ended and
/// one before `--epoch`, appending nothing; with the back-office override
/// the marker records it, and the projector closes the month.
#[test]
fn close_month_refuses_an_unended_month_and_one_before_the_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let lines = dir.path().join("lines.jsonl");
    std::fs::write(
        &lines,
        r#"{"timestamp":"2025-04-10T15:00:00+05:00","envelope":{"eventId":"c-1","iin":"900517400451","source":"bank","contribution":{"payment":{"receivedOn":"2025-04-10","ppc":"012","payerId":"150340000179"},"period":"2025-03","amount":"1000.00","person":{"surname":"Ахметова","name":"Айгерим","birthDate":"1990-05-17"}}}}"#
            .to_string()
            + "\n",
    )
    .unwrap();
    let log = dir.path().join("log");
    let (l, d) = (log.to_str().unwrap(), dir.path().join("data"));
    let d = d.to_str().unwrap();
    assert!(run(&["publish", "--log", l, lines.to_str().unwrap()])
        .status
        .success());
    let records = || -> u64 {
        ledger_stream::EmbeddedLog::open(&log)
            .unwrap()
            .end_offsets()
            .unwrap()
            .iter()
            .sum()
    };
    let before = records();
    // Today's month has not ended either (whenever the test runs).
    let this_month = chrono::Utc::now().format("%Y-%m").to_string();
    for (period, why) in [
        (
            "2031-06",
            "2031-06 has not ended: it ends at 2031-07-01T00:00:00+05:00",
        ),
        (this_month.as_str(), "has not ended"),
        ("1999-01", "1999-01 ended before the ledger's epoch"),
    ] {
        let o = run(&["close-month", period, "--log", l]);
        assert_eq!(o.status.code(), Some(1), "{period}: {}", stderr(&o));
        assert!(stderr(&o).contains(why), "{period}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("nothing was published"),
            "{}",
            stderr(&o)
        );
    }
    // `--epoch` moves the bound: 2025-02 is before an epoch of 2025-03-01.
    let o = run(&[
        "close-month",
        "2025-02",
        "--log",
        l,
        "--epoch",
        "2025-03-01",
    ]);
    assert!(
        stderr(&o).contains("before the ledger's epoch"),
        "{}",
        stderr(&o)
    );
    assert_eq!(records(), before, "nothing appended");

    let o = run(&["close-month", "2031-06", "--log", l, "--allow-unended"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("--allow-unended"), "{}", stderr(&o));
    let o = run(&["close-month", "2025-03", "--log", l]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["project", "--log", l, "--data", d]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("8 month closes"), "{}", stdout(&o));
    let o = run(&["dead-letters", "--data", d]);
    assert!(!stdout(&o).contains("bad_control"), "{}", stdout(&o));
    assert_eq!(
        report(Path::new(d), "2025-03", None)["contributions_total"],
        "1000.00"
    );
    let o = run(&["report", "monthly", "2031-06", "--data", d]);
    assert!(
        stdout(&o).contains("monthly report 2031-06"),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("2031-06 has not ended"),
        "a report of an unended month says so: {}",
        stderr(&o)
    );
}
