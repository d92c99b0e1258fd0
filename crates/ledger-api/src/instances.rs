//! Several instances as one ledger. Each instance reads its store only for
//! the partitions its projector owns and has caught up on; a read of any
//! other participant is forwarded to the instance that owns that
//! participant's partition, with this instance's own token and the
//! caller's identity in [`FORWARDED_FOR`]. The owner checks the caller's
//! role again, reads, and records the read in its access log: a read is
//! recorded once, where the data was read. A partition no instance is
//! ready to serve (a rebalance, a catch-up after one) is answered
//! `503 Service Unavailable` with `Retry-After`, never a 404.
//!
//! Who owns what is learned elsewhere (the projector's consumer group and
//! its `<topic>.members` topic): this module only asks [`Instances::owner`].

use crate::auth::Role;
use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderName, Method, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use http_body_util::{BodyExt as _, Full, Limited};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The caller a forwarded request is made for: base64url (no padding) of
/// the JSON `{"name": …, "role": …, "client": "ip:port", "instance":
/// "<the forwarding instance's URL>"}`. Taken only from a caller whose
/// token has role `instance`.
pub const FORWARDED_FOR: HeaderName = HeaderName::from_static("si-ledger-forwarded-for");
/// The instance that read the data (its advertised URL), on account reads
/// of a server that is one of several.
pub const INSTANCE: HeaderName = HeaderName::from_static("si-ledger-instance");
/// The partition of the participant an account read was about.
pub const PARTITION: HeaderName = HeaderName::from_static("si-ledger-partition");
/// `Retry-After` (seconds) of a 503 for a partition no instance serves yet.
pub const RETRY_AFTER_SECS: u32 = 1;
/// Most bytes of an owner's answer passed on (a proof of a long history is
/// the largest).
pub const MAX_FORWARDED_BYTES: usize = 64 * 1024 * 1024;

/// The base URL of the instance that serves partition `p` now and has
/// caught up on it, if one has said so.
pub type Owner = Arc<dyn Fn(u32) -> Option<String> + Send + Sync>;

/// This server as one of several instances of one ledger.
#[derive(Clone)]
pub struct Instances {
    /// This instance's advertised base URL (`http://host:port`), as the
    /// others reach it and as answers name it.
    pub me: String,
    /// The bearer token this instance forwards with: role `instance` in
    /// the other instances' auth files.
    pub token: String,
    /// Who serves a partition now.
    pub owner: Owner,
    /// How long a forwarded read may take, answer included, before it is
    /// answered 503.
    pub timeout: Duration,
}

impl std::fmt::Debug for Instances {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instances")
            .field("me", &self.me)
            .field("token", &"(secret)")
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Whom a forwarded read is for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnBehalf {
    pub name: String,
    pub role: Role,
    pub client: SocketAddr,
    /// The forwarding instance's advertised URL: with its token's name,
    /// the access record's `via` (instances may share one token).
    pub instance: String,
}

impl OnBehalf {
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("a plain struct serializes");
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    pub fn decode(text: &str) -> Option<OnBehalf> {
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        let o: OnBehalf = serde_json::from_slice(&json).ok()?;
        forwardable(&o.instance).then_some(o)
    }
}

pub(crate) type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

pub(crate) fn client() -> Client {
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_connect_timeout(Some(Duration::from_secs(2)));
    connector.set_nodelay(true);
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(5))
        .build(connector)
}

/// One read to pass on.
pub(crate) struct Forward<'a> {
    pub method: &'a Method,
    /// The request's path and query, as the client sent them.
    pub target: &'a str,
    /// A POST's JSON body.
    pub body: Option<Bytes>,
    pub on_behalf: OnBehalf,
}

/// Whether `url` is one this server forwards to: `http://` and a host.
/// Instances advertise themselves on a topic; anything else there is
/// ignored.
pub fn forwardable(url: &str) -> bool {
    url.strip_prefix("http://")
        .is_some_and(|rest| !rest.is_empty() && !rest.contains(['/', '?', '#', '@', ' ']))
}

/// Sends `f` to the instance at `url` and gives back its answer (status,
/// body, and the headers that matter to a client), or why it could not:
/// no connection, no answer within `instances.timeout`, or the owner
/// refusing this instance's own token.
pub(crate) async fn forward(
    client: &Client,
    instances: &Instances,
    url: &str,
    f: Forward<'_>,
) -> Result<Response, String> {
    if !forwardable(url) {
        return Err(format!("{url} is not an http:// address"));
    }
    let mut request = axum::http::Request::builder()
        .method(f.method.clone())
        .uri(format!("{url}{}", f.target))
        .header(header::AUTHORIZATION, format!("Bearer {}", instances.token))
        .header(FORWARDED_FOR, f.on_behalf.encode());
    if f.body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let request = request
        .body(Full::new(f.body.unwrap_or_default()))
        .map_err(|e| format!("building the request: {e}"))?;
    let exchange = async {
        let answer = client
            .request(request)
            .await
            .map_err(|e| format!("{url}: {}", chain(&e)))?;
        let (parts, body) = answer.into_parts();
        let bytes = Limited::new(body, MAX_FORWARDED_BYTES)
            .collect()
            .await
            .map_err(|e| format!("{url}: reading its answer: {e}"))?
            .to_bytes();
        Ok::<_, String>((parts, bytes))
    };
    let (parts, bytes) = tokio::time::timeout(instances.timeout, exchange)
        .await
        .map_err(|_| format!("{url} did not answer within {:?}", instances.timeout))??;
    if parts.status == StatusCode::UNAUTHORIZED || parts.status == StatusCode::FORBIDDEN {
        // The caller was checked here; a refusal there is of this
        // instance's token (or of forwarding): not the caller's to fix.
        let said = String::from_utf8_lossy(&bytes).into_owned();
        if parts.headers.get(INSTANCE).is_none() {
            return Err(format!(
                "{url} refused this instance's token ({}): give every instance a token of \
                 role instance in the others' auth files; it said {said}",
                parts.status
            ));
        }
    }
    let mut out = Response::new(axum::body::Body::from(bytes));
    *out.status_mut() = parts.status;
    copy_headers(&parts.headers, out.headers_mut());
    Ok(out)
}

/// An error and its causes, `: `-separated (hyper's own says only
/// "client error (Connect)").
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// The headers of an owner's answer a client sees.
fn copy_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for name in [
        header::CONTENT_TYPE,
        header::RETRY_AFTER,
        header::CACHE_CONTROL,
        INSTANCE,
        PARTITION,
    ] {
        if let Some(v) = from.get(&name) {
            to.insert(name, v.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_behalf_round_trips_and_refuses_anything_else() {
        let o = OnBehalf {
            name: "audit-office".into(),
            role: Role::Auditor,
            client: "10.0.0.7:51234".parse().unwrap(),
            instance: "http://10.0.0.5:8080".into(),
        };
        assert_eq!(OnBehalf::decode(&o.encode()), Some(o));
        assert_eq!(OnBehalf::decode("not base64 at all!"), None);
        let b64 = |json: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
        for bad in [
            &br#"{"name":"a","role":"auditor","client":"1.2.3.4:5","instance":"http://i:1","admin":true}"#[..],
            br#"{"name":"a","role":"root","client":"1.2.3.4:5","instance":"http://i:1"}"#,
            br#"{"name":"a","role":"auditor","client":"1.2.3.4:5"}"#,
            br#"{"name":"a","role":"auditor","client":"1.2.3.4:5","instance":"http://i/\nx"}"#,
        ] {
            assert_eq!(OnBehalf::decode(&b64(bad)), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn only_plain_http_base_urls_are_forwarded_to() {
        assert!(forwardable("http://127.0.0.1:8081"));
        assert!(forwardable("http://ledger-1.ledger:8080"));
        for bad in [
            "https://127.0.0.1:8081",
            "http://",
            "http://a/b",
            "http://user@host:1",
            "127.0.0.1:8081",
            "http://a?b",
        ] {
            assert!(!forwardable(bad), "{bad}");
        }
    }
}
