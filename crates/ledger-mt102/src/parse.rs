//! MT102 text into messages: blocks, fields, subfields, sequences
//! (`shared/reference/mt102.md`, "Shape of one message"). Nothing here
//! judges a value; [`crate::order`] does.
//!
//! Accepted as banks write them: several messages in one file, LF or CRLF,
//! `{ 1:` with a space, blocks on one line or several, `:70:` alone with
//! its first subfield on the next line, `//CODE/` subfields (the RNN era),
//! and a subfield's text continued on lines that do not start a subfield.

/// A value and the line (1-based, in the file) it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Val {
    pub line: u32,
    pub text: String,
}

/// A field's `/CODE/value` subfields in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subfields(pub Vec<(String, Val)>);

impl Subfields {
    /// The subfield `code`'s value, if given.
    pub fn get(&self, code: &str) -> Option<&Val> {
        self.0.iter().find(|(c, _)| c == code).map(|(_, v)| v)
    }

    /// The first code given more than once, with its second line.
    pub fn repeated(&self) -> Option<(&str, u32)> {
        self.0.iter().enumerate().find_map(|(i, (c, v))| {
            self.0[..i]
                .iter()
                .any(|(d, _)| d == c)
                .then_some((c.as_str(), v.line))
        })
    }
}

/// A party (`:50:` payer, `:59:` recipient): the account on the field's
/// first line (`/D/` dropped on `:50:`), then subfields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Party {
    pub account: Option<Val>,
    pub sub: Subfields,
}

/// One sequence B: one person's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// `:21:`, the line's number within the order.
    pub number: Val,
    /// `:32B:` as written (`KZT4250,00`).
    pub amount: Option<Val>,
    /// `:70:` subfields: `/OPV/`, `/FM/`, `/NM/`, `/FT/`, `/DT/`, `/IDN/`
    /// (or `/RNN/`), `/PERIOD/`.
    pub details: Subfields,
}

/// One message as written: sequence A (the order), B (the lines), C (the
/// total).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The line of `{1:`.
    pub line: u32,
    /// Block 2, the application header (`I102SGROSS000000U3003`).
    pub application_header: Option<Val>,
    /// `:20:`, the sender's reference.
    pub reference: Option<Val>,
    pub payer: Option<Party>,
    /// `:52B:`, the payer's bank.
    pub payer_bank: Option<Val>,
    /// `:57B:`, the beneficiary's bank.
    pub beneficiary_bank: Option<Val>,
    pub recipient: Option<Party>,
    /// Sequence A's `:70:`: `/NUM/`, `/DATE/`, `/KNP/`, `/PERIOD/`, `/ASSIGN/`…
    pub details: Subfields,
    pub lines: Vec<Line>,
    /// `:32A:` as written (`250410KZT34000,00`).
    pub total: Option<Val>,
    /// What the message cannot be read without: a field repeated, a field
    /// out of its sequence, a line outside any field. The first is why the
    /// message is refused.
    pub faults: Vec<(u32, String)>,
}

/// What a file holds, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Message(Box<Message>),
    /// Text that belongs to no message: the line and why.
    Stray {
        line: u32,
        reason: String,
    },
}

/// The messages of a file's text, one at a time (a file may be large).
/// Lines end with LF or CRLF; a text with carriage returns and no line
/// feed at all has CR line ends.
pub fn messages(text: &str) -> Messages<'_> {
    let sep = if !text.contains('\n') && text.contains('\r') {
        '\r'
    } else {
        '\n'
    };
    Messages {
        lines: text.split(sep).enumerate(),
        pending: None,
        queued: None,
    }
}

/// Iterator of [`messages`].
pub struct Messages<'a> {
    lines: std::iter::Enumerate<std::str::Split<'a, char>>,
    /// A message start found while reading the previous one (or on the
    /// line where it ended).
    pending: Option<(u32, &'a str)>,
    /// Text found after a message's end on its last line.
    queued: Option<Item>,
}

fn next_line<'a>(it: &mut impl Iterator<Item = (usize, &'a str)>) -> Option<(u32, &'a str)> {
    it.next().map(|(i, l)| {
        let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
        (n, l.strip_suffix('\r').unwrap_or(l))
    })
}

/// `{1:`, `{ 1:` (a space seen in writers' output), after spaces.
fn starts_message(line: &str) -> bool {
    let t = line.trim_start_matches([' ', '\t', '\u{FEFF}']);
    t.strip_prefix('{')
        .map(|r| r.trim_start().starts_with("1:"))
        .unwrap_or(false)
}

fn blank(line: &str) -> bool {
    line.trim_matches([' ', '\t', '\u{FEFF}', '\u{1A}'])
        .is_empty()
}

/// Where a body line ends its message: at its first `-}`, leading the
/// line or after its last field (`:32A:250410KZT4250,00-}`); what precedes
/// it and what follows. (Writers replace `}` in names with `)`.)
fn end_of(line: &str) -> Option<(&str, &str)> {
    let at = line.find("-}")?;
    Some((&line[..at], &line[at + 2..]))
}

/// `after` without the trailer blocks that may follow a message's end
/// (`{5:{CHK:…}}`, `{S:…}`).
fn without_trailers(mut after: &str) -> &str {
    loop {
        let t = after.trim_start();
        let is_trailer = t.starts_with("{5:") || t.starts_with("{S:");
        if !is_trailer {
            return t;
        }
        let mut depth = 0usize;
        let mut end = None;
        for (i, c) in t.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i + 1);
                        break;
                    }
                }
                _ => {}
            }
        }
        match end {
            Some(e) => after = &t[e..],
            // An unclosed trailer: text outside any message.
            None => return t,
        }
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        if let Some(q) = self.queued.take() {
            return Some(q);
        }
        // Up to the next message's first line; other text but blank lines
        // is outside a message, reported as one run of lines.
        let (start, first) = match self.pending.take() {
            Some(p) => p,
            None => loop {
                let (n, l) = next_line(&mut self.lines)?;
                if starts_message(l) {
                    break (n, l);
                }
                if !blank(l) {
                    let mut last = n;
                    while let Some((m, l)) = next_line(&mut self.lines) {
                        if starts_message(l) {
                            self.pending = Some((m, l));
                            break;
                        }
                        if blank(l) {
                            break;
                        }
                        last = m;
                    }
                    let lines = if last == n {
                        String::new()
                    } else {
                        format!(" (lines {n}-{last})")
                    };
                    return Some(Item::Stray {
                        line: n,
                        reason: format!(
                            "text outside any message{lines} (a message starts with {{1:)"
                        ),
                    });
                }
            },
        };
        let mut headers = String::new();
        let mut body: Vec<(u32, &'a str)> = Vec::new();
        let mut in_body = false;
        let mut line = Some((start, first));
        // A message cut short is still read, for its :20: and /NUM/ to
        // name it; the cut is its first fault.
        let cut = loop {
            let Some((n, l)) = line else {
                break Some(
                    "the message starting here has no end (-}) before the end of the file"
                        .to_string(),
                );
            };
            if n != start && starts_message(l) {
                self.pending = Some((n, l));
                break Some(format!(
                    "the message starting here has no end (-}}): another begins at line {n}"
                ));
            }
            let content = if in_body {
                Some(l)
            } else if let Some(at) = l.find("{4:") {
                headers.push_str(&l[..at]);
                in_body = true;
                Some(&l[at + 3..])
            } else {
                headers.push_str(l.trim());
                None
            };
            if let Some(c) = content {
                if let Some((before, after)) = end_of(c) {
                    if !before.trim().is_empty() {
                        body.push((n, before));
                    }
                    let after = without_trailers(after);
                    if starts_message(after) {
                        self.pending = Some((n, after));
                    } else if !after.trim().is_empty() {
                        self.queued = Some(Item::Stray {
                            line: n,
                            reason: "text after the end of a message (-}) on its line".into(),
                        });
                    }
                    break None;
                }
                // Every line of the body counts (a blank one too); what
                // follows `{4:` on its line only when there is some.
                let whole_line = c.len() == l.len();
                if whole_line || !c.trim().is_empty() {
                    body.push((n, c));
                }
            }
            line = next_line(&mut self.lines);
        };
        let mut m = message(start, &headers, &body);
        if let Some(reason) = cut {
            m.faults.insert(0, (start, reason));
        }
        Some(Item::Message(Box::new(m)))
    }
}

/// Block 2's content from the headers' text (`{1:…}{2:…}{3:…}`).
fn block2(headers: &str) -> Option<String> {
    let at = headers.find("{2:")?;
    let rest = &headers[at + 3..];
    Some(
        rest[..rest.find('}').unwrap_or(rest.len())]
            .trim()
            .to_string(),
    )
}

/// `:TAG:` at the start of a line: two digits and an optional letter.
fn tag(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix(':')?;
    let end = rest.find(':')?;
    let t = &rest[..end];
    let b = t.as_bytes();
    let ok = (b.len() == 2 || b.len() == 3)
        && b[..2].iter().all(u8::is_ascii_digit)
        && b[2..].iter().all(u8::is_ascii_uppercase);
    ok.then(|| (t, &rest[end + 1..]))
}

/// A field: its tag, its first line's number, and its lines.
struct Field<'a> {
    tag: &'a str,
    line: u32,
    lines: Vec<(u32, &'a str)>,
}

fn subfields(lines: &[(u32, &str)], faults: &mut Vec<(u32, String)>) -> Subfields {
    let mut out: Vec<(String, Val)> = Vec::new();
    for &(n, l) in lines {
        let t = l.trim_end();
        if t.trim().is_empty() {
            continue;
        }
        match subfield(t) {
            Some((code, value)) => out.push((
                code.to_string(),
                Val {
                    line: n,
                    text: value.to_string(),
                },
            )),
            // A subfield's text continued (an /ASSIGN/ over several lines).
            None => match out.last_mut() {
                Some((_, v)) => {
                    v.text.push(' ');
                    v.text.push_str(t.trim());
                }
                None => faults.push((n, "a line that is not a /CODE/value subfield begins the field (not quoted: it may hold a name)".to_string())),
            },
        }
    }
    Subfields(out)
}

/// `/CODE/value` or `//CODE/value`: the code is upper-case letters.
fn subfield(line: &str) -> Option<(&str, &str)> {
    let rest = line.trim_start_matches('/');
    if rest.len() == line.len() {
        return None;
    }
    let end = rest.find('/')?;
    let code = &rest[..end];
    (!code.is_empty() && code.bytes().all(|b| b.is_ascii_uppercase()))
        .then(|| (code, &rest[end + 1..]))
}

fn party(f: &Field<'_>, faults: &mut Vec<(u32, String)>) -> Party {
    let (n, first) = f.lines[0];
    let first = first.trim();
    // `:50:/D/KZ…`: the account after the debit mark.
    let account = first.strip_prefix("/D/").unwrap_or(first);
    let (account, rest) = if account.is_empty() || subfield(account).is_some() {
        (None, &f.lines[..])
    } else {
        (
            Some(Val {
                line: n,
                text: account.to_string(),
            }),
            &f.lines[1..],
        )
    };
    Party {
        account,
        sub: subfields(rest, faults),
    }
}

fn one(v: &Field<'_>, faults: &mut Vec<(u32, String)>) -> Val {
    for &(n, l) in &v.lines[1..] {
        if !l.trim().is_empty() {
            faults.push((n, format!(":{}: takes one line; another follows it", v.tag)));
        }
    }
    Val {
        line: v.line,
        text: v.lines[0].1.trim().to_string(),
    }
}

fn message(start: u32, headers: &str, body: &[(u32, &str)]) -> Message {
    let mut m = Message {
        line: start,
        application_header: block2(headers).map(|text| Val { line: start, text }),
        reference: None,
        payer: None,
        payer_bank: None,
        beneficiary_bank: None,
        recipient: None,
        details: Subfields::default(),
        lines: Vec::new(),
        total: None,
        faults: Vec::new(),
    };
    let mut fields: Vec<Field<'_>> = Vec::new();
    for &(n, l) in body {
        match tag(l) {
            Some((t, rest)) => fields.push(Field {
                tag: t,
                line: n,
                lines: vec![(n, rest)],
            }),
            None => match fields.last_mut() {
                Some(f) => f.lines.push((n, l)),
                None if l.trim().is_empty() => {}
                None => m
                    .faults
                    .push((n, "text before the first field (:TAG:)".to_string())),
            },
        }
    }
    let mut seen_a: Vec<&str> = Vec::new();
    for f in &fields {
        let faults = &mut m.faults;
        let in_b = !m.lines.is_empty();
        if m.total.is_some() {
            faults.push((
                f.line,
                format!(":{}: after :32A:, the message's last field", f.tag),
            ));
            continue;
        }
        match f.tag {
            "21" => {
                let number = one(f, faults);
                m.lines.push(Line {
                    number,
                    amount: None,
                    details: Subfields::default(),
                });
            }
            "32A" => m.total = Some(one(f, faults)),
            "32B" | "70" if in_b => {
                let line = m.lines.last_mut().expect("in sequence B");
                if f.tag == "32B" {
                    if line.amount.is_some() {
                        faults.push((f.line, "a second :32B: in one line".into()));
                    }
                    line.amount = Some(one(f, faults));
                } else {
                    if !line.details.0.is_empty() {
                        faults.push((f.line, "a second :70: in one line".into()));
                    }
                    line.details = subfields(&f.lines, faults);
                }
            }
            t if in_b => faults.push((f.line, format!(":{t}: inside a line (after :21:)"))),
            t => {
                if seen_a.contains(&t) {
                    faults.push((f.line, format!(":{t}: given twice")));
                    continue;
                }
                seen_a.push(t);
                match t {
                    "20" => m.reference = Some(one(f, faults)),
                    "50" | "50K" | "50F" => m.payer = Some(party(f, faults)),
                    "59" => m.recipient = Some(party(f, faults)),
                    "52B" => m.payer_bank = Some(one(f, faults)),
                    "57B" => m.beneficiary_bank = Some(one(f, faults)),
                    "70" => m.details = subfields(&f.lines, faults),
                    // Other fields of sequence A (:23:, :26T:, :77B:…) carry
                    // nothing the ledger records.
                    _ => {}
                }
            }
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "{1:F01K054700000000010000001}\r\n{2:I102SGROSS000000U3003}\r\n{4:\r\n\
:20:RMZ0000001\r\n:50:/D/KZ000000000000000001\r\n/NAME/ТОО \"ПРИМЕР\"\r\n/IDN/150340000179\r\n\
:57B:GCVPKZ2A\r\n:59:KZ67009SS00368609110\r\n/NAME/ГК\r\n:70:/NUM/125\r\n/DATE/250410\r\n/KNP/012\r\n\
/ASSIGN/СО ЗА МАРТ\r\n2025 Г.\r\n:21:1\r\n:32B:KZT4250,00\r\n:70:\r\n/OPV/S\r\n/FM/СЕРИКОВА\r\n\
//NM/АЙГЕРИМ\r\n:32A:250410KZT4250,00\r\n-}\r\n";

    #[test]
    fn a_message_reads_into_its_sequences() {
        let items: Vec<Item> = messages(ONE).collect();
        let [Item::Message(m)] = &items[..] else {
            panic!("{items:?}")
        };
        assert!(m.faults.is_empty(), "{:?}", m.faults);
        assert_eq!(m.reference.as_ref().unwrap().text, "RMZ0000001");
        let payer = m.payer.as_ref().unwrap();
        assert_eq!(payer.account.as_ref().unwrap().text, "KZ000000000000000001");
        assert_eq!(payer.sub.get("IDN").unwrap().text, "150340000179");
        assert_eq!(m.details.get("ASSIGN").unwrap().text, "СО ЗА МАРТ 2025 Г.");
        assert_eq!(m.details.get("KNP").unwrap().line, 13);
        let [l] = &m.lines[..] else { panic!() };
        assert_eq!(l.amount.as_ref().unwrap().text, "KZT4250,00");
        assert_eq!(l.details.get("OPV").unwrap().text, "S");
        assert_eq!(l.details.get("NM").unwrap().text, "АЙГЕРИМ");
        assert_eq!(m.total.as_ref().unwrap().text, "250410KZT4250,00");
        assert_eq!(
            m.application_header.as_ref().unwrap().text,
            "I102SGROSS000000U3003"
        );
    }

    #[test]
    fn text_outside_messages_and_cut_messages_are_named_by_line() {
        let text = format!("junk\n{}{{ 1:F01\n{{4:\n:20:X\n", ONE.replace("\r\n", "\n"));
        let items: Vec<Item> = messages(&text).collect();
        assert!(
            matches!(&items[0], Item::Stray { line: 1, .. }),
            "{items:?}"
        );
        assert!(matches!(&items[1], Item::Message(m) if m.line == 2 && m.faults.is_empty()));
        let Item::Message(cut) = &items[2] else {
            panic!("{items:?}")
        };
        assert_eq!(cut.reference.as_ref().unwrap().text, "X");
        assert_eq!(cut.faults[0].0, 25);
        assert!(cut.faults[0].1.contains("no end"), "{:?}", cut.faults);
    }

    #[test]
    fn what_follows_a_messages_end_on_its_line_is_read_not_dropped() {
        let one = ONE.replace("\r\n", "\n");
        let body = one.trim_end().strip_suffix("\n-}").unwrap();
        // `-}` glued to the last field, then the next message on the same
        // line; trailers are skipped; other text is reported.
        let text = format!(
            "{body}-}}{one}{}{{5:{{CHK:123}}}}\n{}GARBAGE\n",
            one.trim_end(),
            one.trim_end()
        );
        let items: Vec<Item> = messages(&text).collect();
        let kinds: Vec<String> = items
            .iter()
            .map(|i| match i {
                Item::Message(m) => format!("message at {} {:?}", m.line, m.faults),
                Item::Stray { line, reason } => format!("stray at {line}: {reason}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "message at 1 []",
                "message at 22 []",
                "message at 45 []",
                "message at 68 []",
                "stray at 90: text after the end of a message (-}) on its line",
            ]
        );
        let Item::Message(m) = &items[0] else {
            panic!()
        };
        assert_eq!(m.total.as_ref().unwrap().text, "250410KZT4250,00");
    }

    #[test]
    fn cr_line_ends_and_runs_of_stray_text() {
        let cr = ONE.replace("\r\n", "\r");
        let items: Vec<Item> = messages(&cr).collect();
        assert!(
            matches!(&items[..], [Item::Message(m)] if m.faults.is_empty()),
            "{items:?}"
        );
        let text = format!("a\nb\nc\n\nd\n{ONE}");
        let items: Vec<Item> = messages(&text).collect();
        assert_eq!(
            items[..2],
            [
                Item::Stray {
                    line: 1,
                    reason: "text outside any message (lines 1-3) (a message starts with {1:)"
                        .into()
                },
                Item::Stray {
                    line: 5,
                    reason: "text outside any message (a message starts with {1:)".into()
                }
            ]
        );
        assert!(matches!(&items[2], Item::Message(m) if m.line == 6));
    }
}
