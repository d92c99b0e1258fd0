//! The cluster every Kafka client of the ledger talks to: bootstrap
//! brokers plus a deployment's client settings (TLS, SASL, timeouts,
//! compression), given as librdkafka properties.
//!
//! Settings come from a Java-style properties file (the convention of
//! Kafka's own `--command-config`: `key=value` lines, `#` comments) and
//! from `-X key=value` pairs (librdkafka's own tools' flag), later ones
//! winning. They are applied to every client the ledger makes; then each
//! client sets what it depends on. A setting that would break what the
//! ledger depends on is refused up front with the reason ([`REQUIRED`]),
//! and so is a secret given on the command line. Secrets never reach a
//! log or an error ([`is_secret`], [`Cluster::describe`]).

use rdkafka::consumer::BaseConsumer;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, DeliveryResult, Producer as _, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, ClientContext};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Settings the ledger depends on: (key, the values it accepts, why).
/// Any other value is refused.
pub const REQUIRED: &[(&str, &[&str], &str)] = &[
    (
        "enable.idempotence",
        &["true"],
        "the ledger's producers must write each record once, in order (idempotent producer)",
    ),
    (
        "acks",
        &["all", "-1"],
        "a record is published only once every in-sync replica has it",
    ),
    (
        "partitioner",
        &["murmur2_random", "murmur2"],
        "records are placed by murmur2 of the IIN, as Java clients place them; the projector \
         checks each record's partition",
    ),
    (
        "isolation.level",
        &["read_committed"],
        "records of aborted transactions must never reach an account",
    ),
    (
        "enable.auto.commit",
        &["false"],
        "the projector's store holds its offsets; Kafka's are committed only after a batch is \
         durable",
    ),
    (
        "enable.auto.offset.store",
        &["false"],
        "offsets are stored only after a batch is durable",
    ),
    (
        "auto.offset.reset",
        &["earliest"],
        "a partition without state is rebuilt from the start of the log",
    ),
    (
        "partition.assignment.strategy",
        &["range", "roundrobin"],
        "the projector positions every partition it is assigned at once (eager assignment)",
    ),
    (
        "enable.partition.eof",
        &["false"],
        "the ledger reads a partition's end from its offsets",
    ),
    (
        "queuing.strategy",
        &["fifo"],
        "records of one participant are published in order",
    ),
];

/// Keys given by their own flag, never as a setting.
const OWN_FLAGS: &[(&str, &str)] = &[
    ("bootstrap.servers", "--brokers"),
    ("metadata.broker.list", "--brokers"),
    ("group.id", "--group"),
    (
        "transactional.id",
        "nothing: the ledger's own producers are idempotent, not transactional",
    ),
];

/// Java-client keys with no librdkafka meaning, and what to give instead.
const JAVA_ONLY: &[(&str, &str)] = &[
    (
        "ssl.truststore.location",
        "ssl.ca.location (librdkafka reads the CA certificates as PEM)",
    ),
    (
        "ssl.truststore.password",
        "ssl.ca.location (PEM, no password)",
    ),
    ("ssl.truststore.type", "ssl.ca.location (PEM)"),
    (
        "ssl.keystore.type",
        "ssl.keystore.location (PKCS#12) or ssl.certificate.location with ssl.key.location",
    ),
    ("key.serializer", "nothing: the ledger writes its own bytes"),
    (
        "value.serializer",
        "nothing: the ledger writes its own bytes",
    ),
    (
        "key.deserializer",
        "nothing: the ledger reads its own bytes",
    ),
    (
        "value.deserializer",
        "nothing: the ledger reads its own bytes",
    ),
];

/// Whether the value of `key` is secret: never in argv, logs or errors.
///
/// librdkafka's own sensitive properties (`_RK_SENSITIVE` in
/// `rdkafka_conf.c`), and any key naming a password, secret or passphrase,
/// a PEM text, or Java's JAAS line, under any alias or `topic.` prefix.
pub fn is_secret(key: &str) -> bool {
    const SENSITIVE: &[&str] = &[
        "ssl.key.location",
        "ssl.key.password",
        "ssl.key.pem",
        "ssl_key",
        "ssl.ca.pem",
        "ssl.keystore.password",
        "sasl.username",
        "sasl.password",
        "sasl.oauthbearer.config",
        "sasl.oauthbearer.client.secret",
        "sasl.oauthbearer.assertion.private.key.file",
        "sasl.oauthbearer.assertion.private.key.pem",
        "sasl.jaas.config",
    ];
    let k = canonical(&key.to_ascii_lowercase());
    SENSITIVE.contains(&k.as_str())
        || ["password", "secret", "passphrase", "jaas", "credential"]
            .iter()
            .any(|w| k.contains(w))
        || k.ends_with(".pem")
}

/// The name a setting is checked and kept under: librdkafka's aliases
/// (CONFIGURATION.md) and its `topic.` prefix for topic settings mapped to
/// one spelling, so that no other spelling gets around [`REQUIRED`] or
/// the ledger's defaults.
pub fn canonical(key: &str) -> String {
    const ALIASES: &[(&str, &str)] = &[
        ("metadata.broker.list", "bootstrap.servers"),
        ("max.in.flight.requests.per.connection", "max.in.flight"),
        ("sasl.mechanisms", "sasl.mechanism"),
        (
            "sasl.oauthbearer.client.id",
            "sasl.oauthbearer.client.credentials.client.id",
        ),
        (
            "sasl.oauthbearer.client.secret",
            "sasl.oauthbearer.client.credentials.client.secret",
        ),
        ("fetch.message.max.bytes", "max.partition.fetch.bytes"),
        ("queue.buffering.max.ms", "linger.ms"),
        ("message.send.max.retries", "retries"),
        ("compression.codec", "compression.type"),
        ("request.required.acks", "acks"),
        ("message.timeout.ms", "delivery.timeout.ms"),
        ("auto.commit.enable", "enable.auto.commit"),
    ];
    let named = |key: &str| -> String {
        ALIASES
            .iter()
            .find(|(alias, _)| *alias == key)
            .map_or(key, |(_, name)| name)
            .to_string()
    };
    let key = key.trim();
    // Global settings may start with "topic." too
    // (`topic.metadata.refresh.interval.ms`): the prefix is dropped only
    // from the topic settings the ledger guards or defaults.
    match key.strip_prefix("topic.").map(named) {
        Some(topic)
            if REQUIRED.iter().any(|(k, _, _)| *k == topic)
                || [
                    "compression.type",
                    "compression.level",
                    "delivery.timeout.ms",
                ]
                .contains(&topic.as_str()) =>
        {
            topic
        }
        _ => named(key),
    }
}

/// Why client settings are not taken.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading the Kafka client settings {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("-X: an argument is not key=value (not shown: it may hold a secret)")]
    NotAPair,
    #[error(
        "-X {0}: a secret on the command line is visible to every user of the machine (ps, \
         /proc); put it in the --kafka-config file (or the file SI_LEDGER_KAFKA_CONFIG names)"
    )]
    SecretInArgv(String),
    #[error("Kafka setting {key}={value} is refused: {why}")]
    Refused {
        key: String,
        value: String,
        why: String,
    },
    #[error("Kafka setting {key}: {why}")]
    Invalid { key: String, why: String },
    #[error("cannot use the Kafka cluster at {brokers}: {reason}")]
    Connect { brokers: String, reason: String },
}

/// Errors librdkafka reports while a client connects; it retries each
/// itself, so without this a wrong password would look like a hang.
#[derive(Default)]
struct Probe(Mutex<Vec<(RDKafkaErrorCode, String)>>);

impl ProducerContext for Probe {
    type DeliveryOpaque = ();
    fn delivery(&self, _: &DeliveryResult<'_>, _: ()) {}
}

impl ClientContext for Probe {
    fn error(&self, error: KafkaError, reason: &str) {
        if let (Some(code), Ok(mut seen)) = (error.rdkafka_error_code(), self.0.lock()) {
            seen.push((code, reason.to_string()));
        }
    }

    /// A connection's failure is logged (`FAIL`) each time, while the error
    /// event for it may be suppressed as a repeat: both are read. The
    /// check reports the reason itself, so nothing is logged twice.
    fn log(&self, _level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        if fac == "FAIL" {
            if let Ok(mut seen) = self.0.lock() {
                seen.push((
                    RDKafkaErrorCode::BrokerTransportFailure,
                    message.to_string(),
                ));
            }
        }
    }
}

/// Bootstrap brokers and the deployment's client settings.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    brokers: String,
    /// In the order given; a later value of a key replaces an earlier one.
    settings: Vec<(String, String)>,
}

impl Cluster {
    /// A plaintext, unauthenticated cluster at `brokers`
    /// (`host:port[,host:port…]`).
    pub fn new(brokers: &str) -> Cluster {
        Cluster {
            brokers: brokers.to_string(),
            settings: Vec::new(),
        }
    }

    /// `brokers` with the settings of the properties `file` and then the
    /// `-X key=value` pairs `overrides`: each checked against what the
    /// ledger depends on and against librdkafka's own list of properties.
    pub fn configured(
        brokers: &str,
        file: Option<&Path>,
        overrides: &[String],
    ) -> Result<Cluster, ConfigError> {
        let mut c = Cluster::new(brokers);
        if let Some(path) = file {
            for (k, v) in read_properties(path)? {
                c.set(&k, &v)?;
            }
        }
        for pair in overrides {
            let (k, v) = pair.split_once('=').ok_or(ConfigError::NotAPair)?;
            let k = k.trim();
            if is_secret(k) {
                return Err(ConfigError::SecretInArgv(k.to_string()));
            }
            c.set(k, v.trim())?;
        }
        c.check_with_librdkafka()?;
        Ok(c)
    }

    /// Adds one setting after the checks of [`Cluster::configured`] that
    /// need no librdkafka (which [`Cluster::configured`] runs at the end).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let given = key.trim();
        let key = &canonical(given);
        let value = value.trim();
        // Errors name the setting as given, and the name it stands for.
        let named = if given == key {
            key.to_string()
        } else {
            format!("{given} ({key})")
        };
        if key == "sasl.jaas.config" {
            // The Java client's one-line credentials: take the username and
            // password from a PLAIN or SCRAM login module.
            let (user, password) = jaas_credentials(value)?;
            self.put("sasl.username", &user);
            self.put("sasl.password", &password);
            return Ok(());
        }
        if let Some((_, flag)) = OWN_FLAGS.iter().find(|(k, _)| *k == key) {
            return Err(ConfigError::Invalid {
                key: key.to_string(),
                why: format!("give it with {flag}"),
            });
        }
        if let Some((_, instead)) = JAVA_ONLY.iter().find(|(k, _)| *k == key) {
            return Err(ConfigError::Invalid {
                key: key.to_string(),
                why: format!("a Java client's setting; give {instead}"),
            });
        }
        if let Some((_, ok, why)) = REQUIRED.iter().find(|(k, _, _)| *k == key) {
            if !ok.contains(&value.to_ascii_lowercase().as_str()) {
                return Err(ConfigError::Refused {
                    key: named,
                    value: value.to_string(),
                    why: format!("{why} (accepted: {})", ok.join(", ")),
                });
            }
        }
        self.put(key, value);
        Ok(())
    }

    fn put(&mut self, key: &str, value: &str) {
        self.settings.retain(|(k, _)| k != key);
        self.settings.push((key.to_string(), value.to_string()));
    }

    /// librdkafka's own check of every key and value, and of their
    /// combination (a client is made and dropped before it has sent
    /// anything that matters).
    fn check_with_librdkafka(&self) -> Result<(), ConfigError> {
        self.client_config()
            .create::<BaseConsumer>()
            .map(drop)
            .map_err(|e| self.scrubbed(config_error(&e)))?;
        // A producer as the ledger's publishers are made: settings that
        // conflict with an idempotent producer are refused now too.
        let mut producer = self.client_config();
        producer
            .set("enable.idempotence", "true")
            .set("acks", "all");
        producer
            .create::<BaseProducer>()
            .map(drop)
            .map_err(|e| self.scrubbed(config_error(&e)))
    }

    /// `e` with every secret value of these settings replaced by `***`
    /// (librdkafka may quote part of a value it could not parse).
    fn scrubbed(&self, e: ConfigError) -> ConfigError {
        match e {
            ConfigError::Invalid { key, why } => ConfigError::Invalid {
                key,
                why: self.scrub(&why),
            },
            ConfigError::Connect { brokers, reason } => ConfigError::Connect {
                brokers,
                reason: self.scrub(&reason),
            },
            other => other,
        }
    }

    fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (k, v) in &self.settings {
            if is_secret(k) && v.len() >= 4 {
                out = out.replace(v.as_str(), "***");
                // A quoted tail of the value ("… beginning at: <rest>").
                for (i, _) in v.char_indices().skip(1) {
                    let tail = &v[i..];
                    if tail.len() >= 8 && out.contains(tail) {
                        out = out.replace(tail, "***");
                        break;
                    }
                }
            }
        }
        out
    }

    pub fn brokers(&self) -> &str {
        &self.brokers
    }

    /// Connects once and reads the cluster's metadata, so that a command
    /// fails within seconds, with the reason, when the cluster cannot be
    /// used: a wrong password (SASL authentication), a certificate not
    /// trusted (TLS), or no broker answering within `within`.
    pub fn check(&self, within: Duration) -> Result<(), ConfigError> {
        let fail = |reason: String| ConfigError::Connect {
            brokers: self.brokers.clone(),
            reason,
        };
        // A producer's poll serves librdkafka's main queue, where the
        // error events arrive.
        let client: BaseProducer<Probe> = self
            .client_config()
            .create_with_context(Probe::default())
            .map_err(|e| config_error(&e))?;
        let deadline = Instant::now() + within;
        loop {
            let answer = client
                .client()
                .fetch_metadata(None, Duration::from_millis(500));
            client.poll(Duration::ZERO);
            let seen: Vec<(RDKafkaErrorCode, String)> = client
                .context()
                .0
                .lock()
                .map(|s| s.clone())
                .unwrap_or_default();
            // Authentication and TLS failures do not get better by waiting.
            // librdkafka reports a failed TLS handshake as a transport error,
            // so its text says which it was.
            let decisive = seen.iter().find_map(|(code, reason)| {
                let tls = *code == RDKafkaErrorCode::SSL
                    || reason.contains("SSL handshake failed")
                    || reason.contains("certificate verify failed");
                let sasl = *code == RDKafkaErrorCode::Authentication
                    || reason.contains("SASL authentication error");
                match (tls, sasl) {
                    (true, _) => Some(("TLS", reason)),
                    (_, true) => Some(("SASL authentication", reason)),
                    _ => None,
                }
            });
            if let Some((what, reason)) = decisive {
                return Err(self.scrubbed(fail(format!("{what} failed: {reason}"))));
            }
            match answer {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() >= deadline => {
                    let last = seen.last().map(|(_, r)| r.as_str()).unwrap_or("");
                    return Err(
                        self.scrubbed(fail(format!("no answer within {within:?}: {e} {last}")))
                    );
                }
                Err(_) => {}
            }
        }
    }

    /// The value given for `key`, if any.
    pub fn setting(&self, key: &str) -> Option<&str> {
        let key = canonical(key);
        self.settings
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The settings, secrets shown as `***`, for logs.
    pub fn describe(&self) -> String {
        let shown: Vec<String> = self
            .settings
            .iter()
            .map(|(k, v)| format!("{k}={}", if is_secret(k) { "***" } else { v }))
            .collect();
        format!("brokers {} [{}]", self.brokers, shown.join(", "))
    }

    /// The configuration every client starts from: the brokers, the
    /// ledger's client id and log level, then the deployment's settings.
    /// The principal this client authenticates as ([`crate::principal_of`]).
    pub fn principal(&self) -> String {
        crate::principal_of(&self.client_config())
    }

    pub fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers)
            .set("client.id", "si-ledger")
            // librdkafka logs through its own logger; keep it to errors.
            .set("log_level", "3");
        for (k, v) in &self.settings {
            c.set(k, v);
        }
        c
    }

    /// Sets `key` to the ledger's `value` unless the deployment gave one.
    pub fn default_to(config: &mut ClientConfig, key: &str, value: &str) {
        if config.get(key).is_none() {
            config.set(key, value);
        }
    }
}

/// A librdkafka error about a setting, with a secret's value left out.
pub fn config_error(e: &KafkaError) -> ConfigError {
    match e {
        KafkaError::ClientConfig(_, desc, key, value) => ConfigError::Invalid {
            key: key.clone(),
            // A value is shown only where it cannot be a credential.
            why: if is_secret(key) || key.starts_with("sasl") || key.starts_with("ssl") {
                desc.clone()
            } else {
                format!("{desc} (value {value:?})")
            },
        },
        KafkaError::ClientCreation(why) => ConfigError::Invalid {
            key: "(the settings together)".into(),
            why: why.clone(),
        },
        other => ConfigError::Invalid {
            key: String::new(),
            why: other.to_string(),
        },
    }
}

/// The `key=value` pairs of a Java properties file, in order.
fn read_properties(path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let bad = |reason: String| ConfigError::File {
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::new();
    java_properties::PropertiesIter::new(std::io::BufReader::new(file))
        .read_into(|k, v| out.push((k, v)))
        // The parser's message names the line; never the value.
        .map_err(|e| {
            bad(format!(
                "line {}: not a properties line",
                e.line_number().unwrap_or(0)
            ))
        })?;
    Ok(out)
}

/// The username and password of a Java `sasl.jaas.config` for a PLAIN or
/// SCRAM login module.
fn jaas_credentials(value: &str) -> Result<(String, String), ConfigError> {
    let invalid = |why: &str| ConfigError::Invalid {
        key: "sasl.jaas.config".into(),
        why: why.to_string(),
    };
    if !(value.contains("PlainLoginModule") || value.contains("ScramLoginModule")) {
        return Err(invalid(
            "only PLAIN and SCRAM login modules are translated; give sasl.mechanism, \
             sasl.username and sasl.password (or sasl.oauthbearer.*) instead",
        ));
    }
    let field = |name: &str| -> Option<String> {
        let at = value.find(&format!("{name}=\""))? + name.len() + 2;
        let rest = &value[at..];
        let end = rest.find('"')?;
        Some(rest[..end].to_string())
    };
    match (field("username"), field("password")) {
        (Some(u), Some(p)) => Ok((u, p)),
        _ => Err(invalid("has no username=\"…\" and password=\"…\"")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn a_properties_file_then_x_pairs_later_winning() {
        let f = props(
            "# the processor's client.properties\n\
             security.protocol=SASL_SSL\n\
             sasl.mechanism = SCRAM-SHA-512\n\
             sasl.username=ledger\n\
             sasl.password=s3cret\n\
             compression.type=gzip\n",
        );
        let c = Cluster::configured(
            "127.0.0.1:1",
            Some(f.path()),
            &["compression.type=lz4".into()],
        )
        .unwrap();
        assert_eq!(c.setting("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(c.setting("compression.type"), Some("lz4"));
        let shown = c.describe();
        assert!(shown.contains("sasl.password=***"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn a_breaking_value_is_refused_with_the_reason() {
        for pair in [
            "enable.idempotence=false",
            "acks=1",
            "isolation.level=read_uncommitted",
            "enable.auto.commit=true",
            "partitioner=consistent_random",
            "partition.assignment.strategy=cooperative-sticky",
        ] {
            let e = Cluster::configured("b:1", None, &[pair.into()]).unwrap_err();
            assert!(matches!(e, ConfigError::Refused { .. }), "{pair}: {e}");
            assert!(e.to_string().contains("accepted:"), "{e}");
        }
        let e = Cluster::configured("b:1", None, &["group.id=x".into()]).unwrap_err();
        assert!(e.to_string().contains("--group"), "{e}");
        let e = Cluster::configured("b:1", None, &["ssl.truststore.location=x.jks".into()])
            .unwrap_err();
        assert!(e.to_string().contains("ssl.ca.location"), "{e}");
    }

    #[test]
    fn aliases_and_the_topic_prefix_do_not_get_around_the_refusals() {
        for pair in [
            "topic.partitioner=consistent_random",
            "topic.auto.offset.reset=latest",
            "request.required.acks=1",
            "topic.acks=0",
            "auto.commit.enable=true",
            "queuing.strategy=lifo",
        ] {
            let e = Cluster::configured("b:1", None, &[pair.into()]).unwrap_err();
            assert!(matches!(e, ConfigError::Refused { .. }), "{pair}: {e}");
        }
        // The codec under its other name is the one the ledger's default yields to.
        let c = Cluster::configured("b:1", None, &["compression.codec=lz4".into()]).unwrap();
        let mut config = c.client_config();
        Cluster::default_to(&mut config, "compression.type", "zstd");
        assert_eq!(config.get("compression.type"), Some("lz4"));
        // A global setting that starts with "topic." keeps its name.
        let c = Cluster::configured(
            "b:1",
            None,
            &["topic.metadata.refresh.interval.ms=1000".into()],
        )
        .unwrap();
        assert_eq!(
            c.setting("topic.metadata.refresh.interval.ms"),
            Some("1000")
        );
    }

    #[test]
    fn librdkafkas_sensitive_settings_are_secrets_under_every_spelling() {
        for key in [
            "sasl.password",
            "topic.sasl.password",
            "ssl.key.location",
            "ssl.ca.pem",
            "sasl.oauthbearer.assertion.private.key.passphrase",
            "sasl.oauthbearer.client.secret",
            "sasl.oauthbearer.client.credentials.client.secret",
            "sasl.jaas.config",
            "sasl.username",
        ] {
            assert!(is_secret(key), "{key}");
            let e = Cluster::configured("b:1", None, &[format!("{key}=hunter22")]).unwrap_err();
            assert!(!e.to_string().contains("hunter22"), "{key}: {e}");
        }
        let e = Cluster::configured("b:1", None, &["sasl.password:hunter22".into()]).unwrap_err();
        assert!(!e.to_string().contains("hunter22"), "{e}");
        assert!(!is_secret("compression.type"));
    }

    #[test]
    fn a_setting_an_idempotent_producer_refuses_is_refused_up_front() {
        let e = Cluster::configured("b:1", None, &["max.in.flight=10".into()]).unwrap_err();
        assert!(e.to_string().contains("max.in.flight"), "{e}");
    }

    #[test]
    fn a_secret_in_argv_is_refused_without_echoing_it() {
        let e = Cluster::configured("b:1", None, &["sasl.password=hunter2".into()]).unwrap_err();
        assert!(matches!(e, ConfigError::SecretInArgv(_)), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = Cluster::configured("b:1", None, &["ssl.key.password".into()]).unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn librdkafka_names_an_unknown_key_and_never_a_secret_value() {
        let e = Cluster::configured("b:1", None, &["no.such.setting=1".into()]).unwrap_err();
        assert!(e.to_string().contains("no.such.setting"), "{e}");
        let f = props("security.protocol=SASL_SSL\nsasl.mechanism=NOPE\nsasl.password=p4ss\n");
        let e = Cluster::configured("b:1", Some(f.path()), &[]).unwrap_err();
        assert!(e.to_string().contains("SASL mechanism: NOPE"), "{e}");
        assert!(!e.to_string().contains("p4ss"), "{e}");
    }

    #[test]
    fn a_java_jaas_line_gives_the_username_and_password() {
        let f = props(
            "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \
             username=\"bank\" password=\"pw\";\n",
        );
        let c = Cluster::configured("b:1", Some(f.path()), &[]).unwrap();
        assert_eq!(c.setting("sasl.username"), Some("bank"));
        assert_eq!(c.setting("sasl.password"), Some("pw"));
        assert!(!c.describe().contains("pw\""));
    }

    #[test]
    fn a_missing_file_is_named() {
        let e = Cluster::configured("b:1", Some(Path::new("/nonexistent/k.properties")), &[])
            .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/k.properties"), "{e}");
    }
}
