//! `si-ledger topics create`: the ledger topic and its derived topics.

use anyhow::Result;
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum TopicsCommand {
    /// Create the ledger topic (retained forever) and its derived topics
    /// (`<T>.dlq`, `<T>.monthly`, `<T>.notices`), and `<T>.members`
    /// (compacted: the instances serving the API and their partitions).
    Create(CreateArgs),
}

#[derive(Args)]
pub struct CreateArgs {
    /// Bootstrap brokers, `host:port[,host:port…]`.
    #[arg(long)]
    pub brokers: String,
    #[arg(long)]
    pub topic: String,
    #[arg(long, default_value_t = 4)]
    pub partitions: u32,
    /// Copies of each partition (3 on a production cluster).
    #[arg(long, default_value_t = 1)]
    pub replication_factor: i32,
    #[command(flatten)]
    pub kafka: crate::cluster::ClientArgs,
}

pub fn topics(ctx: &ledger_core::Context, cmd: &TopicsCommand) -> Result<i32> {
    let TopicsCommand::Create(a) = cmd;
    let times =
        ledger_kafka::timestamp_configs(&ctx.record_times, chrono::Utc::now().timestamp_millis());
    let cluster = a.kafka.cluster(&a.brokers)?;
    let mut created = ledger_kafka::create_topics(
        &cluster,
        &a.topic,
        a.partitions,
        a.replication_factor,
        &times,
    )?;
    created.push((
        ledger_kafka::members_topic(&a.topic),
        ledger_kafka::create_members_topic(&cluster, &a.topic)?,
    ));
    for (name, new) in created {
        let what = if new {
            "created"
        } else {
            "exists (left as is)"
        };
        println!("{name}: {what}");
    }
    Ok(0)
}
