//! Wire → domain: every field checked, every failure named by its path
//! (`contribution.payment.received_on: not a date "YYYY-MM-DD": "2025-13-01"`).

use crate::v1 as pb;
use chrono::{DateTime, Utc};
use ledger_core as core;
use ledger_core::authority::{Domain, Signature, Signer};
use ledger_core::{parse_date, ContentHash, EventId, Iin, Money, PayerId, Period, Ppc};
use ledger_core::{Authorization, Policy};
use prost::Message;
use sha2::{Digest, Sha256};

/// A wire message that is not a valid event: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct WireError {
    pub field: String,
    pub reason: String,
}

/// Longest reason kept, in characters: a reason may quote the value it
/// refuses, and a value may be megabytes long.
const MAX_REASON_CHARS: usize = 512;

fn err(field: &str, reason: impl ToString) -> WireError {
    WireError {
        field: field.to_string(),
        reason: bounded(&reason.to_string(), MAX_REASON_CHARS),
    }
}

/// `text` whole up to `max` characters, else its start and its length.
pub fn bounded(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}… ({} bytes in all)", &text[..cut], text.len()),
    }
}

/// Field paths are built lazily: only a failure pays for the string.
struct At<'a>(&'a str);

impl At<'_> {
    fn f(&self, name: &str) -> String {
        if self.0.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.0)
        }
    }
    fn required<'s>(&self, name: &str, v: &'s str) -> Result<&'s str, WireError> {
        if v.is_empty() {
            Err(err(&self.f(name), "is required"))
        } else {
            Ok(v)
        }
    }
    fn date(&self, name: &str, v: &str) -> Result<chrono::NaiveDate, WireError> {
        parse_date(self.required(name, v)?).map_err(|e| err(&self.f(name), e))
    }
    fn opt_date(&self, name: &str, v: &str) -> Result<Option<chrono::NaiveDate>, WireError> {
        if v.is_empty() {
            Ok(None)
        } else {
            self.date(name, v).map(Some)
        }
    }
    fn period(&self, name: &str, v: &str) -> Result<Period, WireError> {
        Period::parse(self.required(name, v)?).map_err(|e| err(&self.f(name), e))
    }
    fn opt_period(&self, name: &str, v: &str) -> Result<Option<Period>, WireError> {
        if v.is_empty() {
            Ok(None)
        } else {
            self.period(name, v).map(Some)
        }
    }
    fn money(&self, name: &str, v: &str) -> Result<Money, WireError> {
        Money::parse(self.required(name, v)?).map_err(|e| err(&self.f(name), e))
    }
    /// A strictly positive amount.
    fn amount(&self, name: &str, v: &str) -> Result<Money, WireError> {
        let m = self.money(name, v)?;
        if !m.is_positive() {
            return Err(err(
                &self.f(name),
                format!("must be greater than zero, got {m}"),
            ));
        }
        Ok(m)
    }
    fn opt_money(&self, name: &str, v: &str) -> Result<Option<Money>, WireError> {
        if v.is_empty() {
            Ok(None)
        } else {
            self.money(name, v).map(Some)
        }
    }
    fn payer(&self, name: &str, v: &str) -> Result<PayerId, WireError> {
        PayerId::parse(self.required(name, v)?).map_err(|e| err(&self.f(name), e))
    }
    fn sub(&self, name: &str) -> String {
        self.f(name)
    }
}

/// A signature's shape (docs/authority.md): a key id of base64url
/// characters (an RFC 7638 thumbprint has 43) and an Ed25519 signature's
/// 64 bytes. Whether it verifies is the projector's to judge.
pub fn check_signature(sig: &pb::Signature) -> Result<(), WireError> {
    let id = &sig.key_id;
    if id.is_empty() || id.len() > 64 {
        return Err(err(
            "signature.key_id",
            format!(
                "must be 1-64 characters (a key's RFC 7638 thumbprint), got {}",
                id.len()
            ),
        ));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(err(
            "signature.key_id",
            format!("{:?} is not a base64url character", c),
        ));
    }
    if sig.value.len() != 64 {
        return Err(err(
            "signature.value",
            format!("an Ed25519 signature has 64 bytes, got {}", sig.value.len()),
        ));
    }
    Ok(())
}

/// Converts a wire envelope into a checked domain envelope.
pub fn envelope_from_wire(e: &pb::Envelope) -> Result<core::Envelope, WireError> {
    crate::texts::check_texts(e)?;
    if let Some(sig) = &e.signature {
        check_signature(sig)?;
    }
    let at = At("");
    let event_id =
        EventId::parse(at.required("event_id", &e.event_id)?).map_err(|r| err("event_id", r))?;
    let iin = Iin::parse(at.required("iin", &e.iin)?).map_err(|r| err("iin", r))?;
    let payload = e.payload.as_ref().ok_or_else(|| {
        err(
            "payload",
            "is required: one of contribution, refund, benefit_assigned, benefit_status, \
             benefit_paid, benefit_returned, person, person_changed, merged, merge_transfer",
        )
    })?;
    use pb::envelope::Payload as P;
    let event = match payload {
        P::Contribution(c) => core::Event::ContributionPaid(contribution(&At("contribution"), c)?),
        P::Refund(r) => core::Event::ContributionRefunded(refund(&At("refund"), r)?),
        P::BenefitAssigned(b) => {
            core::Event::BenefitAssigned(benefit_assigned(&At("benefit_assigned"), b)?)
        }
        P::BenefitStatus(s) => {
            let at = At("benefit_status");
            let status = match pb::BenefitStatus::try_from(s.status) {
                Ok(pb::BenefitStatus::Suspended) => core::BenefitStatus::Suspended,
                Ok(pb::BenefitStatus::Resumed) => core::BenefitStatus::Resumed,
                Ok(pb::BenefitStatus::Terminated) => core::BenefitStatus::Terminated,
                _ => {
                    return Err(err(
                        &at.f("status"),
                        "must be SUSPENDED, RESUMED or TERMINATED",
                    ))
                }
            };
            core::Event::BenefitStatusChanged(core::BenefitStatusChanged {
                benefit_id: at.required("benefit_id", &s.benefit_id)?.to_string(),
                status,
                effective_on: at.date("effective_on", &s.effective_on)?,
                reason: s.reason.clone(),
            })
        }
        P::BenefitPaid(p) => {
            let at = At("benefit_paid");
            let withheld = at.opt_money(
                "pension_contribution_withheld",
                &p.pension_contribution_withheld,
            )?;
            core::Event::BenefitPaid(core::BenefitPaid {
                benefit_id: at.required("benefit_id", &p.benefit_id)?.to_string(),
                period: at.period("period", &p.period)?,
                amount: at.amount("amount", &p.amount)?,
                pension_contribution_withheld: withheld.unwrap_or(Money::ZERO),
                payment: opt_payment(&at, p.payment.as_ref())?,
            })
        }
        P::BenefitReturned(r) => {
            let at = At("benefit_returned");
            core::Event::BenefitReturned(core::BenefitReturned {
                benefit_id: at.required("benefit_id", &r.benefit_id)?.to_string(),
                period: at.period("period", &r.period)?,
                amount: at.amount("amount", &r.amount)?,
                payment: opt_payment(&at, r.payment.as_ref())?,
            })
        }
        P::Person(p) => {
            core::Event::PersonRegistered(person(&At("person"), PersonFields::of_registered(p))?)
        }
        P::PersonChanged(p) => core::Event::PersonDataChanged(person(
            &At("person_changed"),
            PersonFields::of_changed(p),
        )?),
        P::Merged(m) => {
            let at = At("merged");
            let into = Iin::parse(at.required("into_iin", &m.into_iin)?)
                .map_err(|r| err(&at.f("into_iin"), r))?;
            core::Event::Merged(core::IdentifierMerged {
                into,
                reason: at.required("reason", &m.reason)?.to_string(),
                decided_on: at.date("decided_on", &m.decided_on)?,
            })
        }
        P::MergeTransfer(t) => core::Event::MergeTransfer(Box::new(merge_transfer(t)?)),
    };
    Ok(core::Envelope {
        event_id,
        iin,
        source: e.source.clone(),
        event,
    })
}

fn merge_transfer(t: &pb::MergeTransfer) -> Result<core::MergeTransfer, WireError> {
    let at = At("merge_transfer");
    let from =
        Iin::parse(at.required("from_iin", &t.from_iin)?).map_err(|r| err(&at.f("from_iin"), r))?;
    let merge_event_id = EventId::parse(at.required("merge_event_id", &t.merge_event_id)?)
        .map_err(|r| err(&at.f("merge_event_id"), r))?;
    let original = if t.original.is_empty() {
        None
    } else {
        let wire = pb::Envelope::decode(t.original.as_slice())
            .map_err(|e| err(&at.f("original"), format!("not an envelope: {e}")))?;
        // A merge's closing record opens it (issue 15); no transfer is
        // ever transferred again.
        if matches!(wire.payload, Some(pb::envelope::Payload::MergeTransfer(_))) {
            return Err(err(
                &at.f("original"),
                "a merge transfer is never transferred",
            ));
        }
        let inner = envelope_from_wire(&wire).map_err(|e| WireError {
            field: format!("{}.{}", at.f("original"), e.field),
            reason: e.reason,
        })?;
        Some(inner)
    };
    let recorded_at = i64::try_from(t.recorded_at_ms)
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .ok_or_else(|| err(&at.f("recorded_at_ms"), "out of range"))?;
    Ok(core::MergeTransfer {
        from,
        merge_event_id,
        reason: at.required("reason", &t.reason)?.to_string(),
        decided_on: at.date("decided_on", &t.decided_on)?,
        original,
        from_position: core::Position {
            partition: t.from_partition,
            offset: t.from_offset,
        },
        recorded_at,
        redirected: t.redirected,
    })
}

fn payment(at: &At, p: &pb::PaymentDocument) -> Result<core::PaymentDocument, WireError> {
    let ppc = Ppc::parse(at.required("ppc", &p.ppc)?).map_err(|r| err(&at.f("ppc"), r))?;
    Ok(core::PaymentDocument {
        document_number: p.document_number.clone(),
        document_date: at.opt_date("document_date", &p.document_date)?,
        received_on: at.date("received_on", &p.received_on)?,
        dispatched_on: at.opt_date("dispatched_on", &p.dispatched_on)?,
        ppc,
        payer_id: at.payer("payer_id", &p.payer_id)?,
        payer_name: p.payer_name.clone(),
        recipient_name: p.recipient_name.clone(),
        total_amount: at.opt_money("total_amount", &p.total_amount)?,
        line_count: p.line_count,
    })
}

fn opt_payment(
    at: &At,
    p: Option<&pb::PaymentDocument>,
) -> Result<Option<core::PaymentDocument>, WireError> {
    p.map(|p| payment(&At(&at.sub("payment")), p)).transpose()
}

fn contribution(at: &At, c: &pb::ContributionPaid) -> Result<core::ContributionPaid, WireError> {
    let doc = c
        .payment
        .as_ref()
        .ok_or_else(|| err(&at.f("payment"), "is required"))?;
    let payment = payment(&At(&at.sub("payment")), doc)?;
    if payment.ppc != Ppc::CONTRIBUTION && payment.ppc != Ppc::PENALTY {
        return Err(err(
            &at.f("payment.ppc"),
            format!(
                "a contribution line must have ppc 012 or 017, got {}",
                payment.ppc
            ),
        ));
    }
    let p = c
        .person
        .as_ref()
        .ok_or_else(|| err(&at.f("person"), "is required"))?;
    let pat = At(&at.sub("person"));
    Ok(core::ContributionPaid {
        payment,
        period: at.period("period", &c.period)?,
        amount: at.amount("amount", &c.amount)?,
        person: core::PersonName {
            surname: pat.required("surname", &p.surname)?.to_string(),
            name: pat.required("name", &p.name)?.to_string(),
            patronymic: p.patronymic.clone(),
            birth_date: pat.date("birth_date", &p.birth_date)?,
        },
    })
}

/// Employees one refund application may name (seed `003_…`: "the maximum
/// number of choices is 10 employees").
pub const MAX_APPLICATION_SIZE: u32 = 10;

fn refund(at: &At, r: &pb::ContributionRefunded) -> Result<core::ContributionRefunded, WireError> {
    let ppc = Ppc::parse(at.required("refunded_ppc", &r.refunded_ppc)?)
        .map_err(|e| err(&at.f("refunded_ppc"), e))?;
    if ppc != Ppc::CONTRIBUTION && ppc != Ppc::PENALTY {
        return Err(err(
            &at.f("refunded_ppc"),
            format!("must be 012 or 017, got {ppc}"),
        ));
    }
    if r.application_size > MAX_APPLICATION_SIZE {
        return Err(err(
            &at.f("application_size"),
            format!(
                "an application names at most {MAX_APPLICATION_SIZE} employees (seed 003), got {}",
                r.application_size
            ),
        ));
    }
    Ok(core::ContributionRefunded {
        application_id: at
            .required("application_id", &r.application_id)?
            .to_string(),
        reason: r.reason.clone(),
        refunded_ppc: ppc,
        period: at.period("period", &r.period)?,
        amount: at.amount("amount", &r.amount)?,
        payer_id: at.payer("payer_id", &r.payer_id)?,
        decided_on: at.date("decided_on", &r.decided_on)?,
        payment: opt_payment(at, r.payment.as_ref())?,
        application_size: r.application_size,
    })
}

fn benefit_assigned(at: &At, b: &pb::BenefitAssigned) -> Result<core::BenefitAssigned, WireError> {
    let benefit_type = core::BenefitType::parse(at.required("benefit_type", &b.benefit_type)?)
        .map_err(|e| err(&at.f("benefit_type"), e))?;
    if b.work_capacity_loss_percent > 100 {
        return Err(err(&at.f("work_capacity_loss_percent"), "must be 0-100"));
    }
    let start_period = at.period("start_period", &b.start_period)?;
    let end_period = at.opt_period("end_period", &b.end_period)?;
    if end_period.is_some_and(|e| e < start_period) {
        return Err(err(&at.f("end_period"), "is before start_period"));
    }
    Ok(core::BenefitAssigned {
        benefit_id: at.required("benefit_id", &b.benefit_id)?.to_string(),
        benefit_type,
        applied_on: at.date("applied_on", &b.applied_on)?,
        risk_date: at.opt_date("risk_date", &b.risk_date)?,
        decided_on: at.date("decided_on", &b.decided_on)?,
        start_period,
        end_period,
        monthly_amount: at.amount("monthly_amount", &b.monthly_amount)?,
        average_monthly_income: at
            .opt_money("average_monthly_income", &b.average_monthly_income)?,
        participation_months: b.participation_months,
        work_capacity_loss_percent: b.work_capacity_loss_percent,
        dependants: b.dependants,
        leave_days: b.leave_days,
        child_birth_order: b.child_birth_order,
    })
}

/// The shared fields of `PersonRegistered` and `PersonDataChanged`.
pub(crate) struct PersonFields<'a> {
    pub(crate) surname: &'a str,
    pub(crate) name: &'a str,
    pub(crate) patronymic: &'a str,
    pub(crate) birth_date: &'a str,
    pub(crate) sex: &'a str,
    pub(crate) address: &'a str,
    pub(crate) postcode: &'a str,
    pub(crate) document: Option<&'a pb::IdentityDocument>,
    pub(crate) citizenship: &'a str,
    pub(crate) effective_on: &'a str,
    pub(crate) deceased_on: &'a str,
}

macro_rules! person_fields {
    ($p:expr) => {
        PersonFields {
            surname: &$p.surname,
            name: &$p.name,
            patronymic: &$p.patronymic,
            birth_date: &$p.birth_date,
            sex: &$p.sex,
            address: &$p.address,
            postcode: &$p.postcode,
            document: $p.document.as_ref(),
            citizenship: &$p.citizenship,
            effective_on: &$p.effective_on,
            deceased_on: &$p.deceased_on,
        }
    };
}

impl<'a> PersonFields<'a> {
    pub(crate) fn of_registered(p: &'a pb::PersonRegistered) -> Self {
        person_fields!(p)
    }
    pub(crate) fn of_changed(p: &'a pb::PersonDataChanged) -> Self {
        person_fields!(p)
    }
}

fn person(at: &At, p: PersonFields) -> Result<core::PersonData, WireError> {
    let sex = match p.sex {
        "" => None,
        "M" => Some(core::Sex::Male),
        "F" => Some(core::Sex::Female),
        other => {
            return Err(err(
                &at.f("sex"),
                format!("must be \"M\" or \"F\", got {other:?}"),
            ))
        }
    };
    let document = match p.document {
        None => None,
        Some(d) => Some(core::IdentityDocument {
            series: d.series.clone(),
            number: d.number.clone(),
            issued_on: At(&at.sub("document")).opt_date("issued_on", &d.issued_on)?,
            issuer: d.issuer.clone(),
        }),
    };
    Ok(core::PersonData {
        surname: at.required("surname", p.surname)?.to_string(),
        name: p.name.to_string(),
        patronymic: p.patronymic.to_string(),
        birth_date: at.opt_date("birth_date", p.birth_date)?,
        sex,
        address: p.address.to_string(),
        postcode: p.postcode.to_string(),
        document,
        citizenship: p.citizenship.to_string(),
        effective_on: at.opt_date("effective_on", p.effective_on)?,
        deceased_on: at.opt_date("deceased_on", p.deceased_on)?,
    })
}

/// Why record bytes are not an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("value is not a si.ledger.v1.Envelope: {0}")]
    Protobuf(String),
    #[error("invalid envelope: {0}")]
    Invalid(#[from] WireError),
    #[error(transparent)]
    Framing(#[from] crate::framing::FramingError),
    #[error(
        "Confluent-framed value (schema id {schema_id}) is message {indexes:?} of its schema, \
         not si.ledger.v1.Envelope {:?}",
        crate::framing::ENVELOPE_INDEXES
    )]
    NotEnvelope { schema_id: u32, indexes: Vec<i32> },
}

impl DecodeError {
    /// A short machine-readable kind for dead-letter records and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::Protobuf(_) | DecodeError::Framing(_) => "undecodable",
            DecodeError::Invalid(_) => "invalid",
            DecodeError::NotEnvelope { .. } => "not_envelope",
        }
    }
}

/// Decodes record value bytes into a checked envelope and its content hash.
///
/// The hash is taken over prost's re-encoding of the decoded message in its
/// canonical spelling ([`crate::canonical`]), which writes fields in number
/// order: a producer in another language that orders fields differently,
/// or spells an amount or a name another way, still produces the same hash
/// for the same content.
pub fn decode_envelope(bytes: &[u8]) -> Result<(core::Envelope, ContentHash), DecodeError> {
    decode_canonical(bytes).map(|d| (d.envelope, d.hash))
}

/// A decoded record value with its canonical bytes.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub envelope: core::Envelope,
    /// SHA-256 of the canonical bytes without the signature: the same
    /// record signed again (another valid key) is a duplicate, not a
    /// conflict.
    pub hash: ContentHash,
    /// The envelope re-encoded: known fields in field-number order, unknown
    /// fields dropped, the signature kept. Equal to the input for anything
    /// a protobuf library serializes from our `proto/` files.
    pub canonical: Vec<u8>,
    /// The record's signature and the canonical bytes without it (what an
    /// authority signed, after [`ledger_core::authority::signing_input`]'s
    /// prefix); `None` when unsigned.
    pub signed: Option<Signed>,
    /// For a merge transfer carrying a record: that record's kind, its own
    /// signature (with its canonical bytes without it) and its record time
    /// (ms): a privileged record inside a transfer must carry its own
    /// authority's signature too.
    pub inner: Option<(&'static str, Option<Signed>, i64)>,
    /// The Schema Registry id of a value framed by a Confluent serializer
    /// ([`crate::framing`]); the framing itself is not part of the
    /// canonical bytes or the hash.
    pub schema_id: Option<u32>,
}

/// A record's signature and its canonical bytes without it.
pub type Signed = (Signature, Vec<u8>);

impl Decoded {
    /// The verdict on this record's signature under `policy`, for a record
    /// judged at `at` ([`ledger_core::authority`]). A merge transfer needs
    /// the projector's signature, and the privileged record it carries its
    /// own authority's ([`Policy::authorize_carried`]): with `apply`'s
    /// checks that the record is the old identifier's and comes under its
    /// own id, the projector's key alone cannot put a register or Fund
    /// record on an account.
    pub fn authorize(&self, policy: &Policy, at: DateTime<Utc>) -> Authorization {
        let own = policy.authorize(
            self.envelope.event.kind(),
            Domain::Envelope,
            self.signed.as_ref().map(|(s, b)| (s, b.as_slice())),
            at,
        );
        let Some((kind, signed, recorded_ms)) = &self.inner else {
            // Under a trust file a merge opens only with its closing
            // record, signed by the operator (the projector writes it).
            if matches!(own, Authorization::Signed { .. })
                && matches!(&self.envelope.event, core::Event::MergeTransfer(t) if t.original.is_none())
            {
                return Authorization::Unauthorized(format!(
                    "{}merge_transfer opens a merge without the merge record it opens",
                    ledger_core::authority::UNAUTHORIZED
                ));
            }
            return own;
        };
        if own.is_unauthorized() || !ledger_core::authority::is_privileged(kind) {
            return own;
        }
        let logged = DateTime::from_timestamp_millis(*recorded_ms).unwrap_or(at);
        match policy.authorize_carried(
            kind,
            signed.as_ref().map(|(s, b)| (s, b.as_slice())),
            logged,
        ) {
            Authorization::Unauthorized(why) => Authorization::Unauthorized(format!(
                "{}merge_transfer carries {}",
                ledger_core::authority::UNAUTHORIZED,
                why.trim_start_matches(ledger_core::authority::UNAUTHORIZED)
            )),
            _ => own,
        }
    }
}

/// [`decode_envelope`], keeping the canonical bytes (what the store keeps
/// and the hash chains cover): the message in one spelling per value
/// ([`crate::canonical`]), re-encoded.
///
/// A value framed by a Schema Registry serializer is accepted when the
/// framing names the Envelope; another message index is
/// [`DecodeError::NotEnvelope`].
pub fn decode_canonical(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let (framing, bytes) = crate::framing::unframe(bytes)?;
    if let Some(f) = &framing {
        if f.message_indexes != crate::framing::ENVELOPE_INDEXES {
            return Err(DecodeError::NotEnvelope {
                schema_id: f.schema_id,
                indexes: f.message_indexes.clone(),
            });
        }
    }
    let mut wire = pb::Envelope::decode(bytes).map_err(|e| DecodeError::Protobuf(e.to_string()))?;
    crate::canonical::canonicalize(&mut wire);
    let envelope = envelope_from_wire(&wire)?;
    let signature = wire.signature.take();
    let unsigned = wire.encode_to_vec();
    let hash = ContentHash(Sha256::digest(&unsigned).into());
    let (canonical, signed) = match signature {
        None => (unsigned, None),
        Some(sig) => {
            let core_sig = Signature {
                key_id: sig.key_id.clone(),
                value: sig.value.clone(),
            };
            wire.signature = Some(sig);
            (wire.encode_to_vec(), Some((core_sig, unsigned)))
        }
    };
    let inner = match (&envelope.event, &wire.payload) {
        (core::Event::MergeTransfer(t), Some(pb::envelope::Payload::MergeTransfer(w))) => {
            t.original.as_ref().map(|o| {
                let signed =
                    pb::Envelope::decode(w.original.as_slice())
                        .ok()
                        .and_then(|mut inner| {
                            let sig = inner.signature.take()?;
                            Some((
                                Signature {
                                    key_id: sig.key_id,
                                    value: sig.value,
                                },
                                inner.encode_to_vec(),
                            ))
                        });
                (
                    o.event.kind(),
                    signed,
                    i64::try_from(w.recorded_at_ms).unwrap_or(0),
                )
            })
        }
        _ => None,
    };
    Ok(Decoded {
        envelope,
        hash,
        canonical,
        signed,
        inner,
        schema_id: framing.map(|f| f.schema_id),
    })
}

/// Signs a wire envelope with `signer`: canonicalizes it, signs its
/// canonical bytes without a signature, and sets the signature. What
/// `si-ledger sign`, `merge` and the projector's transfer writer do.
pub fn sign_envelope(e: &mut pb::Envelope, signer: &Signer) {
    crate::canonical::canonicalize(e);
    e.signature = None;
    let s = signer.sign(Domain::Envelope, &e.encode_to_vec());
    e.signature = Some(pb::Signature {
        key_id: s.key_id,
        value: s.value,
    });
}

/// Encodes a wire envelope as record value bytes.
pub fn encode_envelope(e: &pb::Envelope) -> Vec<u8> {
    e.encode_to_vec()
}
