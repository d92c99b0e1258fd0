//! A parsed message checked and turned into contribution envelopes, one per
//! line of a 012 or 017 order (docs/rules.md, "MT102 payment orders").
//!
//! - A message that cannot be read, whose `:32B:` amounts do not add up to
//!   `:32A:`, whose recipient account or beneficiary bank does not fit its
//!   purpose code, or whose `/OPV/` letter disagrees with it, is refused
//!   whole ([`Outcome::Refused`]).
//! - A line that cannot be keyed (no identifier, an IIN that is not one, an
//!   RNN the map does not hold) is refused alone; the rest of the order
//!   goes on ([`Order::refused`]).
//! - An order under another purpose code is skipped, counted by code
//!   ([`Outcome::Skipped`]).
//!
//! Every other judgement (the registers, duplicates, lateness) is the
//! projector's, as for any contribution line.

use crate::parse::{Message, Subfields, Val};
use chrono::NaiveDate;
use ledger_core::{Iin, Money, PayerId, Period, Ppc};
use ledger_proto::v1 as pb;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The State Corporation's BIC, the beneficiary bank of every order.
pub const STATE_CORPORATION_BIC: &str = "GCVPKZ2A";
/// Its account for social contributions and their penalties (012, 017).
pub const CONTRIBUTIONS_ACCOUNT: &str = "KZ67009SS00368609110";
/// Its account for pension contributions and their penalties (010, 019).
pub const PENSION_ACCOUNT: &str = "KZ12009NPS0413609816";

/// What an order under a purpose code must carry: the recipient account
/// (where known) and the `/OPV/` letter of its lines
/// (`shared/reference/mt102.md`).
fn fits(ppc: &str) -> Option<(Option<&'static str>, char)> {
    Some(match ppc {
        "012" | "017" => (Some(CONTRIBUTIONS_ACCOUNT), 'S'),
        "010" | "019" => (Some(PENSION_ACCOUNT), 'C'),
        "013" => (None, 'V'),
        _ => return None,
    })
}

/// What the import is told beside the file.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The day the money reached the account (`--received-on`); else the
    /// `:32A:` value date.
    pub received_on: Option<NaiveDate>,
    /// The envelopes' `source` (`--source`); else the payer's bank BIC
    /// (`:52B:`), else `mt102`.
    pub source: Option<String>,
    /// RNN → IIN or BIN (`--rnn-map`), for the RNN era's lines and payers.
    pub rnn_map: Option<HashMap<String, String>>,
}

/// Why a message, or one of its lines, was refused: the line in the file,
/// the field and the reason. IINs in it are masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub line: u32,
    pub field: String,
    pub reason: String,
}

impl std::fmt::Display for Refusal {
    /// `FIELD: reason`, or `:TAG: reason` for a bare tag (not `:32A::`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.ends_with(':') {
            write!(f, "{} {}", self.field, self.reason)
        } else {
            write!(f, "{}: {}", self.field, self.reason)
        }
    }
}

/// What identifies an order in reports: where it starts, `:20:`, `/NUM/`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OrderId {
    /// The line of `{1:`.
    pub line: u32,
    pub reference: Option<String>,
    pub document_number: Option<String>,
}

impl OrderId {
    /// `:20: REF /NUM/ N`, `(none)` for what the message lacks: how
    /// reports name an order.
    pub fn label(&self) -> String {
        format!(
            ":20: {} /NUM/ {}",
            self.reference.as_deref().unwrap_or("(none)"),
            self.document_number.as_deref().unwrap_or("(none)")
        )
    }
}

/// A 012 or 017 order, read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Order {
    #[serde(flatten)]
    pub id: OrderId,
    pub ppc: String,
    pub payer_id: String,
    pub document_date: Option<NaiveDate>,
    /// `:32A:`'s date.
    pub dispatched_on: NaiveDate,
    pub received_on: NaiveDate,
    /// `--received-on` or `:32A:`.
    pub received_on_from: &'static str,
    /// `:32A:`'s amount.
    pub total: Money,
    /// The number of `:21:` lines.
    pub line_count: u32,
    /// One envelope per line keyed, in the order's order: (IIN, envelope).
    #[serde(skip)]
    pub envelopes: Vec<(Iin, pb::Envelope)>,
    /// The sum of the keyed lines' amounts.
    pub sum: Money,
    /// Lines refused alone.
    pub refused: Vec<Refusal>,
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Read; its keyed lines are to be published.
    Imported(Order),
    /// Under a purpose code the ledger does not record.
    Skipped {
        #[serde(flatten)]
        id: OrderId,
        ppc: String,
    },
    /// Not one line of it is to be published.
    Refused {
        #[serde(flatten)]
        id: OrderId,
        /// Where and why (`refusal` in JSON: its `line` is the fault's,
        /// the order's own is `line` beside it).
        #[serde(rename = "refusal")]
        why: Refusal,
    },
}

fn refuse(line: u32, field: &str, reason: impl Into<String>) -> Refusal {
    Refusal {
        line,
        field: field.to_string(),
        reason: reason.into(),
    }
}

fn required<'a>(v: Option<&'a Val>, line: u32, field: &str) -> Result<&'a Val, Refusal> {
    v.ok_or_else(|| refuse(line, field, "is missing"))
}

/// A value as reports show it: trimmed, control characters escaped, at
/// most 35 characters (a `:20:` may hold anything a file has).
fn shown(text: &str) -> String {
    let t = text.trim();
    let mut out = String::new();
    for c in t.chars().take(35) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if t.chars().count() > 35 {
        out.push('…');
    }
    out
}

/// Reads one message (see the module's documentation).
pub fn read(m: &Message, opts: &Options) -> Outcome {
    let id = OrderId {
        line: m.line,
        reference: m.reference.as_ref().map(|v| shown(&v.text)),
        document_number: m.details.get("NUM").map(|v| shown(&v.text)),
    };
    let ppc = match m.details.get("KNP") {
        Some(k) => k.text.trim().to_string(),
        None => {
            // /KNP/ read under :50: or :59: means the :70: tag went missing.
            let misplaced = [(":50:", m.payer.as_ref()), (":59:", m.recipient.as_ref())]
                .into_iter()
                .find_map(|(t, p)| p.and_then(|p| p.sub.get("KNP")).map(|v| (t, v.line)));
            let why = m
                .faults
                .first()
                .map(|(line, r)| refuse(*line, "(message)", r.clone()))
                .unwrap_or_else(|| match misplaced {
                    Some((tag, line)) => refuse(
                        line,
                        ":70:/KNP/",
                        format!("is under {tag} here: the order's :70: tag is missing before it"),
                    ),
                    None => refuse(m.line, ":70:/KNP/", "is missing"),
                });
            return Outcome::Refused { id, why };
        }
    };
    match order(m, &ppc, opts, &id) {
        Ok(Some(o)) => Outcome::Imported(o),
        Ok(None) => Outcome::Skipped { id, ppc },
        Err(why) => Outcome::Refused { id, why },
    }
}

fn order(m: &Message, ppc: &str, opts: &Options, id: &OrderId) -> Result<Option<Order>, Refusal> {
    if let Some((line, r)) = m.faults.first() {
        return Err(refuse(*line, "(message)", r.clone()));
    }
    // A subfield given twice is two answers to one question (which IIN,
    // which period): the order cannot be read.
    let parties = [(":50:", m.payer.as_ref()), (":59:", m.recipient.as_ref())];
    let subs = std::iter::once((":70:", &m.details))
        .chain(parties.iter().filter_map(|(t, p)| p.map(|p| (*t, &p.sub))))
        .chain(m.lines.iter().map(|l| (":70:", &l.details)));
    for (tag, sub) in subs {
        if let Some((code, line)) = sub.repeated() {
            return Err(refuse(line, &format!("{tag}/{code}/"), "is given twice"));
        }
    }
    if let Some(h) = &m.application_header {
        // `I102…` (input) or `O102…` (output): the message type follows
        // the direction.
        let mt: String = h.text.chars().skip(1).take(3).collect();
        if mt != "102" {
            return Err(refuse(
                h.line,
                "{2:}",
                format!("message type {mt:?} is not MT102"),
            ));
        }
    }
    let knp = m.details.get("KNP").expect("read checked it");
    if Ppc::parse(ppc).is_err() {
        return Err(refuse(
            knp.line,
            ":70:/KNP/",
            format!("must be 3 digits, got {}", shown(ppc)),
        ));
    }
    // The fit of account, bank and letters is checked for every code it is
    // known for: an order sent to the wrong account is not skipped quietly.
    let fit = fits(ppc);
    let recipient = m
        .recipient
        .as_ref()
        .ok_or_else(|| refuse(m.line, ":59:", "is missing"))?;
    if let Some((Some(account), _)) = fit {
        let a = required(recipient.account.as_ref(), m.line, ":59: account")?;
        if a.text.trim() != account {
            return Err(refuse(
                a.line,
                ":59: account",
                format!(
                    "{} is not the account for purpose code {ppc} ({account})",
                    shown(&a.text)
                ),
            ));
        }
        let b = m.beneficiary_bank.as_ref().ok_or_else(|| {
            refuse(
                m.line,
                ":57B:",
                format!("is missing: :57B:{STATE_CORPORATION_BIC} (the State Corporation) belongs before :59:"),
            )
        })?;
        if b.text.trim() != STATE_CORPORATION_BIC {
            return Err(refuse(
                b.line,
                ":57B:",
                format!(
                    "{} is not the State Corporation ({STATE_CORPORATION_BIC})",
                    shown(&b.text)
                ),
            ));
        }
    }
    if let Some((_, letter)) = fit {
        for l in &m.lines {
            let opv = required(l.details.get("OPV"), l.number.line, ":70:/OPV/")?;
            let got = opv.text.trim().chars().next();
            if got != Some(letter) {
                return Err(refuse(
                    opv.line,
                    ":70:/OPV/",
                    format!(
                        "{:?} does not fit purpose code {ppc}, whose lines are {letter}",
                        shown(&opv.text)
                    ),
                ));
            }
        }
    }
    if ppc != "012" && ppc != "017" {
        return Ok(None);
    }
    let reference = required(m.reference.as_ref(), m.line, ":20:")?;
    // SWIFT's 16x: the reference and the document number key the order's
    // event ids, so neither may be empty, nor text of any length.
    let r = reference.text.trim();
    if r.is_empty() || r.chars().count() > 16 || r.chars().any(char::is_control) {
        return Err(refuse(
            reference.line,
            ":20:",
            "must be 1-16 characters without control characters",
        ));
    }
    if let Some(b) = &m.payer_bank {
        let bic = b.text.trim();
        let ok = (bic.len() == 8 || bic.len() == 11)
            && bic
                .bytes()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if !ok {
            return Err(refuse(
                b.line,
                ":52B:",
                format!("{} is not a BIC (8 or 11 letters and digits)", shown(bic)),
            ));
        }
    }
    let payer = m
        .payer
        .as_ref()
        .ok_or_else(|| refuse(m.line, ":50:", "is missing"))?;
    let payer_id = payer_id(&payer.sub, m.line, opts)?;
    let payer_name = required(payer.sub.get("NAME"), m.line, ":50:/NAME/")?;
    let num = required(m.details.get("NUM"), knp.line, ":70:/NUM/")?;
    let number = num.text.trim();
    if number.is_empty() || number.chars().count() > 9 || number.chars().any(char::is_control) {
        return Err(refuse(
            num.line,
            ":70:/NUM/",
            "must be 1-9 characters without control characters",
        ));
    }
    let document_date = match m.details.get("DATE") {
        None => None,
        Some(d) if d.text.trim().bytes().all(|b| b == b'0') => None,
        Some(d) => Some(yymmdd(d.text.trim()).ok_or_else(|| {
            refuse(
                d.line,
                ":70:/DATE/",
                format!("{:?} is not a date YYMMDD", d.text),
            )
        })?),
    };
    let total_val = m.total.as_ref().ok_or_else(|| {
        refuse(
            m.line,
            ":32A:",
            "is missing (the total, the message's last field)",
        )
    })?;
    let t = total_val.text.trim();
    let dispatched_on = t.get(..6).and_then(yymmdd).ok_or_else(|| {
        refuse(
            total_val.line,
            ":32A:",
            format!("{t:?} does not start with a date YYMMDD"),
        )
    })?;
    let total = currency_amount(
        &Val {
            line: total_val.line,
            text: t[6..].to_string(),
        },
        ":32A:",
    )?;
    let order_period = m
        .details
        .get("PERIOD")
        .map(|p| period(p, ":70:/PERIOD/"))
        .transpose()?;
    if m.lines.is_empty() {
        return Err(refuse(m.line, ":21:", "the order has no lines"));
    }
    let (received_on, received_on_from) = match opts.received_on {
        Some(d) if d < dispatched_on => {
            return Err(refuse(
                total_val.line,
                ":32A:",
                format!(
                    "the money cannot be received ({d}, --received-on) before its value date \
                     {dispatched_on}"
                ),
            ))
        }
        Some(d) => (d, "--received-on"),
        None => (dispatched_on, ":32A:"),
    };
    let line_count = u32::try_from(m.lines.len()).unwrap_or(u32::MAX);
    let payment = pb::PaymentDocument {
        document_number: num.text.trim().to_string(),
        document_date: document_date.map(|d| d.to_string()).unwrap_or_default(),
        received_on: received_on.to_string(),
        dispatched_on: dispatched_on.to_string(),
        ppc: ppc.to_string(),
        payer_id: payer_id.clone(),
        payer_name: payer_name.text.clone(),
        recipient_name: recipient
            .sub
            .get("NAME")
            .map(|v| v.text.clone())
            .unwrap_or_default(),
        total_amount: total.to_string(),
        line_count,
    };
    let source = opts.source.clone().unwrap_or_else(|| {
        m.payer_bank
            .as_ref()
            .map(|b| b.text.trim().to_string())
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| "mt102".into())
    });
    let order_key = order_key(
        &reference.text,
        &payer_id,
        &payment.document_number,
        &payment.document_date,
    );
    // Every line's amount (checked against :32A:), and the keyed lines'.
    let (mut sum, mut keyed_sum) = (Money::ZERO, Money::ZERO);
    let mut envelopes = Vec::with_capacity(m.lines.len());
    let mut refused = Vec::new();
    let mut numbers: Vec<&str> = Vec::with_capacity(m.lines.len());
    for l in &m.lines {
        let n = l.number.text.trim();
        // It ends the line's event id: letters and digits only.
        if n.is_empty() || n.len() > 16 || !n.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(refuse(
                l.number.line,
                ":21:",
                format!(
                    "{} is not a line number (1-16 letters and digits)",
                    shown(n)
                ),
            ));
        }
        if numbers.contains(&n) {
            return Err(refuse(
                l.number.line,
                ":21:",
                format!("line number {n} is given twice"),
            ));
        }
        numbers.push(n);
        let a = required(l.amount.as_ref(), l.number.line, ":32B:")?;
        let amt = currency_amount(a, ":32B:")?;
        sum = sum
            .checked_add(amt)
            .ok_or_else(|| refuse(a.line, ":32B:", "the amounts overflow"))?;
        // Everything but the key is checked before the key: a line that
        // cannot be read refuses its message, one that cannot be keyed
        // only itself.
        let d = &l.details;
        let line_period = match d.get("PERIOD") {
            Some(p) => period(p, ":70:/PERIOD/")?,
            None => order_period.ok_or_else(|| {
                refuse(
                    l.number.line,
                    ":70:/PERIOD/",
                    "neither the line nor the order gives a period",
                )
            })?,
        };
        let fm = required(d.get("FM"), l.number.line, ":70:/FM/")?;
        // `/FM/A/B`: the surname, then a second value (its meaning is not
        // public); the surname is the first.
        let surname = fm.text.split('/').next().unwrap_or("").to_string();
        let name = required(d.get("NM"), l.number.line, ":70:/NM/")?;
        let dt = required(d.get("DT"), l.number.line, ":70:/DT/")?;
        let birth = NaiveDate::parse_from_str(dt.text.trim(), "%Y%m%d")
            .ok()
            .filter(|_| dt.text.trim().len() == 8)
            .ok_or_else(|| {
                refuse(
                    dt.line,
                    ":70:/DT/",
                    "is not a date YYYYMMDD (a birth date: not quoted)",
                )
            })?;
        let mut e = pb::Envelope {
            event_id: format!("mt102-{order_key}-{n}"),
            iin: String::new(),
            source: source.clone(),
            signature: None,
            payload: Some(pb::envelope::Payload::Contribution(pb::ContributionPaid {
                payment: Some(payment.clone()),
                period: line_period.to_string(),
                amount: amt.to_string(),
                person: Some(pb::PersonName {
                    surname,
                    name: name.text.clone(),
                    patronymic: d.get("FT").map(|v| v.text.clone()).unwrap_or_default(),
                    birth_date: birth.to_string(),
                }),
            })),
        };
        let iin = match person_id(d, l.number.line, opts) {
            Ok(iin) => iin,
            Err(r) => {
                refused.push(r);
                continue;
            }
        };
        e.iin = iin.as_str().to_string();
        ledger_proto::canonicalize(&mut e);
        if let Err(w) = ledger_proto::envelope_from_wire(&e) {
            return Err(wire_refusal(&w, m, l));
        }
        keyed_sum = keyed_sum.checked_add(amt).expect("at most the sum");
        envelopes.push((iin, e));
    }
    if sum != total {
        return Err(refuse(
            total_val.line,
            ":32A:",
            format!("the lines' :32B: amounts add up to {sum}, not the total {total}"),
        ));
    }
    Ok(Some(Order {
        id: id.clone(),
        ppc: ppc.to_string(),
        payer_id,
        document_date,
        dispatched_on,
        received_on,
        received_on_from,
        total,
        line_count,
        envelopes,
        sum: keyed_sum,
        refused,
    }))
}

/// A refusal by the ledger's own checks of an envelope, named by the MT102
/// field its value came from and that field's line. A person's value is
/// never quoted (a reason may quote what it refuses).
fn wire_refusal(w: &ledger_proto::WireError, m: &Message, l: &crate::parse::Line) -> Refusal {
    let field = w.field.strip_prefix("contribution.").unwrap_or(&w.field);
    let sub = |v: Option<&Val>| v.map_or(l.number.line, |v| v.line);
    let d = &l.details;
    let (name, line, personal) = match field {
        "person.surname" => (":70:/FM/", sub(d.get("FM")), true),
        "person.name" => (":70:/NM/", sub(d.get("NM")), true),
        "person.patronymic" => (":70:/FT/", sub(d.get("FT")), true),
        "person.birth_date" => (":70:/DT/", sub(d.get("DT")), true),
        "period" => (":70:/PERIOD/", sub(d.get("PERIOD")), false),
        "amount" => (":32B:", sub(l.amount.as_ref()), false),
        "payment.payer_name" => (":50:/NAME/", m.line, false),
        "payment.recipient_name" => (":59:/NAME/", m.line, false),
        "payment.document_number" => (":70:/NUM/", m.line, false),
        "source" => (
            ":52B: (the source)",
            m.payer_bank.as_ref().map_or(m.line, |b| b.line),
            false,
        ),
        other => (other, l.number.line, false),
    };
    let reason = if personal {
        match w.reason.split_once('"') {
            Some((before, _)) => format!(
                "{} (the value is personal data: not quoted)",
                before.trim_end().trim_end_matches(':')
            ),
            None => w.reason.clone(),
        }
    } else {
        w.reason.clone()
    };
    refuse(line, name, reason)
}

/// What the event ids of one order's lines start with: the first 128 bits
/// of SHA-256 over `:20:`, the payer, `/NUM/` and `/DATE/` (each
/// length-prefixed), in hex. The file's name or path plays no part: the
/// same order imported again, from any file, gives the same ids.
pub fn order_key(reference: &str, payer: &str, number: &str, date: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"si-ledger mt102 order\n");
    for part in [reference.trim(), payer, number, date] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

fn yymmdd(s: &str) -> Option<NaiveDate> {
    if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
    NaiveDate::from_ymd_opt(2000 + n(0..2)? as i32, n(2..4)?, n(4..6)?)
}

/// A SWIFT amount: digits, a decimal comma, at most two decimals
/// (`4250,`, `4250,5`, `4250,00`); at most 15 characters; not zero.
fn amount(s: &str, line: u32, field: &str) -> Result<Money, Refusal> {
    let bad = |why: String| refuse(line, field, why);
    let Some((int, frac)) = s.split_once(',') else {
        return Err(bad(if s.contains('.') {
            format!("{s:?} has a decimal point; MT102 amounts take a comma")
        } else {
            format!("{s:?} has no decimal comma")
        }));
    };
    if int.is_empty()
        || s.len() > 15
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return Err(bad(format!(
            "{s:?} is not an amount (digits, a comma, up to 2 decimals)"
        )));
    }
    if frac.len() > 2 {
        return Err(bad(format!("{s:?} has more than two decimals")));
    }
    let m = Money::parse(&format!("{int}.{frac}0")).map_err(|e| bad(e.to_string()))?;
    if m.is_zero() {
        return Err(bad(format!("{s:?}: a zero amount")));
    }
    Ok(m)
}

fn currency_amount(v: &Val, field: &str) -> Result<Money, Refusal> {
    let t = v.text.trim();
    match t.get(..3) {
        Some("KZT") => amount(&t[3..], v.line, field),
        _ => Err(refuse(v.line, field, format!("{t:?} is not in KZT"))),
    }
}

/// `MMYYYY`, `MM.YYYY`, `MYYYY` (a leading zero lost), `YYYY-MM`.
fn period(v: &Val, field: &str) -> Result<Period, Refusal> {
    let t = v.text.trim();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (m, y) = match t.len() {
        6 if digits(t) => (&t[..2], &t[2..]),
        5 if digits(t) => (&t[..1], &t[1..]),
        7 if t.as_bytes()[2] == b'.' => (&t[..2], &t[3..]),
        7 if t.as_bytes()[4] == b'-' => (&t[5..], &t[..4]),
        _ => ("", ""),
    };
    let p = (digits(m) && digits(y))
        .then(|| Period::new(y.parse().ok()?, m.parse().ok()?))
        .flatten();
    p.ok_or_else(|| {
        refuse(
            v.line,
            field,
            format!("{t:?} is not a period (MMYYYY, MM.YYYY, MYYYY or YYYY-MM)"),
        )
    })
}

/// The IIN or BIN `--rnn-map` gives an RNN-era `whom` (a line, a payer).
fn rnn(map: Option<&HashMap<String, String>>, rnn: &str, whom: &str) -> Result<String, String> {
    match map {
        None => Err(format!(
            "an RNN-era {whom} (an RNN, no IIN or BIN): give --rnn-map"
        )),
        Some(m) => m
            .get(rnn)
            .cloned()
            .ok_or_else(|| format!("RNN {} is not in --rnn-map", ledger_core::id::mask_id(rnn))),
    }
}

fn payer_id(sub: &Subfields, line: u32, opts: &Options) -> Result<String, Refusal> {
    let (v, field, id) = match (sub.get("IDN"), sub.get("RNN")) {
        (Some(v), _) => (v, ":50:/IDN/", v.text.trim().to_string()),
        (None, Some(v)) => (
            v,
            ":50:/RNN/",
            rnn(opts.rnn_map.as_ref(), v.text.trim(), "payer")
                .map_err(|r| refuse(v.line, ":50:/RNN/", r))?,
        ),
        (None, None) => return Err(refuse(line, ":50:/IDN/", "is missing")),
    };
    PayerId::parse(&id)
        .map(|p| p.as_str().to_string())
        .map_err(|e| refuse(v.line, field, e.to_string()))
}

fn person_id(d: &Subfields, line: u32, opts: &Options) -> Result<Iin, Refusal> {
    let (v, field, id) = match (d.get("IDN"), d.get("RNN")) {
        (Some(v), _) => (v, ":70:/IDN/", v.text.trim().to_string()),
        (None, Some(v)) => (
            v,
            ":70:/RNN/",
            rnn(opts.rnn_map.as_ref(), v.text.trim(), "line")
                .map_err(|r| refuse(v.line, ":70:/RNN/", r))?,
        ),
        (None, None) => {
            return Err(refuse(
                line,
                ":70:/IDN/",
                "the line has no identifier (/IDN/ or /RNN/)",
            ))
        }
    };
    Iin::parse(&id).map_err(|e| {
        refuse(
            v.line,
            field,
            format!("{}: {e}", ledger_core::id::mask_id(&id)),
        )
    })
}
