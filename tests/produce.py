"""A payment processor's Python producer (`confluent-kafka`, librdkafka
with every codec) writing the ledger's records as processors' clients do,
for the tests of what a producer may send.

Usage: produce.py BROKERS TOPIC PROTO_DIR LINES.jsonl [options]

  --compression CODEC     none, gzip, snappy, lz4 or zstd (default none)
  --schema-registry       frame each value with Confluent's ProtobufSerializer
                          against its in-process mock registry (mock://)
  --as-message NAME       with --schema-registry: serialize the lines'
                          `contribution` payloads as that message of
                          events.proto instead of Envelope (a producer
                          configured with the wrong type)
  --transactions PATTERN  a transactional producer: the lines are split
                          into len(PATTERN) consecutive runs, each one
                          transaction, committed (c) or aborted (a)
  --committed-only        with --transactions: no transactions; publish only
                          the runs that would be committed (the reference)
  --config KEY=VALUE      a librdkafka setting (TLS, SASL), repeatable
  --config-file FILE      Java-style properties, one KEY=VALUE per line

Each JSON line (an Envelope in the proto3 JSON mapping, or
{"timestamp", "envelope"}) becomes one record keyed by the IIN, its
timestamp the line's. Lines that are not envelopes are skipped (counted).
Prints how many were produced and skipped, then the schema id if framed.
"""
import argparse
import json
import os
import sys
from datetime import datetime

from confluent_kafka import KafkaException, Producer
from google.protobuf import json_format

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import si_proto  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("brokers")
ap.add_argument("topic")
ap.add_argument("proto_dir")
ap.add_argument("lines")
ap.add_argument("--compression", default="none")
ap.add_argument("--schema-registry", action="store_true")
ap.add_argument("--as-message")
ap.add_argument("--transactions")
ap.add_argument("--committed-only", action="store_true")
ap.add_argument("--config", action="append", default=[])
ap.add_argument("--config-file")
args = ap.parse_args()

events_pb2 = si_proto.load(args.proto_dir)
conf = {
    "bootstrap.servers": args.brokers,
    "compression.type": args.compression,
    # The Java client's partitioner, which the ledger checks.
    "partitioner": "murmur2_random",
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 20,
}
settings = list(args.config)
if args.config_file:
    with open(args.config_file, encoding="utf-8") as f:
        settings += [l.strip() for l in f if l.strip() and not l.lstrip().startswith("#")]
for kv in settings:
    k, _, v = kv.partition("=")
    conf[k.strip()] = v.strip()
if args.transactions and not args.committed_only:
    conf["transactional.id"] = f"produce-py-{args.topic}"
producer = Producer(conf)

serialize = lambda message: message.SerializeToString()  # noqa: E731
registry = None
if args.schema_registry:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    # The in-process mock registry: no network.
    registry = SchemaRegistryClient.new_client({"url": "mock://si-ledger-tests"})
    serializers = {}

    def serialize(message):  # noqa: F811
        t = type(message)
        if t not in serializers:
            serializers[t] = ProtobufSerializer(t, registry, {"use.deprecated.format": False})
        return serializers[t](message, SerializationContext(args.topic, MessageField.VALUE))

records = []
skipped = 0
with open(args.lines, encoding="utf-8") as lines:
    for line in lines:
        try:
            obj = json.loads(line)
            timestamp = 0
            if isinstance(obj, dict) and "envelope" in obj:
                if obj.get("timestamp"):
                    t = datetime.fromisoformat(obj["timestamp"].replace("Z", "+00:00"))
                    timestamp = int(t.timestamp() * 1000)
                obj = obj["envelope"]
            envelope = json_format.ParseDict(obj, events_pb2.Envelope())
        except Exception:  # a broken line of the demo's, on purpose
            skipped += 1
            continue
        message = envelope
        if args.as_message:
            if not envelope.HasField("contribution"):
                skipped += 1
                continue
            message = getattr(events_pb2, args.as_message)()
            message.CopyFrom(envelope.contribution)
        records.append((envelope.iin.encode(), serialize(message), timestamp))


def send(batch):
    for key, value, timestamp in batch:
        producer.produce(args.topic, key=key, value=value, timestamp=timestamp)
        producer.poll(0)


produced = 0
try:
    if args.transactions:
        runs = len(args.transactions)
        size = -(-len(records) // runs)
        if not args.committed_only:
            producer.init_transactions(30)
        for i, verdict in enumerate(args.transactions):
            batch = records[i * size:(i + 1) * size]
            if args.committed_only:
                if verdict == "c":
                    send(batch)
                    produced += len(batch)
                continue
            producer.begin_transaction()
            send(batch)
            if verdict == "c":
                producer.commit_transaction(30)
                produced += len(batch)
            else:
                producer.flush(30)
                producer.abort_transaction(30)
    else:
        send(records)
        produced = len(records)
    left = producer.flush(60)
except KafkaException as e:
    sys.exit(f"kafka: {e}")
if left:
    sys.exit(f"{left} records not delivered")
print(produced, skipped)
if registry is not None:
    print(registry.get_latest_version(f"{args.topic}-value").schema_id)
