//! What the cluster's authorizer refused, said in one line: the principal,
//! Kafka's ACL operation and resource, and where the fix is.

use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode as C;

/// The resource an operation needed (Kafka's ACL resource types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    Topic(&'a str),
    Group(&'a str),
    Cluster,
    TransactionalId(&'a str),
}

impl std::fmt::Display for Resource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Resource::Topic(t) => write!(f, "topic {t}"),
            Resource::Group(g) => write!(f, "group {g}"),
            Resource::Cluster => write!(f, "the cluster"),
            Resource::TransactionalId(t) => write!(f, "transactional id {t}"),
        }
    }
}

/// Whether `code` is one of Kafka's authorization failures, and on which
/// kind of resource ("topic", "group", "cluster", "transactional id").
pub fn authorization_failure(code: C) -> Option<&'static str> {
    match code {
        C::TopicAuthorizationFailed => Some("topic"),
        C::GroupAuthorizationFailed => Some("group"),
        C::ClusterAuthorizationFailed => Some("cluster"),
        C::TransactionalIdAuthorizationFailed => Some("transactional id"),
        _ => None,
    }
}

/// The one line for an operation the authorizer refused: "Kafka refused
/// User:bank-42 READ on topic si-ledger (TopicAuthorizationFailed): an
/// operator grants it with an ACL (deploy/kafka-acls.sh, docs/kafka.md
/// "ACLs")". `principal` as [`crate::Cluster::principal`] names it.
pub fn refused(principal: &str, operation: &str, resource: Resource<'_>, code: C) -> String {
    format!(
        "Kafka refused {principal} {operation} on {resource} ({code:?}): an operator grants it \
         with an ACL (deploy/kafka-acls.sh, docs/kafka.md \"ACLs\")"
    )
}

/// The principal a client with `config` authenticates as, as Kafka's ACLs
/// name it: `User:<sasl.username>`, or "this client (no SASL user)"
/// (TLS client certificates and Kerberos name principals otherwise).
pub fn principal_of(config: &rdkafka::ClientConfig) -> String {
    config
        .get("sasl.username")
        .map(|u| format!("User:{u}"))
        .unwrap_or_else(|| "this client (no SASL user)".to_string())
}

/// The authorization failure `e` stands for, if it is one: its error code.
pub fn failure_of(e: &KafkaError) -> Option<C> {
    e.rdkafka_error_code()
        .filter(|c| authorization_failure(*c).is_some())
}
