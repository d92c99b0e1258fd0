//! The Kafka client options every Kafka command shares (`--kafka-config`,
//! `-X`), next to its own `--brokers`.

use anyhow::{Context as _, Result};
use clap::Args;
use ledger_kafka::Cluster;
use std::path::PathBuf;

/// How the ledger's Kafka clients connect: TLS, SASL, compression and any
/// other librdkafka setting (docs/kafka.md, "Client settings").
#[derive(Args, Debug, Clone, Default)]
pub struct ClientArgs {
    /// Kafka client settings: a Java-style properties file (`key=value`
    /// lines, `#` comments; the convention of Kafka's `--command-config`)
    /// of librdkafka settings, applied to every client this command makes.
    /// Where secrets go (`sasl.password`, `ssl.key.password`).
    #[arg(long, value_name = "FILE", env = "SI_LEDGER_KAFKA_CONFIG")]
    pub kafka_config: Option<PathBuf>,
    /// One librdkafka setting, after those of --kafka-config (repeatable).
    /// Never a secret: argv is visible to every user of the machine.
    #[arg(short = 'X', value_name = "KEY=VALUE", requires = "brokers")]
    pub kafka_setting: Vec<String>,
}

impl ClientArgs {
    /// The cluster at `brokers` with these settings, checked, and
    /// connected to once: a wrong password, an untrusted certificate or no
    /// broker answering within 15 s ends the command with the reason.
    /// Logged with secrets masked.
    pub fn cluster(&self, brokers: &str) -> Result<Cluster> {
        let cluster =
            Cluster::configured(brokers, self.kafka_config.as_deref(), &self.kafka_setting)
                .context("Kafka client settings")?;
        tracing::info!(cluster = %cluster.describe(), "kafka clients");
        cluster.check(std::time::Duration::from_secs(15))?;
        Ok(cluster)
    }
}
