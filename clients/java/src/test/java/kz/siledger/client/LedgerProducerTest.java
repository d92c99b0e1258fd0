package kz.siledger.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import si.ledger.v1.Common.PersonName;
import si.ledger.v1.Events.Envelope;
import si.ledger.v1.Events.PersonRegistered;

class LedgerProducerTest {
  static Properties cluster(String... kv) {
    Properties p = new Properties();
    p.put("bootstrap.servers", "127.0.0.1:9092");
    for (int i = 0; i < kv.length; i += 2) {
      p.put(kv[i], kv[i + 1]);
    }
    return p;
  }

  @Test
  void the_settings_the_ledger_depends_on_are_set() {
    Properties p = LedgerProducer.settings(cluster("security.protocol", "SASL_SSL"), "bank-42");
    assertEquals("true", p.get("enable.idempotence"));
    assertEquals("all", p.get("acks"));
    assertEquals("zstd", p.get("compression.type"));
    assertEquals("bank-42", p.get("transactional.id"));
    assertEquals("SASL_SSL", p.get("security.protocol"));
    assertEquals("lz4",
        LedgerProducer.settings(cluster("compression.type", "lz4"), "b").get("compression.type"));
    LedgerProducer.settings(cluster("acks", "-1", "enable.idempotence", "TRUE"), "b");
  }

  @Test
  void settings_that_would_break_the_ledger_are_refused_by_name() {
    for (String[] bad :
        new String[][] {
          {"acks", "1"},
          {"enable.idempotence", "false"},
          {"partitioner.class", "org.example.RoundRobin"},
          {"partitioner.ignore.keys", "true"},
          {"value.serializer", "io.confluent.kafka.serializers.protobuf.KafkaProtobufSerializer"},
          {"key.serializer", "org.apache.kafka.common.serialization.StringSerializer"},
          {"transactional.id", "another"},
        }) {
      var e = assertThrows(IllegalArgumentException.class,
          () -> LedgerProducer.settings(cluster(bad), "bank-42"));
      assertTrue(e.getMessage().startsWith(bad[0]), e.getMessage());
    }
    assertThrows(IllegalArgumentException.class,
        () -> LedgerProducer.settings(cluster(), null));
    assertThrows(IllegalArgumentException.class,
        () -> LedgerProducer.settings(new Properties(), "b"));
  }

  static MockProducer<String, byte[]> mock() {
    return new MockProducer<>(true, null, new StringSerializer(), new ByteArraySerializer());
  }

  static List<Envelope> lines() {
    PersonName p = PersonName.newBuilder().setSurname("Ахметова").setName("Айгерим")
        .setBirthDate("1990-05-17").build();
    return new PaymentOrder("bank-42", RecordsTest.order())
        .line("bank-42/PP-1/1", "900517400015", "2025-12", "100", p)
        .line("bank-42/PP-1/2", "900517400451", "2025-12", "200", p)
        .lines();
  }

  @Test
  void an_order_goes_out_in_one_committed_transaction_keyed_by_iin() throws Exception {
    var mock = mock();
    try (var producer = new LedgerProducer(mock, "ledger")) {
      producer.publishOrder(lines());
    }
    assertTrue(mock.transactionCommitted());
    assertEquals(2, mock.history().size());
    assertEquals("900517400015", mock.history().get(0).key());
    assertEquals(lines().get(1), Envelope.parseFrom(mock.history().get(1).value()));
  }

  @Test
  void an_order_with_a_bad_line_sends_nothing() {
    var mock = mock();
    var bad = lines().get(1).toBuilder();
    bad.getContributionBuilder().setAmount("-1");
    try (var producer = new LedgerProducer(mock, "ledger")) {
      var e = assertThrows(InvalidRecordException.class,
          () -> producer.publishOrder(List.of(lines().get(0), bad.build())));
      assertEquals("contribution.amount", e.field());
    }
    assertFalse(mock.transactionInFlight());
    assertTrue(mock.history().isEmpty());
  }

  @Test
  void a_transaction_closed_uncommitted_is_aborted() {
    var mock = mock();
    try (var producer = new LedgerProducer(mock, "ledger")) {
      try (var order = producer.beginOrder()) {
        order.send(lines().get(0));
      }
      assertTrue(mock.transactionAborted());
      assertFalse(mock.transactionCommitted());
    }
  }

  @Test
  void a_privileged_record_must_be_signed() throws Exception {
    var mock = mock();
    Envelope person = Records.person("r/1", "900517400015", "register",
        PersonRegistered.newBuilder().setSurname("Ахметова").build());
    try (var producer = new LedgerProducer(mock, "ledger")) {
      var e = assertThrows(InvalidRecordException.class, () -> producer.publish(person));
      assertEquals("signature", e.field());
      producer.publish(VectorsTest.signer(VectorsTest.vectors()).sign(person));
    }
    assertEquals(1, mock.history().size());
  }

  /** A MockProducer whose first {@code failures} commits throw {@code error}. */
  static final class FailingCommits extends MockProducer<String, byte[]> {
    private int failures;
    private final RuntimeException error;
    int aborts;

    FailingCommits(int failures, RuntimeException error) {
      super(true, null, new StringSerializer(), new ByteArraySerializer());
      this.failures = failures;
      this.error = error;
    }

    @Override
    public void commitTransaction() {
      if (failures > 0) {
        failures--;
        throw error;
      }
      super.commitTransaction();
    }

    @Override
    public void abortTransaction() {
      aborts++;
      super.abortTransaction();
    }
  }

  @Test
  void a_commit_that_timed_out_is_retried() {
    var mock = new FailingCommits(1, new org.apache.kafka.common.errors.TimeoutException("slow"));
    try (var producer = new LedgerProducer(mock, "ledger")) {
      producer.publishOrder(lines());
    }
    assertTrue(mock.transactionCommitted());
    assertEquals(0, mock.aborts);
  }

  /** Kafka forbids aborting after a commit timed out: the producer is closed instead. */
  @Test
  void a_commit_that_timed_out_twice_closes_the_producer_without_an_abort() {
    var mock = new FailingCommits(2, new org.apache.kafka.common.errors.TimeoutException("slow"));
    var producer = new LedgerProducer(mock, "ledger");
    assertThrows(org.apache.kafka.common.errors.TimeoutException.class,
        () -> producer.publishOrder(lines()));
    assertTrue(mock.closed());
    assertEquals(0, mock.aborts);
  }

  @Test
  void a_fenced_producer_is_closed_and_any_other_failure_aborted() {
    var fenced = new FailingCommits(1,
        new org.apache.kafka.common.errors.ProducerFencedException("a newer producer"));
    var producer = new LedgerProducer(fenced, "ledger");
    assertThrows(org.apache.kafka.common.errors.ProducerFencedException.class,
        () -> producer.publishOrder(lines()));
    assertTrue(fenced.closed());
    assertEquals(0, fenced.aborts);

    var failing = new FailingCommits(1, new org.apache.kafka.common.KafkaException("broken"));
    try (var other = new LedgerProducer(failing, "ledger")) {
      assertThrows(org.apache.kafka.common.KafkaException.class,
          () -> other.publishOrder(lines()));
      assertEquals(1, failing.aborts);
      other.publishOrder(lines()); // the producer goes on
    }
    assertTrue(failing.transactionCommitted());
  }
}
