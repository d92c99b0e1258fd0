"""A payment processor's Python producer (`confluent-kafka`, librdkafka
with every codec) writing the ledger's records to a topic with one
compression codec, for the test that every codec projects alike.

Usage: produce_codec.py BROKERS TOPIC CODEC PROTO_DIR LINES.jsonl

Each JSON line (an Envelope in the proto3 JSON mapping, or
{"timestamp", "envelope"}) becomes one record keyed by the IIN, its value
the Envelope serialized by protobuf, its timestamp the line's. Lines that
are not envelopes are skipped (counted). Prints how many were produced.
"""
import json
import os
import sys
from datetime import datetime

from confluent_kafka import Producer
from google.protobuf import json_format

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import si_proto  # noqa: E402

brokers, topic, codec, proto_dir, path = sys.argv[1:6]
events_pb2 = si_proto.load(proto_dir)
producer = Producer(
    {
        "bootstrap.servers": brokers,
        "compression.type": codec,
        # The Java client's partitioner, which the ledger checks.
        "partitioner": "murmur2_random",
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 20,
    }
)
produced = skipped = 0
with open(path, encoding="utf-8") as lines:
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
        producer.produce(
            topic,
            key=envelope.iin.encode(),
            value=envelope.SerializeToString(),
            timestamp=timestamp,
        )
        produced += 1
        producer.poll(0)
left = producer.flush(60)
if left:
    sys.exit(f"{left} records not delivered")
print(produced, skipped)
