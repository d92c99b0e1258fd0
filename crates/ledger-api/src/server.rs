//! The HTTP API (axum). Every route but `/healthz` and `/openapi.json`
//! needs a bearer token of a role allowed on it; every read of personal
//! data is in the access log before the data leaves. The routes and their
//! answers are described in `docs/openapi.json`, served at `/openapi.json`.

use crate::access::{self, AccessLog, AccessRecord};
use crate::auth::{Caller, Role, Tokens};
use crate::reports::{self, ReportError};
use crate::views::{digest_json, ViewError, Views};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Extension;
use axum::{Json, Router};
use ledger_core::{parse_date, Context, Iin, Period};
use ledger_store::{DiskKv, LedgerStore, StoreError};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The OpenAPI document of this API (kept in `docs/openapi.json`).
pub const OPENAPI: &str = include_str!("../../../docs/openapi.json");

/// Which partitions this instance answers for, asked at each request:
/// `None` for all (a server over a store it alone fills). A projector in a
/// consumer group answers with its current assignment.
pub type Held = Arc<dyn Fn() -> Option<Vec<u32>> + Send + Sync>;

/// An error as the API answers it: a status and a JSON body
/// `{"error": {"code": …, "message": …}}`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// `Retry-After` in seconds (a 503 for a partition that is moving).
    pub retry_after: Option<u32>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 503 with `Retry-After`: partition `p` has no instance ready to
    /// serve it now (a rebalance, a new owner catching up), or the one
    /// that owns it did not answer. Never a 404: the participant may well
    /// be in the ledger.
    fn moving(partition: u32, why: impl std::fmt::Display) -> ApiError {
        ApiError {
            retry_after: Some(crate::instances::RETRY_AFTER_SECS),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "partition_unavailable",
                format!("partition {partition} is not served now ({why}): retry shortly"),
            )
        }
    }
}

/// `text` with every run of 12 or more ASCII digits masked as an IIN is
/// (`9005******51`): an error message quotes what the client sent, and a
/// client may send an IIN anywhere, in any parameter.
pub fn mask_digit_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 12 {
            out.push_str(&ledger_core::mask_id(run));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = mask_digit_runs(&self.message);
        let body = serde_json::json!({"error": {"code": self.code, "message": message}});
        let mut r = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }
}

impl From<ViewError> for ApiError {
    fn from(e: ViewError) -> ApiError {
        let (status, code) = match &e {
            ViewError::EmptyStore | ViewError::NoAccount { .. } => {
                (StatusCode::NOT_FOUND, "not_found")
            }
            // A lone instance's answer; one among several (which forwards)
            // turns it into a 503 (`read_account`): the partition moved.
            ViewError::NotOwned { .. } => (StatusCode::MISDIRECTED_REQUEST, "partition_not_held"),
            ViewError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "store"),
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            // The cause (paths, I/O errors) goes to the server's log only.
            tracing::error!(error = %e, "store read failed");
            return ApiError::new(
                status,
                code,
                "the store could not be read (the server's log says why)",
            );
        }
        ApiError::new(status, code, e.to_string())
    }
}

/// Requests served, by route and status, and their total time: `/metrics`.
#[derive(Default)]
struct Metrics {
    requests: BTreeMap<(&'static str, u16), u64>,
    seconds: HashMap<&'static str, f64>,
}

/// Requests refused for want of a valid token, logged as bursts: at most
/// one line a second, saying how many came since the last (the tokens
/// never appear), besides the per-status counts of `/metrics`.
#[derive(Default)]
struct Refusals {
    since_logged: std::sync::atomic::AtomicU64,
    last_logged: Mutex<Option<Instant>>,
}

impl Refusals {
    fn note(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        self.since_logged.fetch_add(1, Relaxed);
        let Ok(mut last) = self.last_logged.try_lock() else {
            return;
        };
        if last.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(1)) {
            let n = self.since_logged.swap(0, Relaxed);
            tracing::warn!(
                refused = n,
                "requests without a valid token since the last report"
            );
            *last = Some(Instant::now());
        }
    }
}

struct AppState {
    refused: Refusals,
    store: LedgerStore<DiskKv>,
    ctx: Context,
    tokens: Tokens,
    access: AccessLog,
    held: Held,
    /// This server as one of several instances, and the client it
    /// forwards reads with.
    instances: Option<(crate::instances::Instances, crate::instances::Client)>,
    unreconciled: Unreconciled,
    /// How long a POST body may take to arrive: the header-read timeout.
    body_timeout: std::time::Duration,
    metrics: Mutex<Metrics>,
}

type Shared = Arc<AppState>;

impl AppState {
    /// The caller of a request, if its token is known and its role is one
    /// of `allowed`.
    fn authorize(&self, headers: &HeaderMap, allowed: &[Role]) -> Result<Caller, ApiError> {
        let caller = self.authenticate(headers)?;
        permitted(&caller, allowed)?;
        Ok(caller)
    }

    /// The caller of a request, if its token is known.
    fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let unauthenticated = |why: &str| {
            self.refused.note();
            ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", why)
        };
        let mut given = headers.get_all(header::AUTHORIZATION).iter();
        let first = given.next();
        if given.next().is_some() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "two Authorization headers: send one",
            ));
        }
        // RFC 9110 §11.1: the scheme name is case-insensitive.
        let token = first
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| unauthenticated("send an Authorization: Bearer <token> header"))?;
        if token.chars().count() < MIN_TOKEN_CHARS {
            return Err(unauthenticated(
                "tokens are at least 32 characters (make one with `openssl rand -hex 32`)",
            ));
        }
        let caller = self
            .tokens
            .caller(token)
            .ok_or_else(|| unauthenticated("unknown token"))?;
        Ok(caller.clone())
    }

    /// The caller of an account read: the token's own, or, for a token of
    /// role `instance`, the caller that instance forwards for
    /// ([`FORWARDED_FOR`](crate::instances::FORWARDED_FOR)), with the
    /// instance's name as `via` and that caller's address as the client.
    /// An instance token without the header reads nothing; the header from
    /// any other role is refused.
    fn reader(&self, headers: &HeaderMap, client: ClientAddr) -> Result<Reader, ApiError> {
        use crate::instances::{OnBehalf, FORWARDED_FOR};
        let caller = self.authenticate(headers)?;
        let mut given = headers.get_all(FORWARDED_FOR).iter();
        let first = given.next();
        if given.next().is_some() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "two SI-Ledger-Forwarded-For headers: send one",
            ));
        }
        let forbidden = |why: String| ApiError::new(StatusCode::FORBIDDEN, "forbidden", why);
        match (caller.role, first) {
            (Role::Instance, Some(v)) => {
                let on_behalf = v.to_str().ok().and_then(OnBehalf::decode).ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "bad_request",
                        "SI-Ledger-Forwarded-For is not base64url of \
                             {\"name\", \"role\", \"client\", \"instance\"}",
                    )
                })?;
                if on_behalf.role == Role::Instance {
                    return Err(forbidden(
                        "a read is forwarded once, for a caller that is not an instance".into(),
                    ));
                }
                Ok(Reader {
                    caller: Caller {
                        name: on_behalf.name,
                        role: on_behalf.role,
                    },
                    client: ClientAddr(on_behalf.client),
                    via: Some(format!("{} at {}", caller.name, on_behalf.instance)),
                })
            }
            (Role::Instance, None) => Err(forbidden(
                "a token of role instance reads only on a caller's behalf \
                 (SI-Ledger-Forwarded-For)"
                    .into(),
            )),
            (role, Some(_)) => Err(forbidden(format!(
                "only an instance forwards reads: SI-Ledger-Forwarded-For is refused from role \
                 {role}"
            ))),
            (_, None) => Ok(Reader {
                caller,
                client,
                via: None,
            }),
        }
    }

    /// Whether this instance reads partition `p` from its own store.
    fn holds(&self, p: u32) -> bool {
        (self.held)().is_none_or(|held| held.contains(&p))
    }

    fn views(&self) -> Views<'_, DiskKv> {
        Views {
            store: &self.store,
            held: (self.held)(),
        }
    }

    /// Records an attempted read of personal data: the data is sent only
    /// after this. `outcome` is the status the attempt is answered with.
    async fn record(&self, attempt: Attempt<'_>, outcome: StatusCode) -> Result<(), ApiError> {
        tracing::info!(
            who = %attempt.caller.name,
            iin = %attempt.iin.map(Iin::masked).unwrap_or_default(),
            endpoint = attempt.endpoint,
            outcome = outcome.as_u16(),
            "personal data read"
        );
        let r = AccessRecord {
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            who: attempt.caller.name.clone(),
            role: attempt.caller.role.to_string(),
            iin: attempt.iin.map(|i| i.as_str().to_string()),
            endpoint: attempt.endpoint.to_string(),
            method: Some(attempt.method.to_string()),
            outcome: Some(outcome.as_u16()),
            as_of: attempt.as_of.map(|d| d.to_string()),
            as_known_on: attempt.as_known_on.map(|d| d.to_string()),
            client: Some(attempt.client.0.to_string()),
            via: attempt.via.map(str::to_string),
            prev: None,
        };
        self.access.append(r).await.map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "access_log",
                format!("the read could not be recorded, so it is refused: {e}"),
            )
        })
    }

    /// Answers an attempted read of personal data: records it with the
    /// status it gets (a 404 says whether a person is in the ledger, so it
    /// is recorded too), then answers.
    async fn answer<T: serde::Serialize>(
        &self,
        attempt: Attempt<'_>,
        read: Result<T, ApiError>,
    ) -> Result<Response, ApiError> {
        let status = match &read {
            Ok(_) => StatusCode::OK,
            Err(e) => e.status,
        };
        self.record(attempt, status).await?;
        read.map(|v| Json(v).into_response())
    }

    fn count(&self, route: &'static str, status: StatusCode, started: Instant) {
        if let Ok(mut m) = self.metrics.lock() {
            *m.requests.entry((route, status.as_u16())).or_default() += 1;
            *m.seconds.entry(route).or_default() += started.elapsed().as_secs_f64();
        }
    }
}

fn parse_iin(s: &str) -> Result<Iin, ApiError> {
    parse_iin_in(s, "path segment iin")
}

/// An IIN from `place` (a path segment, a query parameter), masked in the
/// error.
fn parse_iin_in(s: &str, place: &str) -> Result<Iin, ApiError> {
    Iin::parse(s).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_iin",
            format!("{place} ({}): {e}", ledger_core::mask_id(s)),
        )
    })
}

/// Whether `caller`'s role is one of `allowed`: 403 if not.
fn permitted(caller: &Caller, allowed: &[Role]) -> Result<(), ApiError> {
    if allowed.contains(&caller.role) {
        return Ok(());
    }
    let roles: Vec<String> = allowed.iter().map(Role::to_string).collect();
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!(
            "role {} may not read this; it needs {}",
            caller.role,
            roles.join(" or ")
        ),
    ))
}

/// Tokens shorter than this are refused before they are looked up.
pub const MIN_TOKEN_CHARS: usize = 32;

/// The client's address, as the accepting loop saw it.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// One attempted read of personal data, for its access record.
#[derive(Clone, Copy)]
struct Attempt<'a> {
    method: &'a axum::http::Method,
    caller: &'a Caller,
    iin: Option<&'a Iin>,
    endpoint: &'static str,
    as_of: Option<chrono::NaiveDate>,
    as_known_on: Option<chrono::NaiveDate>,
    client: ClientAddr,
    /// The instance that forwarded the request here.
    via: Option<&'a str>,
}

/// Who reads an account, as [`AppState::reader`] found.
struct Reader {
    caller: Caller,
    client: ClientAddr,
    via: Option<String>,
}

/// A request as it came, for forwarding it unchanged.
struct Origin<'a> {
    /// Path and query.
    target: &'a str,
    /// A POST's body.
    body: Option<axum::body::Bytes>,
}

fn bad_parameter(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_parameter", message)
}

/// A request's parameters by name, and where it gave them, for errors.
struct Given {
    values: BTreeMap<String, String>,
    /// `query parameter` or `body member`.
    place: &'static str,
}

impl Given {
    fn get(&self, name: &str) -> Option<&String> {
        self.values.get(name)
    }

    /// `query parameter as_of`, `body member as_of`.
    fn named(&self, name: &str) -> String {
        format!("{} {name}", self.place)
    }
}

/// The query's parameters: each at most once, and each one of `allowed`.
fn params(raw: Option<&str>, allowed: &[&str]) -> Result<Given, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| bad_parameter(format!("the query string does not parse: {e}")))?;
    let mut out = BTreeMap::new();
    for (k, v) in pairs {
        let shown = ledger_proto::convert::bounded(&k, 64);
        if !allowed.contains(&k.as_str()) {
            let known = if allowed.is_empty() {
                "this route takes none".to_string()
            } else {
                allowed.join(", ")
            };
            return Err(bad_parameter(format!(
                "unknown query parameter {shown} ({known})"
            )));
        }
        if out.insert(k, v).is_some() {
            return Err(bad_parameter(format!(
                "query parameter {shown} is given twice"
            )));
        }
    }
    Ok(Given {
        values: out,
        place: "query parameter",
    })
}

/// A date parameter: `YYYY-MM-DD`, not before the ledger's epoch.
fn date_param(ctx: &Context, q: &Given, name: &str) -> Result<Option<chrono::NaiveDate>, ApiError> {
    let Some(v) = q.get(name) else {
        return Ok(None);
    };
    let bad = |why: String| ApiError::new(StatusCode::BAD_REQUEST, "bad_date", why);
    let d = parse_date(v).map_err(|e| {
        bad(format!(
            "{}: {}",
            q.named(name),
            ledger_proto::convert::bounded(&e.to_string(), 80)
        ))
    })?;
    let epoch = epoch_day(ctx);
    if d < epoch {
        return Err(bad(format!(
            "{}: {d} is before the ledger's epoch {epoch}",
            q.named(name)
        )));
    }
    Ok(Some(d))
}

/// The day of the ledger's epoch, in the calendar's zone.
fn epoch_day(ctx: &Context) -> chrono::NaiveDate {
    ctx.record_times
        .epoch
        .with_timezone(&ctx.calendar.time_zone())
        .date_naive()
}

/// An instant parameter of a filter: RFC 3339, or a date (its start in
/// the calendar's zone). Any instant filters; no epoch applies.
fn instant_param(
    ctx: &Context,
    q: &Given,
    name: &str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    let Some(v) = q.get(name) else {
        return Ok(None);
    };
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(Some(t.with_timezone(&chrono::Utc)));
    }
    match parse_date(v) {
        Ok(d) => Ok(Some(ctx.calendar.day_start(d).with_timezone(&chrono::Utc))),
        Err(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_date",
            format!(
                "{}: neither RFC 3339 nor YYYY-MM-DD: {}",
                q.named(name),
                ledger_proto::convert::bounded(v, 40)
            ),
        )),
    }
}

fn path_iin(p: Result<UrlPath<String>, PathRejection>) -> Result<Iin, ApiError> {
    match p {
        Ok(UrlPath(s)) => parse_iin(&s),
        Err(e) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_iin",
            format!(
                "path segment iin: {}",
                ledger_proto::convert::bounded(&e.body_text(), 120)
            ),
        )),
    }
}

/// Runs blocking store or file work off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
}

/// Runs `f`, counts the answer under `route`.
async fn counted<F>(s: &Shared, route: &'static str, f: F) -> Response
where
    F: std::future::Future<Output = Result<Response, ApiError>>,
{
    let started = Instant::now();
    let r = f.await.unwrap_or_else(IntoResponse::into_response);
    s.count(route, r.status(), started);
    r
}

/// What is read of one account.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Read {
    /// The statement, now or as of / as known on the query's dates.
    Statement,
    /// Every entry of its history.
    History,
    /// Its hash chain recomputed ([`verify_json`]).
    Verify,
    /// A proof directory of its history ([`crate::proofs::prove`]): POST
    /// only.
    Proof,
}

impl Read {
    /// The route's name in `/metrics`.
    fn route(self) -> &'static str {
        match self {
            Read::Statement => "account",
            Read::History => "history",
            Read::Verify => "verify",
            Read::Proof => "proof",
        }
    }

    /// The members the POST route's body takes ([`Read::query`] and `iin`).
    fn members(self) -> &'static [(&'static str, Member)] {
        match self {
            Read::Statement => &[
                ("iin", Member::Text),
                ("as_of", Member::Text),
                ("as_known_on", Member::Text),
            ],
            Read::History | Read::Verify | Read::Proof => &[("iin", Member::Text)],
        }
    }

    /// The GET route's query parameters: the body's members but `iin`.
    fn query(self) -> &'static [&'static str] {
        match self {
            Read::Statement => &["as_of", "as_known_on"],
            Read::History | Read::Verify | Read::Proof => &[],
        }
    }

    fn endpoint(self, post: bool) -> &'static str {
        match (self, post) {
            (Read::Statement, false) => "GET /v1/accounts/{iin}",
            (Read::History, false) => "GET /v1/accounts/{iin}/history",
            (Read::Verify, false) => "GET /v1/accounts/{iin}/verify",
            (Read::Statement, true) => "POST /v1/accounts/statement",
            (Read::History, true) => "POST /v1/accounts/history",
            (Read::Verify, true) => "POST /v1/accounts/verify",
            // Never routed: an IIN stays out of URLs.
            (Read::Proof, false) => "GET /v1/accounts/{iin}/proof",
            (Read::Proof, true) => "POST /v1/accounts/proof",
        }
    }
}

/// What an account read answers: a statement keeps its fields' order.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Answer {
    Statement(Box<ledger_core::Statement>),
    Json(serde_json::Value),
}

/// Who asks, for the access record.
#[derive(Clone, Copy)]
struct Who<'a> {
    method: &'a axum::http::Method,
    caller: &'a Caller,
    client: ClientAddr,
    /// The instance that forwarded the request here.
    via: Option<&'a str>,
}

/// One read of one account, for the auditor role; recorded in the access
/// log under `endpoint` before anything is sent, whatever it is answered:
/// a refused role (checked first), parameters that do not parse (`given`,
/// with the statement's dates), no such account, or the data.
async fn read_account(
    s: &Shared,
    who: Who<'_>,
    iin: Iin,
    read: Read,
    given: Result<Given, ApiError>,
    endpoint: &'static str,
    origin: Origin<'_>,
) -> Result<Response, ApiError> {
    let dates = given.and_then(|q| {
        Ok((
            date_param(&s.ctx, &q, "as_of")?,
            date_param(&s.ctx, &q, "as_known_on")?,
        ))
    });
    let (as_of, known_on) = dates.as_ref().map_or((None, None), |d| *d);
    let attempt = Attempt {
        method: who.method,
        caller: who.caller,
        iin: Some(&iin),
        endpoint,
        as_of,
        as_known_on: known_on,
        client: who.client,
        via: who.via,
    };
    // A role that may not read is an attempt all the same: recorded.
    if let Err(e) = permitted(who.caller, &[Role::Auditor]) {
        return s.answer::<()>(attempt, Err(e)).await;
    }
    if let Err(e) = dates {
        return s.answer::<()>(attempt, Err(e)).await;
    }
    let partition = s.store.partition_of(&iin).map_err(ViewError::from);
    let partition = match partition {
        Ok(p) => p,
        Err(e) => return s.answer::<()>(attempt, Err(e.into())).await,
    };
    if let Some(p) = partition {
        if let Some(answer) = elsewhere(s, who, p, origin, attempt).await {
            return answer;
        }
    }
    let state = Arc::clone(s);
    let answer = blocking(move || {
        let views = state.views();
        Ok(match read {
            Read::Statement => Answer::Statement(Box::new(
                views.statement(&state.ctx, &iin, as_of, known_on)?,
            )),
            Read::History => Answer::Json({
                let (partition, entries) = views.history(&iin)?;
                let entries: Vec<serde_json::Value> =
                    entries.iter().map(|e| e.to_json(&state.ctx)).collect();
                serde_json::json!({
                    "iin": iin.masked(),
                    "partition": partition,
                    "entries": entries,
                })
            }),
            Read::Verify => Answer::Json(verify_json(&views, &iin)?),
            Read::Proof => Answer::Json({
                views.partition(&iin)?;
                let dir = crate::proofs::prove(views.store, &iin).map_err(refusal)?;
                proof_json(&iin, &dir)
            }),
        })
    })
    .await;
    // Revoked between the check above and the read: moving, not absent.
    let answer = answer.map_err(|e| match partition {
        Some(p) if s.instances.is_some() && e.code == "partition_not_held" => {
            ApiError::moving(p, "this instance no longer holds it")
        }
        _ => e,
    });
    let answer = s.answer(attempt, answer).await;
    Ok(with_place(s, partition, answer))
}

/// A read of partition `p` on an instance among several that does not
/// hold it: forwarded to the owner, which reads and records it (its answer
/// passed on), or a 503 recorded here if no instance is ready for it. `None`
/// where the read is made here (the partition is held, or the server is
/// not one of several).
async fn elsewhere(
    s: &Shared,
    who: Who<'_>,
    p: u32,
    origin: Origin<'_>,
    attempt: Attempt<'_>,
) -> Option<Result<Response, ApiError>> {
    let (instances, client) = s.instances.as_ref()?;
    if s.holds(p) {
        return None;
    }
    let why = if who.via.is_some() {
        // Forwarded once only: the instance that sent it thought this one
        // held the partition; it moved since.
        "the instance it was forwarded to no longer holds it".to_string()
    } else {
        match (instances.owner)(p).filter(|url| *url != instances.me) {
            None => "no instance has caught up on it yet".to_string(),
            Some(url) => {
                let f = crate::instances::Forward {
                    method: who.method,
                    target: origin.target,
                    body: origin.body,
                    on_behalf: crate::instances::OnBehalf {
                        name: who.caller.name.clone(),
                        role: who.caller.role,
                        client: who.client.0,
                        instance: instances.me.clone(),
                    },
                };
                match crate::instances::forward(client, instances, &url, f).await {
                    Ok(answer) => return Some(Ok(answer)),
                    Err(e) => {
                        tracing::warn!(partition = p, error = %e, "forwarding a read");
                        format!("its owner did not answer: {e}")
                    }
                }
            }
        }
    };
    let answer = s.answer::<()>(attempt, Err(ApiError::moving(p, why))).await;
    Some(Ok(with_place(s, Some(p), answer)))
}

/// An account read's answer, with the partition it was about and, on an
/// instance among several, the instance that answered.
fn with_place(
    s: &AppState,
    partition: Option<u32>,
    answer: Result<Response, ApiError>,
) -> Response {
    let mut r = answer.unwrap_or_else(IntoResponse::into_response);
    if let Some(p) = partition {
        r.headers_mut()
            .insert(crate::instances::PARTITION, HeaderValue::from(p));
    }
    if let Some((instances, _)) = &s.instances {
        if let Ok(v) = HeaderValue::from_str(&instances.me) {
            r.headers_mut().insert(crate::instances::INSTANCE, v);
        }
    }
    r
}

/// `GET /v1/accounts/{iin}[/history|/verify]`: the IIN in the path; only
/// the statement takes query parameters (`as_of`, `as_known_on`), the
/// others refuse any rather than ignore it.
#[allow(clippy::too_many_arguments)]
async fn account_get(
    s: Shared,
    method: axum::http::Method,
    client: ClientAddr,
    headers: HeaderMap,
    uri: axum::http::Uri,
    iin: Result<UrlPath<String>, PathRejection>,
    query: Option<String>,
    read: Read,
) -> Response {
    counted(&s.clone(), read.route(), async move {
        let reader = s.reader(&headers, client)?;
        let iin = path_iin(iin)?;
        let who = Who {
            method: &method,
            caller: &reader.caller,
            client: reader.client,
            via: reader.via.as_deref(),
        };
        let given = params(query.as_deref(), read.query());
        let origin = Origin {
            target: uri.path_and_query().map_or("/", |t| t.as_str()),
            body: None,
        };
        read_account(&s, who, iin, read, given, read.endpoint(false), origin).await
    })
    .await
}

/// `POST /v1/accounts/{statement,history,verify}`: the GET routes' answers
/// for an IIN (and dates) given in the body, so that it stays out of URLs
/// (and out of proxies' and browsers' logs of them). The token is checked
/// before the body is read.
#[allow(clippy::too_many_arguments)]
async fn account_post(
    s: Shared,
    method: axum::http::Method,
    client: ClientAddr,
    headers: HeaderMap,
    uri: axum::http::Uri,
    query: Option<String>,
    body: axum::body::Body,
    read: Read,
) -> Response {
    counted(&s.clone(), read.route(), async move {
        let reader = s.reader(&headers, client)?;
        params(query.as_deref(), &[])?;
        let body = read_body(&s, &headers, body).await?;
        let given = body_params(&body, read.members());
        // An attempt that names a valid IIN is recorded, however the rest
        // of its body is wrong.
        let iin = match &given {
            Ok(q) => body_iin(q)?,
            Err(e) => match iin_named_in(&body) {
                Some(iin) => iin,
                None => return Err(e.clone()),
            },
        };
        let who = Who {
            method: &method,
            caller: &reader.caller,
            client: reader.client,
            via: reader.via.as_deref(),
        };
        let origin = Origin {
            target: uri.path_and_query().map_or("/", |t| t.as_str()),
            body: Some(body),
        };
        read_account(&s, who, iin, read, given, read.endpoint(true), origin).await
    })
    .await
}

/// The valid IIN a body's `iin` member names, if it is a JSON object with
/// one: to record an attempt whose other members are wrong.
fn iin_named_in(body: &[u8]) -> Option<Iin> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    Iin::parse(v.get("iin")?.as_str()?).ok()
}

/// Reads a POST body once the token is known good: at most
/// [`MAX_BODY_BYTES`] (413 beyond), within the header-read timeout (408
/// if it does not arrive: a client that promises a body and sends none is
/// cut off like one that never ends its header), declared
/// `application/json` and not encoded (415 otherwise).
async fn read_body(
    s: &AppState,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<axum::body::Bytes, ApiError> {
    let unsupported = |why: String| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            why,
        )
    };
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if media_type.as_deref() != Some("application/json") {
        return Err(unsupported(format!(
            "send the body as Content-Type: application/json (got {})",
            media_type.map_or("none".into(), |m| ledger_proto::convert::bounded(&m, 60))
        )));
    }
    if let Some(e) = headers.get(header::CONTENT_ENCODING) {
        if !e.as_bytes().eq_ignore_ascii_case(b"identity") {
            return Err(unsupported(
                "send the body without a Content-Encoding".into(),
            ));
        }
    }
    let limited = http_body_util::Limited::new(body, MAX_BODY_BYTES);
    let read =
        tokio::time::timeout(s.body_timeout, http_body_util::BodyExt::collect(limited)).await;
    match read {
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            format!(
                "the body did not arrive within {} ms",
                s.body_timeout.as_millis()
            ),
        )),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(e)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_body",
            format!(
                "the body could not be read: {}",
                ledger_proto::convert::bounded(&e.to_string(), 120)
            ),
        )),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("a body is at most {MAX_BODY_BYTES} bytes"),
    )
}

/// The GET and POST handlers of one account read.
macro_rules! account_routes {
    ($get:ident, $post:ident, $read:expr) => {
        async fn $get(
            State(s): State<Shared>,
            method: axum::http::Method,
            Extension(client): Extension<ClientAddr>,
            headers: HeaderMap,
            uri: axum::http::Uri,
            iin: Result<UrlPath<String>, PathRejection>,
            RawQuery(query): RawQuery,
        ) -> Response {
            account_get(s, method, client, headers, uri, iin, query, $read).await
        }

        async fn $post(
            State(s): State<Shared>,
            method: axum::http::Method,
            Extension(client): Extension<ClientAddr>,
            headers: HeaderMap,
            uri: axum::http::Uri,
            RawQuery(query): RawQuery,
            body: axum::body::Body,
        ) -> Response {
            account_post(s, method, client, headers, uri, query, body, $read).await
        }
    };
}

account_routes!(account, statement_post, Read::Statement);
account_routes!(history, history_post, Read::History);
account_routes!(verify, verify_post, Read::Verify);

async fn proof_post(
    State(s): State<Shared>,
    method: axum::http::Method,
    Extension(client): Extension<ClientAddr>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    RawQuery(query): RawQuery,
    body: axum::body::Body,
) -> Response {
    account_post(s, method, client, headers, uri, query, body, Read::Proof).await
}

/// A proof directory as JSON: its files by name, each as text (every one
/// is UTF-8: C2SP files and `statement.json`).
fn proof_json(iin: &Iin, dir: &crate::proofs::ProofDir) -> serde_json::Value {
    let files: serde_json::Map<String, serde_json::Value> = dir
        .files
        .iter()
        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned().into()))
        .collect();
    serde_json::json!({
        "iin": iin.masked(),
        "partition": dir.partition,
        "size": dir.size,
        "files": files,
    })
}

/// Why a proof or checkpoint cannot be given, as an API error.
fn refusal(e: crate::proofs::ProofRefusal) -> ApiError {
    use crate::proofs::ProofRefusal as R;
    let (status, code) = match &e {
        R::NoAccount { .. } | R::EmptyStore => (StatusCode::NOT_FOUND, "not_found"),
        R::NoCheckpoint { .. } | R::NotKept { .. } | R::NotYetSigned { .. } => {
            (StatusCode::NOT_FOUND, "no_checkpoint")
        }
        R::RootDiffers { .. } | R::LeafDiffers { .. } => (StatusCode::CONFLICT, "store_changed"),
        R::Foreign { .. } | R::WrongKey { .. } => (StatusCode::CONFLICT, "not_consistent"),
        R::Store(s) => return ViewError::Store(StoreError::Backend(s.to_string())).into(),
    };
    if status == StatusCode::CONFLICT && code == "store_changed" {
        tracing::error!(error = %e, "a proof was refused: the store was changed after signing");
    }
    ApiError::new(status, code, e.to_string())
}

/// A read of the transparency logs (no personal data), by an auditor or
/// a reporter; recorded in the access log like every read.
async fn log_read(
    s: &Shared,
    who: Who<'_>,
    endpoint: &'static str,
    at: Option<(u32, Origin<'_>)>,
    read: impl FnOnce(&AppState) -> Result<serde_json::Value, ApiError> + Send + 'static,
) -> Result<Response, ApiError> {
    let attempt = Attempt {
        method: who.method,
        caller: who.caller,
        iin: None,
        endpoint,
        as_of: None,
        as_known_on: None,
        client: who.client,
        via: who.via,
    };
    if let Err(e) = permitted(who.caller, &[Role::Auditor, Role::Reporter]) {
        return s.answer::<()>(attempt, Err(e)).await;
    }
    // A partition's checkpoint from the instance that owns it, never from
    // a standby or a stale copy.
    if let Some((p, origin)) = at {
        if let Some(answer) = elsewhere(s, who, p, origin, attempt).await {
            return answer;
        }
    }
    let state = Arc::clone(s);
    let answer = blocking(move || read(&state)).await;
    s.answer(attempt, answer).await
}

/// A partition number in a path, within the store's partitions.
fn partition_param(store: &LedgerStore<impl ledger_store::Kv>, p: &str) -> Result<u32, ApiError> {
    let partitions = store
        .meta()
        .map_err(|e| ApiError::from(ViewError::Store(e)))?
        .map_or(0, |m| m.partitions);
    match p.parse::<u32>() {
        Ok(k) if k < partitions => Ok(k),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_partition",
            format!(
                "path segment partition: {} is not one of the store's partitions (0 to {})",
                ledger_proto::convert::bounded(p, 20),
                partitions.saturating_sub(1)
            ),
        )),
    }
}

/// `GET /v1/checkpoints/{partition}` (`?size=N`): a signed checkpoint,
/// exactly as signed.
async fn checkpoint_get(
    State(s): State<Shared>,
    method: axum::http::Method,
    Extension(client): Extension<ClientAddr>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    UrlPath(p): UrlPath<String>,
    RawQuery(query): RawQuery,
) -> Response {
    counted(&s.clone(), "checkpoint", async move {
        let reader = s.reader(&headers, client)?;
        let who = Who {
            method: &method,
            caller: &reader.caller,
            client: reader.client,
            via: reader.via.as_deref(),
        };
        let q = params(query.as_deref(), &["size"])?;
        let size = match q.get("size") {
            None => None,
            Some(v) => Some(v.parse::<u64>().map_err(|_| {
                bad_parameter(format!(
                    "query parameter size: {} is not a tree size",
                    ledger_proto::convert::bounded(v, 20)
                ))
            })?),
        };
        let at = partition_param(&s.store, &p).ok().map(|k| {
            let origin = Origin {
                target: uri.path_and_query().map_or("/", |t| t.as_str()),
                body: None,
            };
            (k, origin)
        });
        log_read(
            &s,
            who,
            "GET /v1/checkpoints/{partition}",
            at,
            move |state| {
                let k = partition_param(&state.store, &p)?;
                let (size, note) =
                    crate::proofs::checkpoint(&state.store, k, size).map_err(refusal)?;
                Ok(serde_json::json!({
                    "partition": k,
                    "size": size,
                    "checkpoint": String::from_utf8_lossy(&note),
                }))
            },
        )
        .await
    })
    .await
}

/// `GET /v1/checkpoints/vkeys`: each partition's verifier key, then the
/// origin's.
async fn vkeys_get(
    State(s): State<Shared>,
    method: axum::http::Method,
    Extension(client): Extension<ClientAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    counted(&s.clone(), "vkeys", async move {
        let caller = s.authenticate(&headers)?;
        let who = Who {
            method: &method,
            caller: &caller,
            client,
            via: None,
        };
        params(query.as_deref(), &[])?;
        log_read(&s, who, "GET /v1/checkpoints/vkeys", None, |state| {
            let keys = crate::proofs::verifier_keys(&state.store).map_err(refusal)?;
            Ok(serde_json::json!({ "vkeys": keys }))
        })
        .await
    })
    .await
}

/// `POST /v1/checkpoints/{partition}/consistency` with `{"old": "<a saved
/// checkpoint>"}`: the `tlog-witness` body from it to the latest.
#[allow(clippy::too_many_arguments)]
async fn consistency_post(
    State(s): State<Shared>,
    method: axum::http::Method,
    Extension(client): Extension<ClientAddr>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    UrlPath(p): UrlPath<String>,
    RawQuery(query): RawQuery,
    body: axum::body::Body,
) -> Response {
    counted(&s.clone(), "consistency", async move {
        let reader = s.reader(&headers, client)?;
        let who = Who {
            method: &method,
            caller: &reader.caller,
            client: reader.client,
            via: reader.via.as_deref(),
        };
        params(query.as_deref(), &[])?;
        let body = read_body(&s, &headers, body).await?;
        let q = body_params(&body, &[("old", Member::Text)])?;
        let old = q.get("old").cloned().ok_or_else(|| {
            bad_parameter("body member old: the saved checkpoint is required".into())
        })?;
        let at = partition_param(&s.store, &p).ok().map(|k| {
            let origin = Origin {
                target: uri.path_and_query().map_or("/", |t| t.as_str()),
                body: Some(body.clone()),
            };
            (k, origin)
        });
        log_read(
            &s,
            who,
            "POST /v1/checkpoints/{partition}/consistency",
            at,
            move |state| {
                let k = partition_param(&state.store, &p)?;
                let body =
                    crate::proofs::consistency(&state.store, k, old.as_bytes()).map_err(refusal)?;
                Ok(serde_json::json!({
                    "partition": k,
                    "body": String::from_utf8_lossy(&body),
                }))
            },
        )
        .await
    })
    .await
}

/// One account's chain recomputed from its stored entries
/// ([`LedgerStore::verify_account`]): `intact`, or the first entry whose
/// link does not follow, with its position and, when it still decodes,
/// its event id and kind.
pub fn verify_json<B: ledger_store::Kv>(
    views: &Views<'_, B>,
    iin: &Iin,
) -> Result<serde_json::Value, ViewError> {
    let p = views.partition(iin)?;
    let check = views
        .store
        .verify_account(p, iin)?
        .ok_or_else(|| ViewError::NoAccount {
            iin: iin.masked(),
            partition: p,
        })?;
    let first_break = check.first_break.map(|b| {
        let event = b
            .entry
            .as_ref()
            .and_then(|h| ledger_proto::decode_canonical(&h.event).ok());
        serde_json::json!({
            "seq": b.seq,
            "partition": p,
            "offset": b.offset,
            "event_id": event.as_ref().map(|d| d.envelope.event_id.as_str().to_string()),
            "kind": event.as_ref().map(|d| d.envelope.event.kind()),
            "what": b.what,
        })
    });
    Ok(serde_json::json!({
        "iin": iin.masked(),
        "partition": p,
        "entries": check.entries,
        "head": ledger_store::chain::hex(&check.head),
        "intact": first_break.is_none(),
        "first_break": first_break,
    }))
}

/// Most bytes of a POST body: a query for one account is far smaller.
pub const MAX_BODY_BYTES: usize = 4 * 1024;

/// What a member of a POST body must be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Member {
    Text,
    Whole,
}

/// A POST body: a JSON object whose members are each one of `allowed`, of
/// its type (a string, or a whole number), each at most once, none null,
/// as [`Given`] (so that an IIN never has to be in a URL).
fn body_params(body: &[u8], allowed: &[(&str, Member)]) -> Result<Given, ApiError> {
    let bad_body = |why: String| ApiError::new(StatusCode::BAD_REQUEST, "bad_body", why);
    if body.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    let text =
        std::str::from_utf8(body).map_err(|e| bad_body(format!("the body is not UTF-8: {e}")))?;
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        bad_body(format!(
            "the body is not JSON: {}",
            ledger_proto::convert::bounded(&e.to_string(), 120)
        ))
    })?;
    // serde_json keeps the last of a repeated member silently: the strict
    // reader refuses it (as the query refuses a parameter given twice).
    if let Err(e) = ledger_proto::strict_json::parse(text) {
        return Err(bad_body(format!("member {}: {}", e.path, e.reason)));
    }
    let serde_json::Value::Object(members) = value else {
        return Err(bad_body("the body must be a JSON object".into()));
    };
    let mut out = BTreeMap::new();
    for (k, v) in members {
        let shown = ledger_proto::convert::bounded(&k, 64);
        let Some((_, kind)) = allowed.iter().find(|(name, _)| *name == k) else {
            let known: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
            return Err(bad_body(format!(
                "unknown member {shown} (known: {})",
                known.join(", ")
            )));
        };
        let v = match (kind, v) {
            (Member::Text, serde_json::Value::String(v)) => v,
            (Member::Whole, serde_json::Value::Number(n)) if n.is_u64() => n.to_string(),
            (Member::Text, _) => {
                return Err(bad_body(format!("member {shown} must be a string")));
            }
            (Member::Whole, _) => {
                return Err(bad_body(format!("member {shown} must be a whole number")));
            }
        };
        out.insert(k, v);
    }
    Ok(Given {
        values: out,
        place: "body member",
    })
}

/// The `iin` member of a POST body, parsed (masked in its error).
fn body_iin(q: &Given) -> Result<Iin, ApiError> {
    let v = q.get("iin").ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_iin",
            "the body needs an iin member",
        )
    })?;
    parse_iin_in(v, &q.named("iin"))
}

/// `GET /v1/whoami`: the caller's name and role, and the identifier scheme
/// the ledger reads (for a client that checks IINs as they are typed).
async fn whoami(
    State(s): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    counted(&s.clone(), "whoami", async move {
        let caller = s.authenticate(&headers)?;
        params(query.as_deref(), &[])?;
        let scheme = ledger_core::id::scheme();
        Ok(Json(serde_json::json!({
            "name": caller.name,
            "role": caller.role.to_string(),
            "id_scheme": scheme.name(),
            "time_zone": s.ctx.calendar.time_zone().name(),
        }))
        .into_response())
    })
    .await
}

async fn digest(
    State(s): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    counted(&s.clone(), "digest", async move {
        s.authorize(&headers, &[Role::Auditor, Role::Reporter])?;
        params(query.as_deref(), &[])?;
        let state = Arc::clone(&s);
        let d = blocking(move || Ok(digest_json(&state.store).map_err(ViewError::Store)?)).await?;
        Ok(Json(d).into_response())
    })
    .await
}

/// Records per page of the access log unless asked for fewer; the most
/// a page holds.
pub const ACCESS_LOG_PAGE: usize = 100;
pub const ACCESS_LOG_PAGE_MAX: usize = 1000;

async fn access_log(
    State(s): State<Shared>,
    method: axum::http::Method,
    Extension(client): Extension<ClientAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    counted(&s.clone(), "access_log", async move {
        let caller = s.authenticate(&headers)?;
        let who = Who {
            method: &method,
            caller: &caller,
            client,
            via: None,
        };
        let endpoint = "GET /v1/access-log";
        access_log_role(&s, who, endpoint).await?;
        let names: Vec<&str> = ACCESS_LOG_FILTERS.iter().map(|(name, _)| *name).collect();
        let q = params(query.as_deref(), &names)?;
        read_access_log(&s, who, &q, endpoint).await
    })
    .await
}

/// `POST /v1/access-log/search`: the same page for filters given in a
/// JSON body, so that an IIN filter stays out of the URL.
async fn access_log_post(
    State(s): State<Shared>,
    method: axum::http::Method,
    Extension(client): Extension<ClientAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: axum::body::Body,
) -> Response {
    counted(&s.clone(), "access_log", async move {
        let caller = s.authenticate(&headers)?;
        let who = Who {
            method: &method,
            caller: &caller,
            client,
            via: None,
        };
        let endpoint = "POST /v1/access-log/search";
        access_log_role(&s, who, endpoint).await?;
        params(query.as_deref(), &[])?;
        let body = read_body(&s, &headers, body).await?;
        let q = body_params(&body, ACCESS_LOG_FILTERS)?;
        read_access_log(&s, who, &q, endpoint).await
    })
    .await
}

/// The access log names whose data was read: a role that may not read it
/// is recorded in it, then refused.
async fn access_log_role(s: &Shared, who: Who<'_>, endpoint: &'static str) -> Result<(), ApiError> {
    let Err(e) = permitted(who.caller, &[Role::Auditor]) else {
        return Ok(());
    };
    let attempt = Attempt {
        method: who.method,
        caller: who.caller,
        iin: None,
        endpoint,
        as_of: None,
        as_known_on: None,
        client: who.client,
        via: who.via,
    };
    s.record(attempt, e.status).await?;
    Err(e)
}

/// What the access log's pages are filtered and paged by: query
/// parameters, or members of a POST body of these types.
const ACCESS_LOG_FILTERS: &[(&str, Member)] = &[
    ("from", Member::Text),
    ("to", Member::Text),
    ("who", Member::Text),
    ("iin", Member::Text),
    ("cursor", Member::Text),
    ("limit", Member::Whole),
];

/// A page of the access log; the read is itself recorded.
async fn read_access_log(
    s: &Shared,
    who: Who<'_>,
    q: &Given,
    endpoint: &'static str,
) -> Result<Response, ApiError> {
    let number = |name: &str| -> Result<Option<u64>, ApiError> {
        q.get(name)
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    bad_parameter(format!(
                        "{}: not a whole number: {}",
                        q.named(name),
                        ledger_proto::convert::bounded(v, 40)
                    ))
                })
            })
            .transpose()
    };
    let limit = number("limit")?.unwrap_or(ACCESS_LOG_PAGE as u64);
    if limit == 0 || limit > ACCESS_LOG_PAGE_MAX as u64 {
        return Err(bad_parameter(format!(
            "{}: 1-{ACCESS_LOG_PAGE_MAX}, got {limit}",
            q.named("limit")
        )));
    }
    let iin = q
        .get("iin")
        .map(|v| parse_iin_in(v, &q.named("iin")))
        .transpose()?;
    let filter = access::Filter {
        from: instant_param(&s.ctx, q, "from")?,
        to: instant_param(&s.ctx, q, "to")?,
        who: q.get("who").cloned(),
        iin: iin.map(|i| i.as_str().to_string()),
    };
    let cursor = number("cursor")?.unwrap_or(0);
    // Reading the log is itself a read of personal data.
    let attempt = Attempt {
        method: who.method,
        caller: who.caller,
        iin: iin.as_ref(),
        endpoint,
        as_of: None,
        as_known_on: None,
        client: who.client,
        via: who.via,
    };
    s.record(attempt, StatusCode::OK).await?;
    let path = s.access.path().to_path_buf();
    let page = blocking(move || {
        access::page(&path, cursor, limit as usize, &filter).map_err(|e| {
            tracing::error!(error = %e, "reading the access log");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "access_log",
                "the access log could not be read (the server's log says why)",
            )
        })
    })
    .await?;
    if !page.unreadable.is_empty() {
        tracing::warn!(
            lines = page.unreadable.len(),
            "the access log has lines that hold no record"
        );
    }
    // A line that holds no record is named by its offset (a page read
    // from a cursor does not count lines), and the page goes on.
    let unreadable: Vec<serde_json::Value> = page
        .unreadable
        .iter()
        .map(|u| serde_json::json!({"offset": u.offset.to_string(), "error": u.error}))
        .collect();
    Ok(Json(serde_json::json!({
        "records": page.records,
        "unreadable": unreadable,
        "next_cursor": page.next_cursor.map(|c| c.to_string()),
    }))
    .into_response())
}

/// Counts the payments with a line for a period that do not reconcile
/// (Rules §7): the binary's, given to the server (`report monthly` adds the
/// same figure).
pub type Unreconciled = Arc<dyn Fn(Period) -> Result<u64, String> + Send + Sync>;

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> ApiError {
        match e {
            ReportError::Open { .. } => {
                ApiError::new(StatusCode::CONFLICT, "month_open", e.to_string())
            }
            ReportError::Store(e) => ViewError::Store(e).into(),
            ReportError::Corrupt(why) => {
                tracing::error!(error = %why, "a stored report part does not decode");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "store",
                    "the store could not be read (the server's log says why)",
                )
            }
        }
    }
}

/// Who may read the monthly reports: aggregates, no personal data.
const REPORT_ROLES: &[Role] = &[Role::Reporter, Role::Auditor];

/// `GET /v1/reports/monthly`: the months every partition has closed.
async fn monthly_list(
    State(s): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    counted(&s.clone(), "monthly", async move {
        s.authorize(&headers, REPORT_ROLES)?;
        params(query.as_deref(), &[])?;
        let state = Arc::clone(&s);
        let months = blocking(move || Ok(reports::closed_months(&state.store)?)).await?;
        let months: Vec<serde_json::Value> = months
            .into_iter()
            .map(|(p, rev)| serde_json::json!({"period": p.to_string(), "revision": rev}))
            .collect();
        Ok(Json(serde_json::json!({ "months": months })).into_response())
    })
    .await
}

fn path_period(
    ctx: &Context,
    p: Result<UrlPath<String>, PathRejection>,
) -> Result<Period, ApiError> {
    let bad = |why: String| ApiError::new(StatusCode::BAD_REQUEST, "bad_period", why);
    let UrlPath(v) = p.map_err(|e| {
        bad(format!(
            "path segment period: {}",
            ledger_proto::convert::bounded(&e.body_text(), 120)
        ))
    })?;
    let period = Period::parse(&v).map_err(|e| {
        bad(format!(
            "path segment period: {}",
            ledger_proto::convert::bounded(&e.to_string(), 120)
        ))
    })?;
    let epoch = epoch_day(ctx);
    use chrono::Datelike as _;
    let first = Period::new(epoch.year() as u16, epoch.month() as u8);
    if first.is_some_and(|f| period < f) {
        return Err(bad(format!(
            "path segment period: {period} is before the ledger's epoch {epoch}"
        )));
    }
    Ok(period)
}

/// The report of a closed month as `report monthly --json` prints it.
fn month_report(s: &AppState, period: Period) -> Result<serde_json::Value, ApiError> {
    let mut r = reports::monthly(&s.store, period)?.json;
    let n = (s.unreconciled)(period).map_err(|e| {
        tracing::error!(error = %e, "counting unreconciled payments");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store",
            "the store could not be read (the server's log says why)",
        )
    })?;
    r["unreconciled_payments"] = n.into();
    Ok(r)
}

/// The month a report route asks for, once the caller's role may read
/// reports and the query is empty.
fn month_asked(
    s: &AppState,
    headers: &HeaderMap,
    period: Result<UrlPath<String>, PathRejection>,
    query: Option<&str>,
) -> Result<Period, ApiError> {
    s.authorize(headers, REPORT_ROLES)?;
    let period = path_period(&s.ctx, period)?;
    params(query, &[])?;
    Ok(period)
}

/// `GET /v1/reports/monthly/{period}`: the report, the 12 months to it
/// (each closed month's totals) and each partition's summary revision.
async fn monthly_report(
    State(s): State<Shared>,
    headers: HeaderMap,
    period: Result<UrlPath<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    counted(&s.clone(), "monthly", async move {
        let period = month_asked(&s, &headers, period, query.as_deref())?;
        let state = Arc::clone(&s);
        let body = blocking(move || {
            let report = month_report(&state, period)?;
            let months: Vec<serde_json::Value> = reports::twelve_months(&state.store, period)?
                .into_iter()
                .map(|(p, sum)| match sum {
                    None => serde_json::json!({"period": p.to_string(), "closed": false}),
                    Some(t) => {
                        let mut m = reports::totals_json(&t);
                        m.insert("period".into(), p.to_string().into());
                        m.insert("closed".into(), true.into());
                        serde_json::Value::Object(m)
                    }
                })
                .collect();
            let revisions: Vec<serde_json::Value> = reports::revisions(&state.store, period)?
                .into_iter()
                .map(|(p, r)| serde_json::json!({"partition": p, "revision": r}))
                .collect();
            Ok(serde_json::json!({
                "report": report,
                "months": months,
                "revisions": revisions,
            }))
        })
        .await?;
        Ok(Json(body).into_response())
    })
    .await
}

/// `GET /v1/reports/monthly/{period}/csv`: the report as `report monthly
/// --csv` writes it.
async fn monthly_csv(
    State(s): State<Shared>,
    headers: HeaderMap,
    period: Result<UrlPath<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    counted(&s.clone(), "monthly", async move {
        let period = month_asked(&s, &headers, period, query.as_deref())?;
        let state = Arc::clone(&s);
        let csv = blocking(move || Ok(reports::csv(&month_report(&state, period)?))).await?;
        let disposition = format!("attachment; filename=\"report-{period}.csv\"");
        Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            csv,
        )
            .into_response())
    })
    .await
}

async fn healthz(State(s): State<Shared>, RawQuery(query): RawQuery) -> Response {
    counted(&s.clone(), "healthz", async move {
        params(query.as_deref(), &[])?;
        // A store that answers is a healthy server.
        let state = Arc::clone(&s);
        blocking(move || Ok(state.store.meta().map_err(ViewError::Store)?)).await?;
        Ok(Json(serde_json::json!({"status": "ok"})).into_response())
    })
    .await
}

async fn metrics(
    State(s): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    counted(&s.clone(), "metrics", async move {
        s.authorize(&headers, &[Role::Operator])?;
        params(query.as_deref(), &[])?;
        let state = Arc::clone(&s);
        let states =
            blocking(move || Ok(state.store.partition_states().map_err(ViewError::Store)?)).await?;
        let mut out = String::from(
            "# HELP si_ledger_api_requests_total HTTP requests answered, by route and status.\n\
             # TYPE si_ledger_api_requests_total counter\n",
        );
        let m = s.metrics.lock().map_err(|_| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "metrics", "metrics lock")
        })?;
        for ((route, status), n) in &m.requests {
            out.push_str(&format!(
                "si_ledger_api_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}\n"
            ));
        }
        out.push_str(
            "# HELP si_ledger_api_request_seconds_total Time spent answering, by route.\n\
             # TYPE si_ledger_api_request_seconds_total counter\n",
        );
        let seconds: BTreeMap<_, _> = m.seconds.iter().collect();
        for (route, secs) in seconds {
            out.push_str(&format!(
                "si_ledger_api_request_seconds_total{{route=\"{route}\"}} {secs:.6}\n"
            ));
        }
        drop(m);
        out.push_str(
            "# HELP si_ledger_partition_next_offset Next log offset each partition reads.\n\
             # TYPE si_ledger_partition_next_offset gauge\n",
        );
        for p in states {
            out.push_str(&format!(
                "si_ledger_partition_next_offset{{partition=\"{}\"}} {}\n",
                p.partition, p.next_offset
            ));
        }
        Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
    })
    .await
}

async fn openapi(RawQuery(query): RawQuery) -> Response {
    match params(query.as_deref(), &[]) {
        Ok(_) => ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_route",
        "no such route: see /openapi.json",
    )
}

fn router(state: Shared) -> Router {
    use axum::routing::post;
    Router::new()
        .route("/v1/whoami", get(whoami))
        .route("/v1/accounts/statement", post(statement_post))
        .route("/v1/accounts/history", post(history_post))
        .route("/v1/accounts/verify", post(verify_post))
        .route("/v1/accounts/{iin}", get(account))
        .route("/v1/accounts/{iin}/history", get(history))
        .route("/v1/accounts/{iin}/verify", get(verify))
        .route("/v1/accounts/proof", post(proof_post))
        .route("/v1/checkpoints/vkeys", get(vkeys_get))
        .route("/v1/checkpoints/{partition}", get(checkpoint_get))
        .route(
            "/v1/checkpoints/{partition}/consistency",
            post(consistency_post),
        )
        .route("/v1/digest", get(digest))
        .route("/v1/access-log", get(access_log))
        .route("/v1/access-log/search", post(access_log_post))
        .route("/v1/reports/monthly", get(monthly_list))
        .route("/v1/reports/monthly/{period}", get(monthly_report))
        .route("/v1/reports/monthly/{period}/csv", get(monthly_csv))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .merge(crate::console::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(request_limits))
        .layer(axum::middleware::from_fn(no_store))
        .with_state(state)
}

/// Every answer, errors included: `nosniff`, and `Cache-Control: no-store`
/// unless the route set its own (the console's files): an answer may hold
/// personal data, and no cache or proxy may keep it.
async fn no_store(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut r = next.run(request).await;
    let h = r.headers_mut();
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    h.entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    r
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "not a method of this route: see /openapi.json",
    )
}

/// Longest request target (path and query) answered, in bytes.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most header bytes a request may carry (names and values). hyper itself
/// refuses far larger headers (about 400 KB) with an empty 431 before any
/// of this runs.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Most headers a request may carry.
pub const MAX_HEADERS: usize = 100;

/// 413 (by the declared length), 414 and 431 in the API's JSON error format.
async fn request_limits(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    // A body declared larger than any route takes is refused before a
    // byte of it is read.
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return too_large().into_response();
    }
    let uri = request.uri().to_string().len();
    if uri > MAX_URI_BYTES {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the request target is {uri} bytes, more than {MAX_URI_BYTES}"),
        )
        .into_response();
    }
    let headers: usize = request
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    if headers > MAX_HEADER_BYTES || request.headers().len() > MAX_HEADERS {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!(
                "{} headers of {headers} bytes: at most {MAX_HEADERS} and {MAX_HEADER_BYTES} bytes",
                request.headers().len()
            ),
        )
        .into_response();
    }
    next.run(request).await
}

/// What a server needs besides the store.
pub struct Config {
    pub listen: SocketAddr,
    pub tokens: Tokens,
    /// The access log file (created if missing).
    pub access_log: std::path::PathBuf,
    pub held: Held,
    /// This server as one of several instances of one ledger: reads of a
    /// partition it does not hold are forwarded.
    pub instances: Option<crate::instances::Instances>,
    pub unreconciled: Unreconciled,
    pub limits: Limits,
}

/// What one client may hold of the server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long a connection may take to send a request's header. On a
    /// keep-alive connection the wait for the next request counts too, so
    /// this is also the idle timeout: a slow or idle client is cut off.
    pub header_read_timeout: std::time::Duration,
    /// Connections served at once; more wait in the listen backlog. Keep it
    /// under the process's file limit (`LimitNOFILE`).
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: std::time::Duration::from_secs(10),
            max_connections: 1024,
        }
    }
}

/// A running server: its own thread and tokio runtime.
pub struct Server {
    addr: SocketAddr,
    /// The access log's length and head when the server opened it.
    access_opened: (u64, String),
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Set when the server's thread has ended, for whatever reason.
    ended: Arc<std::sync::atomic::AtomicBool>,
}

/// Sets its flag when dropped: when the server thread ends, by returning
/// or by a panic.
struct EndGuard(Arc<std::sync::atomic::AtomicBool>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Accepts connections until `stopped`, each served by hyper's HTTP/1 with
/// `limits`; then lets the connections finish their requests. An accept
/// error (EMFILE when the process is out of file descriptors, a client
/// gone before its accept) is logged and retried after a pause, never the
/// end of the server.
async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: Limits,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let (closing, closing_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            p = Arc::clone(&permits).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut stopped => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut stopped => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(
            app.clone().layer(Extension(ClientAddr(peer))),
        );
        let mut closing = closing_rx.clone();
        connections.spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                // hyper's own limit (100) would answer more with an empty
                // 431; `request_limits` answers in JSON instead.
                .max_headers(MAX_HEADERS * 4)
                .keep_alive(true);
            // A client that stops reading its answers is cut off after the
            // same time as one that stops sending its request.
            let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
            stream.set_write_timeout(Some(limits.header_read_timeout));
            let conn =
                builder.serve_connection(hyper_util::rt::TokioIo::new(Box::pin(stream)), service);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "connection ended");
                    }
                }
                _ = closing.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(permit);
        });
        // Reap finished connections as we go.
        while connections.try_join_next().is_some() {}
    }
    let _ = closing.send(true);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(std::time::Duration::from_secs(10), drain)
        .await
        .is_err()
    {
        tracing::warn!("connections still open after 10 s of shutdown: dropped");
    }
}

impl Server {
    /// Binds `config.listen` (port 0 picks one) and serves until [`Server::stop`].
    pub fn start(
        store: LedgerStore<DiskKv>,
        ctx: Context,
        config: Config,
    ) -> std::io::Result<Server> {
        let listener = std::net::TcpListener::bind(config.listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let access = AccessLog::open(&config.access_log)?;
        let access_opened = access.opened().clone();
        let state = Arc::new(AppState {
            refused: Refusals::default(),
            store,
            ctx,
            tokens: config.tokens,
            access,
            held: config.held,
            instances: config.instances.map(|i| (i, crate::instances::client())),
            unreconciled: config.unreconciled,
            body_timeout: config.limits.header_read_timeout,
            metrics: Mutex::new(Metrics::default()),
        });
        // Timers on: hyper's header-read timeout and the accept back-off
        // need them (without, a failed accept panicked the server thread).
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("ledger-api")
            .enable_all()
            .build()?;
        let limits = config.limits;
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let ended = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let guard = EndGuard(Arc::clone(&ended));
        let thread = std::thread::Builder::new()
            .name("ledger-api".into())
            .spawn(move || {
                let _guard = guard;
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!(error = %e, "API listener");
                            return;
                        }
                    };
                    let served = serve(listener, router(state), limits, stopped);
                    // Fault injection for the tests of what a process does
                    // when its server ends on its own (debug builds only).
                    #[cfg(debug_assertions)]
                    if let Some(ms) = std::env::var("SI_LEDGER_FAULT_API_END_MS")
                        .ok()
                        .and_then(|v| v.parse::<u64>().ok())
                    {
                        tokio::select! {
                            _ = served => {}
                            _ = tokio::time::sleep(std::time::Duration::from_millis(ms)) => {
                                tracing::error!("fault injected: the API server ends");
                            }
                        }
                        return;
                    }
                    served.await;
                })
            })?;
        Ok(Server {
            addr,
            access_opened,
            shutdown: Some(shutdown),
            thread: Some(thread),
            ended,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The access log's length in bytes and head (hex) when the server
    /// opened it: note it; records later removed from the end show only
    /// against it (`si-ledger access-log --verify` prints the head now).
    pub fn access_log_opened(&self) -> &(u64, String) {
        &self.access_opened
    }

    /// The flag [`Server::ended`] reads, for a watcher thread: set when
    /// the server thread has ended.
    pub fn ended_flag(&self) -> Arc<std::sync::atomic::AtomicBool> {
        Arc::clone(&self.ended)
    }

    /// Whether the server has ended without being asked to: its process
    /// should then exit non-zero, so that a supervisor restarts it.
    pub fn ended(&self) -> bool {
        self.shutdown.is_some() && self.ended.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Stops accepting, lets requests in flight finish, and returns.
    pub fn stop(mut self) {
        self.shutdown_now();
    }

    fn shutdown_now(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown_now();
    }
}

/// The default access log of a data directory.
pub fn default_access_log(data: &Path) -> std::path::PathBuf {
    data.join("access-log.jsonl")
}
