"""A transactional Kafka producer (confluent-kafka, librdkafka) with the
settings the ledger depends on (docs/kafka.md)."""
from __future__ import annotations

import contextlib
import time
from typing import Iterator, Sequence

from confluent_kafka import KafkaError, KafkaException, Producer

from si.ledger.v1 import events_pb2

from ._rules import InvalidRecord
from .records import canonical, is_privileged, kind

# Settings the ledger depends on, under every name librdkafka takes for
# them, with the values that keep them and why.
_FIXED = {
    "enable.idempotence": ({"true"}, "true: a retry never writes a record twice"),
    "acks": ({"all", "-1"}, "all: a record acknowledged is on every in-sync replica"),
    "request.required.acks": ({"all", "-1"}, "all: a record acknowledged is on every in-sync replica"),
    "partitioner": ({"murmur2_random", "murmur2"},
                    "murmur2 of the key, as the Java client places records and the projector "
                    "checks: a record on another partition is dead-lettered"),
}


def settings(cluster: dict, transactional_id: str | None = None) -> dict:
    """The producer's librdkafka settings: the cluster's (bootstrap.servers,
    TLS, SASL, compression, tuning) with the ledger's over them:
    idempotence, acks=all, murmur2 placement of keys, zstd unless the
    cluster's settings say another codec, and a transactional.id (one per
    producing process and feed, stable across restarts; None: the one the
    cluster's settings give).

    Raises ValueError naming a setting the ledger cannot work with, and why."""
    if not isinstance(cluster, dict):
        raise ValueError(f"the cluster's settings are a dict, not {type(cluster).__name__}")
    conf = dict(cluster)
    if not any(isinstance(conf.get(k), str) and conf[k].strip()
               for k in ("bootstrap.servers", "metadata.broker.list")):
        raise ValueError("bootstrap.servers is required")
    if "default.topic.config" in conf:
        # Its dict would set topic settings past these checks (a partitioner).
        raise ValueError("default.topic.config is refused: give its settings at the top "
                         "level, where they are checked")
    for key, value in list(conf.items()):
        name = key[len("topic."):] if key.startswith("topic.") else key
        if name in _FIXED:
            allowed, why = _FIXED[name]
            v = "true" if value is True else str(value).strip().lower()
            if v not in allowed:
                raise ValueError(f"{key}={value} is refused: the ledger needs {name}={why}")
            conf[key] = True if name == "enable.idempotence" else v
    given = conf.get("transactional.id")
    if transactional_id is None and given is not None:
        transactional_id = str(given)
    if not transactional_id or not str(transactional_id).strip():
        raise ValueError("a transactional.id is required: a payment order is published "
                         "in one transaction")
    if given is not None and str(given) != str(transactional_id):
        raise ValueError("transactional.id is given twice, differently: in the settings "
                         "and as the argument")
    conf.update({"enable.idempotence": True, "transactional.id": transactional_id})
    if not any(k in conf for k in ("acks", "request.required.acks", "topic.acks",
                                   "topic.request.required.acks")):
        conf["acks"] = "all"
    if not any(k in conf for k in ("partitioner", "topic.partitioner")):
        conf["partitioner"] = "murmur2_random"
    if not any(k in conf for k in ("compression.type", "compression.codec",
                                   "topic.compression.type", "topic.compression.codec")):
        conf["compression.type"] = "zstd"
    return conf


def _kafka_error(e: KafkaException) -> KafkaError | None:
    return e.args[0] if e.args and isinstance(e.args[0], KafkaError) else None


def _checked(record: events_pb2.Envelope) -> events_pb2.Envelope:
    c = canonical(record)
    if is_privileged(c) and not c.HasField("signature"):
        raise InvalidRecord("signature", f"is required: {kind(c)} is a privileged kind, signed by "
                            "its authority (RecordSigner, docs/authority.md)")
    return c


class LedgerProducer:
    """Publishes records to the ledger's topic: each keyed by the
    participant's IIN, its value the canonical Envelope's bytes, checked
    before anything is sent. A payment order's lines go out in one Kafka
    transaction, so that the ledger (which reads read_committed) never sees
    half an order. Not thread-safe: one per thread, each with its own
    transactional.id."""

    def __init__(self, cluster: dict, *, topic: str, transactional_id: str | None = None,
                 timeout: float = 30.0, producer: Producer | None = None):
        """Raises ValueError as settings(); KafkaException when the cluster
        cannot be reached within `timeout` seconds or refuses the producer.
        A predecessor with the same transactional_id is fenced and its open
        transaction aborted."""
        self._producer = producer or Producer(settings(cluster, transactional_id))
        self._topic = topic
        self._timeout = timeout
        self._open = False
        self._producer.init_transactions(timeout)

    def publish_order(self, lines: Sequence[events_pb2.Envelope]) -> None:
        """Publishes one payment order's lines in one transaction: all reach
        the ledger or (aborted) none. Every line is checked first.

        Raises InvalidRecord naming a line's field (nothing was sent), or
        KafkaException when the transaction failed: it was aborted, or, when
        the producer was fenced or failed fatally, it cannot go on (make a
        new one; the broker aborts the transaction)."""
        checked = [canonical(line) for line in lines]
        if not checked:
            raise InvalidRecord("contribution", "a payment order needs at least one line")
        ids = set()
        for c in checked:
            if kind(c) != "contribution":
                raise InvalidRecord("payload",
                                    f"a payment order's line is a contribution, not {kind(c)}")
            if c.contribution.payment != checked[0].contribution.payment:
                raise InvalidRecord("contribution.payment",
                                    "the lines of one order share one payment document")
            if c.event_id in ids:
                raise InvalidRecord("event_id", f"two lines of one order share the id {c.event_id}")
            ids.add(c.event_id)
        with self.order() as order:
            for c in checked:
                order._send_checked(c)

    def publish(self, record: events_pb2.Envelope) -> None:
        """Publishes one record in a transaction of its own: a register
        record, a Fund benefit, a refund. Raises InvalidRecord naming the
        field, or `signature` for a privileged record without one."""
        c = _checked(record)
        with self.order() as order:
            order._send_checked(c)

    @contextlib.contextmanager
    def order(self) -> Iterator["Order"]:
        """A transaction for records sent one by one: committed when the
        block ends, aborted when it raises (the ledger reads none of its
        records)::

            with producer.order() as order:
                for line in lines:
                    order.send(line)
        """
        if self._open:
            raise RuntimeError("a transaction is open already")
        self._producer.begin_transaction()
        self._open = True
        o = Order(self)
        try:
            try:
                yield o
            except BaseException:
                self._abort()
                raise
            self._commit()
        finally:
            o._done = True
            self._open = False

    def _commit(self) -> None:
        """Commits; a commit that failed is aborted, unless the producer was
        fenced or failed fatally (it cannot go on: make a new one; the
        broker aborts the transaction after transaction.timeout.ms)."""
        try:
            self._producer.commit_transaction(self._timeout)
            return
        except KafkaException as e:
            failure = e
        except BaseException:
            # Interrupted (KeyboardInterrupt) in the middle of the commit.
            self._abort(quietly=True)
            raise
        error = _kafka_error(failure)
        if error is not None and error.retriable() and not error.txn_requires_abort():
            try:
                self._producer.commit_transaction(self._timeout)  # librdkafka: retry it
                return
            except KafkaException as again:
                failure, error = again, _kafka_error(again)
        if error is None or not error.fatal():
            # Quietly: the commit's error is the one to raise.
            self._abort(quietly=True)
        raise failure

    def _abort(self, quietly: bool = False) -> None:
        try:
            self._producer.abort_transaction(self._timeout)
        except Exception:
            if not quietly:
                raise
        finally:
            self._open = False

    def flush(self, timeout: float | None = None) -> int:
        """Sends what is buffered and waits until the brokers have it;
        returns how many records are still waiting. Records of an open
        transaction stay invisible to the ledger until it commits."""
        return self._producer.flush(self._timeout if timeout is None else timeout)

    def close(self) -> None:
        """Sends what is buffered. An open transaction is aborted by the
        broker when the producer is gone (transaction.timeout.ms)."""
        self._producer.flush(self._timeout)

    def __enter__(self) -> "LedgerProducer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Order:
    """One open transaction of a LedgerProducer."""

    def __init__(self, owner: LedgerProducer):
        self._owner = owner
        self._done = False

    def send(self, record: events_pb2.Envelope) -> None:
        """Sends a record in this transaction, keyed by its IIN, its value
        the canonical bytes. Raises InvalidRecord as LedgerProducer.publish,
        RuntimeError when this transaction is over, BufferError when the
        local queue stays full for the producer's timeout."""
        if self._done:
            raise RuntimeError("this transaction is over")
        self._send_checked(_checked(record))

    def _send_checked(self, c: events_pb2.Envelope) -> None:
        """Sends a record _checked already."""
        if self._done:
            raise RuntimeError("this transaction is over")
        producer = self._owner._producer
        deadline = time.monotonic() + self._owner._timeout
        while True:
            try:
                producer.produce(self._owner._topic, key=c.iin.encode(),
                                 value=c.SerializeToString(deterministic=True))
                return
            except BufferError:
                if time.monotonic() > deadline:
                    raise
                producer.poll(0.5)  # the local queue is full: let it drain
