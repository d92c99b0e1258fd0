import pytest
from confluent_kafka import KafkaError, KafkaException

from si.ledger.v1 import events_pb2
from si_ledger_client import InvalidRecord, LedgerProducer, PaymentOrder, RecordSigner, records
from si_ledger_client import settings
from test_records import DOCUMENT, PERSON


def test_the_settings_the_ledger_depends_on_are_set():
    conf = settings({"bootstrap.servers": "127.0.0.1:9092", "security.protocol": "SASL_SSL"},
                    "bank-42")
    assert conf["enable.idempotence"] is True
    assert conf["acks"] == "all"
    assert conf["partitioner"] == "murmur2_random"
    assert conf["compression.type"] == "zstd"
    assert conf["transactional.id"] == "bank-42"
    assert conf["security.protocol"] == "SASL_SSL"
    lz4 = settings({"bootstrap.servers": "b", "compression.type": "lz4"}, "t")
    assert lz4["compression.type"] == "lz4"
    settings({"bootstrap.servers": "b", "acks": -1, "enable.idempotence": True,
              "partitioner": "murmur2"}, "t")


@pytest.mark.parametrize("key,value", [
    ("acks", "1"),
    ("request.required.acks", 1),
    ("topic.acks", "0"),
    ("enable.idempotence", False),
    ("partitioner", "consistent_random"),
    ("topic.partitioner", "random"),
    ("transactional.id", "another"),
])
def test_settings_that_would_break_the_ledger_are_refused_by_name(key, value):
    with pytest.raises(ValueError) as e:
        settings({"bootstrap.servers": "b", key: value}, "bank-42")
    assert key in str(e.value)


def test_a_transactional_id_and_brokers_are_required():
    with pytest.raises(ValueError):
        settings({"bootstrap.servers": "b"}, "")
    with pytest.raises(ValueError):
        settings({}, "t")


class FakeProducer:
    """Records what a confluent_kafka.Producer is asked to do."""

    def __init__(self, fail_commit=False):
        self.calls, self.sent, self.fail_commit = [], [], fail_commit

    def init_transactions(self, timeout):
        self.calls.append("init")

    def begin_transaction(self):
        self.calls.append("begin")

    def produce(self, topic, key, value):
        self.sent.append((topic, key, value))

    def commit_transaction(self, timeout):
        if self.fail_commit:
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "timed out", txn_requires_abort=True))
        self.calls.append("commit")

    def abort_transaction(self, timeout):
        self.calls.append("abort")

    def flush(self, timeout):
        return 0


def lines():
    return (PaymentOrder("bank-42", DOCUMENT)
            .line("bank-42/PP-1/1", "900517400015", "2025-12", "100", PERSON)
            .line("bank-42/PP-1/2", "900517400451", "2025-12", "200", PERSON)
            .lines())


def test_an_order_goes_out_in_one_committed_transaction_keyed_by_iin():
    fake = FakeProducer()
    LedgerProducer({}, transactional_id="t", topic="ledger", producer=fake).publish_order(lines())
    assert fake.calls == ["init", "begin", "commit"]
    assert [key for _, key, _ in fake.sent] == [b"900517400015", b"900517400451"]
    assert events_pb2.Envelope.FromString(fake.sent[1][2]) == lines()[1]


def test_an_order_with_a_bad_line_sends_nothing():
    fake = FakeProducer()
    bad = events_pb2.Envelope()
    bad.CopyFrom(lines()[1])
    bad.contribution.amount = "-1"
    with pytest.raises(InvalidRecord) as e:
        LedgerProducer({}, transactional_id="t", topic="ledger", producer=fake).publish_order([lines()[0], bad])
    assert e.value.field == "contribution.amount"
    assert fake.calls == ["init"] and fake.sent == []


def test_a_transaction_that_raises_is_aborted():
    fake = FakeProducer()
    producer = LedgerProducer({}, transactional_id="t", topic="ledger", producer=fake)
    with pytest.raises(RuntimeError):
        with producer.order() as order:
            order.send(lines()[0])
            raise RuntimeError("the bank's system failed")
    assert fake.calls == ["init", "begin", "abort"]


def test_a_failed_commit_is_aborted_and_raised():
    fake = FakeProducer(fail_commit=True)
    with pytest.raises(KafkaException):
        LedgerProducer({}, transactional_id="t", topic="ledger", producer=fake).publish_order(lines())
    assert fake.calls == ["init", "begin", "abort"]


def test_a_privileged_record_must_be_signed(vectors):
    fake = FakeProducer()
    producer = LedgerProducer({}, transactional_id="t", topic="ledger", producer=fake)
    person = records.person("r/1", "900517400015", "register", surname="Ахметова")
    with pytest.raises(InvalidRecord) as e:
        producer.publish(person)
    assert e.value.field == "signature"
    producer.publish(RecordSigner.from_pem(vectors["signing"]["pkcs8_pem"]).sign(person))
    assert len(fake.sent) == 1


def test_settings_hidden_from_the_checks_are_refused_and_aliases_kept():
    with pytest.raises(ValueError) as e:
        settings({"bootstrap.servers": "b", "default.topic.config": {"partitioner": "random"}}, "t")
    assert "default.topic.config" in str(e.value)
    conf = settings({"metadata.broker.list": "b", "compression.codec": "lz4",
                     "transactional.id": "from-the-file", "partitioner": " MURMUR2 "})
    assert conf["transactional.id"] == "from-the-file"
    assert "compression.type" not in conf and conf["compression.codec"] == "lz4"
    assert conf["partitioner"] == "murmur2"


def test_an_order_handle_is_dead_once_its_transaction_ends():
    fake = FakeProducer()
    producer = LedgerProducer({}, transactional_id="t", topic="ledger", producer=fake)
    with producer.order() as first:
        first.send(lines()[0])
    with pytest.raises(RuntimeError):
        with producer.order():
            first.send(lines()[1])
    assert fake.calls == ["init", "begin", "commit", "begin", "abort"]
    assert len(fake.sent) == 1


def test_an_empty_order_is_refused_however_given():
    producer = LedgerProducer({}, transactional_id="t", topic="ledger", producer=FakeProducer())
    for empty in ([], (line for line in [])):
        with pytest.raises(InvalidRecord):
            producer.publish_order(empty)


class InterruptedCommit(FakeProducer):
    def commit_transaction(self, timeout):
        raise KeyboardInterrupt


def test_an_interrupted_commit_is_aborted_and_the_producer_goes_on():
    fake = InterruptedCommit()
    producer = LedgerProducer({}, transactional_id="t", topic="ledger", producer=fake)
    with pytest.raises(KeyboardInterrupt):
        producer.publish_order(lines())
    assert fake.calls == ["init", "begin", "abort"]
    with pytest.raises(KeyboardInterrupt):
        producer.publish_order(lines())  # not "a transaction is open already"


class RetriableCommit(FakeProducer):
    def __init__(self):
        super().__init__()
        self.failures = 1

    def commit_transaction(self, timeout):
        if self.failures:
            self.failures -= 1
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "timed out", retriable=True))
        self.calls.append("commit")


def test_a_retriable_commit_is_retried():
    fake = RetriableCommit()
    LedgerProducer({}, transactional_id="t", topic="ledger", producer=fake).publish_order(lines())
    assert fake.calls == ["init", "begin", "commit"]


class FatalOnRetry(FakeProducer):
    """A retriable commit failure, then a fatal one on the retry."""

    def __init__(self):
        super().__init__()
        self.commits = 0

    def commit_transaction(self, timeout):
        self.commits += 1
        if self.commits == 1:
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "slow", retriable=True))
        raise KafkaException(KafkaError(KafkaError._FENCED, "fenced", fatal=True))


def test_a_commit_fatal_on_its_retry_is_not_aborted_and_its_error_raised():
    fake = FatalOnRetry()
    with pytest.raises(KafkaException) as e:
        LedgerProducer({}, transactional_id="t", topic="ledger", producer=fake).publish_order(
            lines())
    assert fake.calls == ["init", "begin"]
    assert e.value.args[0].code() == KafkaError._FENCED
