//! Never a panic: arbitrary bytes, and the golden files cut, spliced and
//! corrupted, go through every step the import takes (decode in every
//! encoding, messages, read) and come out as values or refusals.

use ledger_mt102::{decode, messages, read, Encoding, Item, Options};
use proptest::prelude::*;
use std::collections::HashMap;

fn all_the_way(bytes: &[u8]) {
    let opts = Options {
        rnn_map: Some(HashMap::from([(
            "600400112233".into(),
            "770101301234".into(),
        )])),
        ..Options::default()
    };
    for enc in [
        None,
        Some(Encoding::Utf8),
        Some(Encoding::Cp866),
        Some(Encoding::Cp1251),
        Some(Encoding::Kz1048),
    ] {
        let Ok(d) = decode(bytes, enc) else { continue };
        for item in messages(&d.text) {
            if let Item::Message(m) = item {
                let _ = read(&m, &opts);
            }
        }
    }
}

fn golden() -> Vec<Vec<u8>> {
    let dir = format!("{}/tests/data", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mt102"))
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        all_the_way(&bytes);
    }

    #[test]
    fn golden_files_corrupted(
        file in 0usize..8,
        edits in proptest::collection::vec((any::<u16>(), 0u8..4, any::<u8>(), 0usize..40), 1..8),
    ) {
        let files = golden();
        let mut b = files[file % files.len()].clone();
        for (at, op, byte, len) in edits {
            let at = usize::from(at) % (b.len() + 1);
            match op {
                0 => { let end = (at + len).min(b.len()); b.drain(at..end); }
                1 => b.insert(at, byte),
                2 => if at < b.len() { b[at] = byte },
                _ => { let end = (at + len).min(b.len()); let copy = b[at..end].to_vec(); b.splice(at..at, copy); }
            }
        }
        all_the_way(&b);
    }
}

#[test]
fn mt102_shaped_text_with_every_field_cut_at_every_line() {
    // Each golden file with its first n lines only, for every n.
    for f in golden() {
        let lines: Vec<&[u8]> = f.split(|&b| b == b'\n').collect();
        for n in 0..lines.len() {
            all_the_way(&lines[..n].join(&b'\n'));
        }
    }
}
