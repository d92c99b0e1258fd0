//! Who may say what: the deployment's trust file names *authorities*, the
//! privileged kinds of record each may publish, and their Ed25519 public
//! keys (RFC 8032), each valid for a range of record times. A privileged
//! record carries a detached signature over its canonical bytes; without a
//! valid one from an authority allowed its kind it is not applied
//! (`docs/authority.md`).
//!
//! Pure: keys in, verdict out, no clock and no I/O. The record time the
//! verdict is judged at is the log's own, so a replay decides identically.
//!
//! Signing input (what an authority signs, in any language):
//!
//! ```text
//! "si-ledger/v1 Envelope\n" || canonical Envelope bytes without `signature`
//! "si-ledger/v1 Control\n"  || canonical Control bytes without `signature`
//! "si-ledger/v1 Snapshot\n" || a snapshot file's SHA-256 checksum (32 bytes)
//! ```
//!
//! A key's id is its RFC 7638 JWK thumbprint (RFC 8037 §2: SHA-256 over
//! `{"crv":"Ed25519","kty":"OKP","x":"<base64url key>"}`, base64url without
//! padding, 43 characters): derived from the key, so nothing is configured
//! twice.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How every unauthorized refusal's reason begins.
pub const UNAUTHORIZED: &str = "unauthorized: ";

/// Record kinds any producer with write access may publish, unsigned:
/// contribution lines and refund applications (the banks' own business).
pub const OPEN_KINDS: [&str; 2] = ["contribution", "refund"];

/// Every kind that needs an authority's signature, with the authority the
/// issue that introduced them assigns it to by default (`si-ledger keygen`
/// and the demo write these): the register's person records, the Fund's
/// benefit decisions and payments, the operator's merges and month closes,
/// the projector's merge transfers.
pub const PRIVILEGED_KINDS: [(&str, &str); 9] = [
    ("person", "register"),
    ("person_changed", "register"),
    ("benefit_assigned", "fund"),
    ("benefit_status", "fund"),
    ("benefit_paid", "fund"),
    ("benefit_returned", "fund"),
    ("merged", "operator"),
    ("month_closed", "operator"),
    ("merge_transfer", "projector"),
];

/// Whether records of `kind` (an `Envelope` or `Control` payload's wire
/// name) need an authority's signature.
pub fn is_privileged(kind: &str) -> bool {
    PRIVILEGED_KINDS.iter().any(|(k, _)| *k == kind)
}

/// The authorities the default split gives (`register`, `fund`,
/// `operator`, `projector`), each with its kinds.
pub fn default_authorities() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for (kind, who) in PRIVILEGED_KINDS {
        match out.iter_mut().find(|(w, _)| *w == who) {
            Some((_, kinds)) => kinds.push(kind),
            None => out.push((who, vec![kind])),
        }
    }
    out
}

/// Which message a signature covers: the signing input starts with its
/// name, so a signature over one can never pass as the other's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    Envelope,
    Control,
    /// A store snapshot, signed by the projector that wrote it
    /// (`ledger_store::snapshot`): the input is the file's checksum.
    Snapshot,
}

/// The bytes a signing input starts with, per domain (module docs).
fn domain_prefix(domain: Domain) -> &'static [u8] {
    match domain {
        Domain::Envelope => b"si-ledger/v1 Envelope\n",
        Domain::Control => b"si-ledger/v1 Control\n",
        Domain::Snapshot => b"si-ledger/v1 Snapshot\n",
    }
}

/// The bytes an authority signs: `"si-ledger/v1 <Domain>\n"` followed by
/// the message's canonical bytes without its `signature` field.
pub fn signing_input(domain: Domain, unsigned: &[u8]) -> Vec<u8> {
    let prefix = domain_prefix(domain);
    let mut out = Vec::with_capacity(prefix.len() + unsigned.len());
    out.extend_from_slice(prefix);
    out.extend_from_slice(unsigned);
    out
}

/// A detached signature as a record carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The signing key's RFC 7638 thumbprint.
    pub key_id: String,
    /// Ed25519 signature: 64 bytes.
    pub value: Vec<u8>,
}

/// A key's RFC 7638 JWK thumbprint: the key id records carry.
pub fn key_id(key: &VerifyingKey) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwk = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        b64.encode(key.as_bytes())
    );
    b64.encode(Sha256::digest(jwk.as_bytes()))
}

/// A public key as the trust file writes it: base64url without padding of
/// its 32 bytes (the JWK `x` member, RFC 8037).
pub fn public_key_text(key: &VerifyingKey) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.as_bytes())
}

/// A private key that signs records: loaded from a PKCS#8 PEM file
/// (`-----BEGIN PRIVATE KEY-----`, RFC 8410), as `si-ledger keygen`,
/// `openssl genpkey -algorithm ed25519`, the JDK and Python write it.
pub struct Signer {
    key: SigningKey,
    id: String,
}

impl std::fmt::Debug for Signer {
    /// The key id only: a private key never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.id)
    }
}

impl Signer {
    /// Parses a PKCS#8 PEM private key. The error never quotes the text.
    pub fn from_pem(pem: &str) -> Result<Signer, String> {
        use ed25519_dalek::pkcs8::DecodePrivateKey as _;
        let key = SigningKey::from_pkcs8_pem(pem.trim()).map_err(|e| {
            format!("not an Ed25519 private key in PKCS#8 PEM (BEGIN PRIVATE KEY): {e}")
        })?;
        Ok(Signer::from_key(key))
    }

    /// A signer from a 32-byte RFC 8032 seed.
    pub fn from_seed(seed: &[u8; 32]) -> Signer {
        Signer::from_key(SigningKey::from_bytes(seed))
    }

    fn from_key(key: SigningKey) -> Signer {
        let id = key_id(&key.verifying_key());
        Signer { key, id }
    }

    /// The key as PKCS#8 PEM, for a key file (mode 0600): version 1
    /// (RFC 5208, the private key alone), the form OpenSSL writes and every
    /// library reads (Python's `cryptography` refuses RFC 5958's version 2
    /// with the public key inside).
    pub fn to_pem(&self) -> Result<String, String> {
        use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, EncodePrivateKey as _};
        let v1 = ed25519_dalek::pkcs8::KeypairBytes {
            secret_key: self.key.to_bytes(),
            public_key: None,
        };
        v1.to_pkcs8_pem(LineEnding::LF)
            .map(|s| s.to_string())
            .map_err(|e| format!("encoding the key: {e}"))
    }

    pub fn key_id(&self) -> &str {
        &self.id
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// A plain Ed25519 signature over a C2SP signed note's text (issue 27).
    /// No domain prefix, as `signed-note` verifiers expect; it can never
    /// be taken for a record's signature: every [`signing_input`] begins
    /// with a line holding a space, and a note's first line (a key name or
    /// origin) holds none.
    pub fn sign_note(&self, text: &[u8]) -> [u8; 64] {
        debug_assert!(!text
            .split(|b| *b == b'\n')
            .next()
            .unwrap_or(&[])
            .contains(&b' '));
        self.key.sign(text).to_bytes()
    }

    /// Signs a message's canonical bytes without its signature.
    pub fn sign(&self, domain: Domain, unsigned: &[u8]) -> Signature {
        let sig = self.key.sign(&signing_input(domain, unsigned));
        Signature {
            key_id: self.id.clone(),
            value: sig.to_bytes().to_vec(),
        }
    }
}

/// One public key of an authority, valid for record times in
/// `[valid_from, valid_until)`.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    pub id: String,
    /// Read through [`TrustedKey::key`]: `strict` is derived from it.
    key: VerifyingKey,
    pub authority: String,
    pub valid_from: DateTime<Utc>,
    pub valid_until: Option<DateTime<Utc>>,
    /// `key`, with its table for fast strict verification (built on first use).
    strict: crate::ed25519::StrictKey,
}

impl TrustedKey {
    /// The public key.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }
}

/// A named authority and the privileged kinds it may publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    pub name: String,
    pub kinds: Vec<String>,
}

/// A parsed, checked trust file.
#[derive(Debug, Clone)]
pub struct Trust {
    /// Records logged before this instant are taken as they come, signed
    /// or not (a deployment that adopts signatures on a running log):
    /// replays of that log then decide as it did.
    pub enforced_from: Option<DateTime<Utc>>,
    pub authorities: Vec<Authority>,
    /// By key id.
    pub keys: BTreeMap<String, TrustedKey>,
    /// The deployment's log origin (issue 27, `docs/tamper-evidence.md`):
    /// partition *k*'s transparency log is `<origin>/p<k>`, the name its
    /// signed checkpoints carry (C2SP `tlog-checkpoint`). `None`: the
    /// projector signs no checkpoints.
    pub origin: Option<String>,
}

/// Checks a log origin as C2SP `tlog-checkpoint` and `signed-note` want
/// it: a schema-less URL-like name (`example.kz/ledger-2026`) of 1-200
/// printable ASCII characters without spaces or `+` (a key name may hold
/// neither), not ending in `/`.
pub fn check_origin(origin: &str) -> Result<(), String> {
    if origin.is_empty() || origin.len() > 200 {
        return Err(format!("origin {origin:?}: 1-200 characters"));
    }
    if let Some(c) = origin.chars().find(|c| !c.is_ascii_graphic() || *c == '+') {
        return Err(format!(
            "origin {origin:?}: {c:?} is not allowed (printable ASCII without spaces or '+')"
        ));
    }
    if origin.ends_with('/') || origin.contains("://") {
        return Err(format!(
            "origin {origin:?}: a schema-less name not ending in '/' (e.g. example.kz/ledger-2026)"
        ));
    }
    Ok(())
}

/// An instant as TOML writes it: an RFC 3339 string, or a TOML offset
/// date-time (`valid_from = 2026-12-01T00:00:00Z`, unquoted).
#[derive(Deserialize)]
#[serde(untagged)]
enum Instant {
    Text(String),
    Toml(toml::value::Datetime),
}

impl Instant {
    fn text(&self) -> String {
        match self {
            Instant::Text(s) => s.clone(),
            Instant::Toml(d) => d.to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustFile {
    enforced_from: Option<Instant>,
    origin: Option<String>,
    #[serde(default)]
    authority: Vec<AuthorityFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthorityFile {
    name: String,
    kinds: Vec<String>,
    #[serde(default)]
    key: Vec<KeyFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    public_key: String,
    valid_from: Instant,
    valid_until: Option<Instant>,
    /// Optional: if given, must be the key's thumbprint (a check that the
    /// right key was pasted).
    id: Option<String>,
}

fn instant(field: &str, v: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{field}: {v:?} is not an RFC 3339 instant ({e})"))
}

/// Parses a public key written as the trust file writes it.
pub fn parse_public_key(v: &str) -> Result<VerifyingKey, String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(v.trim())
        .map_err(|e| format!("not base64url without padding ({e})"))?;
    let arr: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| format!("{} bytes, an Ed25519 public key has 32", bytes.len()))?;
    let key =
        VerifyingKey::from_bytes(&arr).map_err(|e| format!("not an Ed25519 public key ({e})"))?;
    // A small-order point verifies forged signatures (RFC 8032 does not
    // exclude it; `verify_strict` and this check do).
    if key.is_weak() {
        return Err("a weak (small-order) Ed25519 key, which anyone can forge for".into());
    }
    Ok(key)
}

impl Trust {
    /// Parses and checks a trust file (TOML). Errors name the authority,
    /// key and field.
    pub fn parse(text: &str) -> Result<Trust, String> {
        let file: TrustFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let enforced_from = file
            .enforced_from
            .as_ref()
            .map(|v| instant("enforced_from", &v.text()))
            .transpose()?;
        if let Some(o) = &file.origin {
            check_origin(o)?;
        }
        let mut authorities: Vec<Authority> = Vec::new();
        let mut keys: BTreeMap<String, TrustedKey> = BTreeMap::new();
        for (i, a) in file.authority.iter().enumerate() {
            let at = format!("authority[{i}] ({:?})", a.name);
            if a.name.trim().is_empty() || a.name.len() > 64 {
                return Err(format!("{at}: name must be 1-64 characters"));
            }
            if authorities.iter().any(|x| x.name == a.name) {
                return Err(format!("{at}: a second authority of that name"));
            }
            let mut kinds = Vec::new();
            for k in &a.kinds {
                if OPEN_KINDS.contains(&k.as_str()) {
                    return Err(format!(
                        "{at}: kinds: {k:?} is open to every producer and needs no authority"
                    ));
                }
                if !is_privileged(k) {
                    let known: Vec<&str> = PRIVILEGED_KINDS.iter().map(|(k, _)| *k).collect();
                    return Err(format!(
                        "{at}: kinds: {k:?} is no record kind; privileged kinds are {}",
                        known.join(", ")
                    ));
                }
                if kinds.contains(k) {
                    return Err(format!("{at}: kinds: {k:?} twice"));
                }
                kinds.push(k.clone());
            }
            for (j, k) in a.key.iter().enumerate() {
                let kat = format!("{at}.key[{j}]");
                let key = parse_public_key(&k.public_key)
                    .map_err(|e| format!("{kat}.public_key: {e}"))?;
                let id = key_id(&key);
                if let Some(given) = &k.id {
                    if *given != id {
                        return Err(format!(
                            "{kat}.id: {given:?} is not this key's thumbprint {id:?}"
                        ));
                    }
                }
                let valid_from = instant(&format!("{kat}.valid_from"), &k.valid_from.text())?;
                let valid_until = k
                    .valid_until
                    .as_ref()
                    .map(|v| instant(&format!("{kat}.valid_until"), &v.text()))
                    .transpose()?;
                if valid_until.is_some_and(|u| u <= valid_from) {
                    return Err(format!("{kat}: valid_until is not after valid_from"));
                }
                if let Some(other) = keys.get(&id) {
                    return Err(format!(
                        "{kat}: key {id} is already listed for authority {:?}",
                        other.authority
                    ));
                }
                keys.insert(
                    id.clone(),
                    TrustedKey {
                        id,
                        strict: crate::ed25519::StrictKey::new(&key),
                        key,
                        authority: a.name.clone(),
                        valid_from,
                        valid_until,
                    },
                );
            }
            authorities.push(Authority {
                name: a.name.clone(),
                kinds,
            });
        }
        Ok(Trust {
            enforced_from,
            authorities,
            keys,
            origin: file.origin,
        })
    }

    /// The authorities allowed `kind`, by name.
    pub fn allowed(&self, kind: &str) -> Vec<&str> {
        self.authorities
            .iter()
            .filter(|a| a.kinds.iter().any(|k| k == kind))
            .map(|a| a.name.as_str())
            .collect()
    }

    /// Checks that `self` only extends `earlier`, the trust file a store
    /// was last projected with, as of `now`: nothing it changes can decide
    /// an already logged record otherwise. Every earlier key stays, with
    /// its authority and `valid_from`; a `valid_until` is only ever set
    /// (revoking the key from then on) and not before `now`; a new key is
    /// valid from `now` on at the earliest; an authority keeps its kinds;
    /// `enforced_from` stays.
    pub fn follows(&self, earlier: &Trust, now: DateTime<Utc>) -> Result<(), String> {
        // Named once: checkpoints signed under one origin are never
        // followed by another's (adopting one later is allowed).
        if earlier.origin.is_some() && self.origin != earlier.origin {
            return Err(format!(
                "origin changed from {:?} to {:?}: a log keeps its origin",
                earlier.origin.as_deref().unwrap_or_default(),
                self.origin.as_deref().unwrap_or("(none)")
            ));
        }
        if self.enforced_from != earlier.enforced_from {
            let shown =
                |t: Option<DateTime<Utc>>| t.map_or("(none)".to_string(), |t| t.to_rfc3339());
            return Err(format!(
                "enforced_from changed from {} to {}",
                shown(earlier.enforced_from),
                shown(self.enforced_from)
            ));
        }
        for a in &earlier.authorities {
            match self.authorities.iter().find(|x| x.name == a.name) {
                None => return Err(format!("authority {:?} was removed", a.name)),
                Some(x) if x.kinds != a.kinds => {
                    return Err(format!(
                        "authority {:?} changed its kinds from {:?} to {:?} \
                         (add an authority with new keys instead)",
                        a.name, a.kinds, x.kinds
                    ))
                }
                Some(_) => {}
            }
        }
        for (id, k) in &earlier.keys {
            let Some(n) = self.keys.get(id) else {
                return Err(format!(
                    "key {id} of {:?} was removed (set its valid_until instead)",
                    k.authority
                ));
            };
            if n.authority != k.authority || n.valid_from != k.valid_from {
                return Err(format!(
                    "key {id}: authority or valid_from changed (only valid_until may be set)"
                ));
            }
            match (k.valid_until, n.valid_until) {
                (a, b) if a == b => {}
                (None, Some(until)) if until >= now => {}
                (None, Some(until)) => {
                    return Err(format!(
                        "key {id}: valid_until {} is in the past: it would refuse records \
                         already taken",
                        until.to_rfc3339()
                    ))
                }
                _ => {
                    return Err(format!(
                        "key {id}: valid_until changed once set (a revocation is final)"
                    ))
                }
            }
        }
        for (id, n) in &self.keys {
            if !earlier.keys.contains_key(id) && n.valid_from < now {
                return Err(format!(
                    "new key {id} of {:?} is valid from {}, before now ({}): it would \
                     validate records logged before it was trusted",
                    n.authority,
                    n.valid_from.to_rfc3339(),
                    now.to_rfc3339()
                ));
            }
        }
        Ok(())
    }
}

/// Whether a record checks its event id against an earlier record of the
/// same account (for a duplicate or a conflict): `earlier_privileged` says
/// whether that one speaks for an authority ([`speaks_for_an_authority`]).
/// A record that speaks for an authority meets only those, so that a
/// bank's line published first under the id of a Fund payment, a merge or
/// a merge's opening (or handed over by a merge before it) cannot make it
/// a duplicate or a conflict. A bank's record, and a transfer carrying
/// one, meet every earlier record.
pub fn meets(record: &crate::Event, earlier_privileged: bool) -> bool {
    !speaks_for_an_authority(record) || earlier_privileged
}

/// Whether a record speaks for an authority: a privileged record, a
/// merge's opening, or a merge transfer carrying a privileged record (one
/// carrying a bank's line speaks for the bank, under that line's id).
pub fn speaks_for_an_authority(record: &crate::Event) -> bool {
    match record {
        crate::Event::MergeTransfer(t) => t
            .original
            .as_ref()
            .is_none_or(|o| is_privileged(o.event.kind())),
        other => is_privileged(other.kind()),
    }
}

/// The content hashes first recorded under one event id on an account, for
/// [`meets`]: the first of any record, and the first of a privileged one.
#[derive(Debug, Clone, Copy, Default)]
pub struct FirstSeen {
    pub any: Option<crate::ContentHash>,
    pub privileged: Option<crate::ContentHash>,
}

impl FirstSeen {
    /// The earlier hash `record` is checked against, if any.
    pub fn prior(&self, record: &crate::Event) -> Option<crate::ContentHash> {
        if meets(record, false) {
            self.any
        } else {
            self.privileged
        }
    }

    /// Notes `record`, which took its id (an unauthorized one takes none).
    pub fn note(&mut self, record: &crate::Event, hash: crate::ContentHash) {
        self.any.get_or_insert(hash);
        if speaks_for_an_authority(record) {
            self.privileged.get_or_insert(hash);
        }
    }
}

/// The instant a record's authority is judged at: its own record time, or
/// its partition's clock (ms; the latest record time among the partition's
/// earlier records that reached an account) if that is later. A producer
/// sets a record's time, so a back-dated record cannot reach back before an
/// `enforced_from` or a key's `valid_until` its partition has passed.
pub fn judged_at(own: DateTime<Utc>, clock: Option<i64>) -> DateTime<Utc> {
    match clock.and_then(DateTime::from_timestamp_millis) {
        Some(c) if c > own => c,
        _ => own,
    }
}

/// What a deployment does with privileged records.
#[derive(Debug, Clone, Default)]
pub enum Policy {
    /// No trust file (`--trust none`): every producer may publish every
    /// kind, as before signatures. Not for production.
    #[default]
    Open,
    Enforced(Arc<Trust>),
}

/// The verdict on one record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Authorization {
    /// Its kind needs no signature, or the policy checks none, or it was
    /// logged before `enforced_from`.
    #[default]
    Open,
    /// Signed by a key of an authority allowed its kind, valid at its time.
    Signed { authority: String, key_id: String },
    /// Not to be applied: `unauthorized: <kind> requires <authority>: why`.
    Unauthorized(String),
}

impl Authorization {
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Authorization::Unauthorized(_))
    }
}

impl Policy {
    /// Judges a record of `kind` logged at `at`, carrying `signed`: its
    /// signature and the canonical bytes without it.
    pub fn authorize(
        &self,
        kind: &str,
        domain: Domain,
        signed: Option<(&Signature, &[u8])>,
        at: DateTime<Utc>,
    ) -> Authorization {
        self.judge(kind, domain, signed, at, true)
    }

    /// [`Policy::authorize`] for a record a merge transfer carries, which
    /// the old account judged when it came (at an instant the transfer
    /// does not hold): its signature must be by a listed key of an
    /// authority allowed its kind and must verify, but the key's validity
    /// range is not judged again (a back-filled record applied there must
    /// not be lost in the merge). `logged` decides `enforced_from` alone.
    pub fn authorize_carried(
        &self,
        kind: &str,
        signed: Option<(&Signature, &[u8])>,
        logged: DateTime<Utc>,
    ) -> Authorization {
        self.judge(kind, Domain::Envelope, signed, logged, false)
    }

    fn judge(
        &self,
        kind: &str,
        domain: Domain,
        signed: Option<(&Signature, &[u8])>,
        at: DateTime<Utc>,
        in_range: bool,
    ) -> Authorization {
        let trust = match self {
            Policy::Open => return Authorization::Open,
            Policy::Enforced(t) => t,
        };
        if !is_privileged(kind) || trust.enforced_from.is_some_and(|from| at < from) {
            return Authorization::Open;
        }
        // The reason is written only for a refusal: an authorized record
        // (the common case) costs a lookup and the signature check alone.
        let refuse = |why: String| {
            let allowed = trust.allowed(kind);
            Authorization::Unauthorized(if allowed.is_empty() {
                format!("{UNAUTHORIZED}{kind} has no authority in the trust file: {why}")
            } else {
                format!(
                    "{UNAUTHORIZED}{kind} requires {}: {why}",
                    allowed.join(" or ")
                )
            })
        };
        let Some((sig, unsigned)) = signed else {
            return refuse("unsigned".into());
        };
        let Some(key) = trust.keys.get(&sig.key_id) else {
            return refuse(format!(
                "signed with key {}, which the trust file does not list",
                excerpt(&sig.key_id)
            ));
        };
        let may = trust
            .authorities
            .iter()
            .any(|a| a.name == key.authority && a.kinds.iter().any(|k| k == kind));
        if !may {
            return refuse(format!("signed by {} (key {})", key.authority, sig.key_id));
        }
        if in_range && (at < key.valid_from || key.valid_until.is_some_and(|u| at >= u)) {
            let until = key
                .valid_until
                .map_or_else(|| "on".to_string(), |u| u.to_rfc3339());
            return refuse(format!(
                "key {} of {} is valid from {} to {until}, the record is of {}",
                sig.key_id,
                key.authority,
                key.valid_from.to_rfc3339(),
                at.to_rfc3339()
            ));
        }
        let Ok(bytes) = <[u8; 64]>::try_from(sig.value.as_slice()) else {
            return refuse(format!(
                "the signature has {} bytes, Ed25519's has 64",
                sig.value.len()
            ));
        };
        // Strict: no small-order components, no malleable signatures;
        // decided as ed25519-dalek's `verify_strict` (crate::ed25519).
        if key
            .strict
            .verify(&[domain_prefix(domain), unsigned], &bytes)
        {
            Authorization::Signed {
                authority: key.authority.clone(),
                key_id: key.id.clone(),
            }
        } else {
            refuse(format!(
                "the signature of key {} does not verify: the record is not what {} signed",
                sig.key_id, key.authority
            ))
        }
    }
}

/// At most 64 characters of an untrusted key id, for a reason.
fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().take(64).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out.escape_debug().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        instant("t", s).unwrap()
    }

    fn trust_for(signers: &[(&str, &Signer, &str, Option<&str>)]) -> Trust {
        let mut text = String::new();
        for (who, kinds) in default_authorities() {
            text.push_str(&format!(
                "[[authority]]\nname = \"{who}\"\nkinds = {kinds:?}\n"
            ));
            for (w, s, from, until) in signers {
                if *w == who {
                    text.push_str(&format!(
                        "[[authority.key]]\npublic_key = \"{}\"\nvalid_from = \"{from}\"\n",
                        public_key_text(&s.verifying_key())
                    ));
                    if let Some(u) = until {
                        text.push_str(&format!("valid_until = \"{u}\"\n"));
                    }
                }
            }
        }
        Trust::parse(&text).unwrap()
    }

    #[test]
    fn key_id_is_the_rfc_8037_thumbprint() {
        // RFC 8037 appendix A.3: the thumbprint of the A.1 key.
        let key = parse_public_key("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").expect("A.1's x");
        assert_eq!(key_id(&key), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn signs_and_verifies_the_rfc_8032_way() {
        // RFC 8032 §7.1 TEST 1: the empty message's signature.
        let seed: [u8; 32] =
            hex_bytes("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let s = Signer::from_seed(&seed);
        let sig = s.key.sign(b"");
        assert_eq!(
            hex(&sig.to_bytes()),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
             5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        let pem = s.to_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(Signer::from_pem(&pem).unwrap().key_id(), s.key_id());
        assert!(Signer::from_pem("not a key").is_err());
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn hex_bytes(s: &str) -> [u8; 32] {
        let v: Vec<u8> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect();
        v.try_into().unwrap()
    }

    #[test]
    fn every_way_to_be_unauthorized() {
        let op = Signer::from_seed(&[1; 32]);
        let fund = Signer::from_seed(&[2; 32]);
        let stranger = Signer::from_seed(&[3; 32]);
        let policy = Policy::Enforced(Arc::new(trust_for(&[
            (
                "operator",
                &op,
                "2026-01-01T00:00:00Z",
                Some("2026-07-01T00:00:00Z"),
            ),
            ("fund", &fund, "2026-01-01T00:00:00Z", None),
        ])));
        let body = b"the canonical bytes";
        let t = at("2026-03-01T10:00:00Z");
        let judge = |kind, s: Option<&Signature>, bytes: &[u8], t| {
            policy.authorize(kind, Domain::Envelope, s.map(|s| (s, bytes)), t)
        };
        let good = op.sign(Domain::Envelope, body);
        assert_eq!(
            judge("merged", Some(&good), body, t),
            Authorization::Signed {
                authority: "operator".into(),
                key_id: op.key_id().into()
            }
        );
        let reason = |a: Authorization| match a {
            Authorization::Unauthorized(r) => r,
            other => panic!("authorized: {other:?}"),
        };
        assert_eq!(
            reason(judge("merged", None, body, t)),
            "unauthorized: merged requires operator: unsigned"
        );
        assert!(reason(judge(
            "merged",
            Some(&fund.sign(Domain::Envelope, body)),
            body,
            t
        ))
        .contains("signed by fund"));
        assert!(reason(judge("merged", Some(&good), b"tampered", t)).contains("does not verify"));
        assert!(reason(judge(
            "merged",
            Some(&stranger.sign(Domain::Envelope, body)),
            body,
            t
        ))
        .contains("does not list"));
        // Expired, and not yet valid.
        assert!(reason(judge(
            "merged",
            Some(&good),
            body,
            at("2026-08-01T00:00:00Z")
        ))
        .contains("is valid from"));
        assert!(reason(judge(
            "merged",
            Some(&good),
            body,
            at("2025-08-01T00:00:00Z")
        ))
        .contains("is valid from"));
        // A Control signature is no Envelope signature.
        let control = op.sign(Domain::Control, body);
        assert!(reason(judge("merged", Some(&control), body, t)).contains("does not verify"));
        // Open kinds need nothing; an open policy checks nothing.
        assert_eq!(judge("contribution", None, body, t), Authorization::Open);
        assert_eq!(
            Policy::Open.authorize("merged", Domain::Envelope, None, t),
            Authorization::Open
        );
    }

    #[test]
    fn enforcement_starts_when_the_file_says() {
        let mut trust = trust_for(&[]);
        trust.enforced_from = Some(at("2026-12-01T00:00:00Z"));
        let policy = Policy::Enforced(Arc::new(trust));
        let before = policy.authorize("person", Domain::Envelope, None, at("2026-11-30T23:59:59Z"));
        assert_eq!(before, Authorization::Open);
        let after = policy.authorize("person", Domain::Envelope, None, at("2026-12-01T00:00:00Z"));
        assert!(after.is_unauthorized());
    }

    #[test]
    fn bad_trust_files_are_refused_by_field() {
        let cases = [
            ("[[authority]]\nname = \"x\"\nkinds = [\"contribution\"]\n", "open to every producer"),
            ("[[authority]]\nname = \"x\"\nkinds = [\"mergd\"]\n", "no record kind"),
            ("[[authority]]\nname = \"x\"\nkinds = []\nbogus = 1\n", "unknown field"),
            (
                "[[authority]]\nname = \"x\"\nkinds = []\n[[authority.key]]\npublic_key = \"abc\"\nvalid_from = \"2026-01-01T00:00:00Z\"\n",
                "authority[0] (\"x\").key[0].public_key",
            ),
            (
                "[[authority]]\nname = \"x\"\nkinds = []\n[[authority]]\nname = \"x\"\nkinds = []\n",
                "a second authority",
            ),
        ];
        for (text, want) in cases {
            let err = Trust::parse(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn a_weak_key_is_refused() {
        // The identity point: a signature (R = identity, s = 0) verifies
        // for it over any message under non-strict verification.
        let err = parse_public_key("AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap_err();
        assert!(err.contains("weak"), "{err}");
    }

    #[test]
    fn a_later_trust_file_only_extends() {
        let op = Signer::from_seed(&[1; 32]);
        let new = Signer::from_seed(&[4; 32]);
        let now = at("2026-06-01T00:00:00Z");
        let earlier = trust_for(&[("operator", &op, "2026-01-01T00:00:00Z", None)]);
        // Revoked from now on, and a new key from now on: fine.
        let later = trust_for(&[
            (
                "operator",
                &op,
                "2026-01-01T00:00:00Z",
                Some("2026-06-01T00:00:00Z"),
            ),
            ("operator", &new, "2026-06-01T00:00:00Z", None),
        ]);
        later.follows(&earlier, now).unwrap();
        // A new key valid before now would validate older records.
        let backdated = trust_for(&[
            ("operator", &op, "2026-01-01T00:00:00Z", None),
            ("operator", &new, "2026-01-01T00:00:00Z", None),
        ]);
        assert!(backdated
            .follows(&earlier, now)
            .unwrap_err()
            .contains("before now"));
        // Removing a key, or revoking it in the past, changes old verdicts.
        let removed = trust_for(&[]);
        assert!(removed
            .follows(&earlier, now)
            .unwrap_err()
            .contains("removed"));
        let past = trust_for(&[(
            "operator",
            &op,
            "2026-01-01T00:00:00Z",
            Some("2026-02-01T00:00:00Z"),
        )]);
        assert!(past
            .follows(&earlier, now)
            .unwrap_err()
            .contains("in the past"));
    }
}
