package kz.siledger.client;

import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.UnsupportedVersionException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import si.ledger.v1.Events.Envelope;

/**
 * A transactional Kafka producer with the settings the ledger depends on (docs/kafka.md):
 * idempotent, {@code acks=all}, records keyed by the participant's IIN and placed by the
 * built-in partitioner (murmur2 of the key, which the projector checks), zstd unless the
 * cluster's file says another codec. A payment order's lines go out in one Kafka transaction,
 * so that the ledger, which reads {@code read_committed}, never sees half an order.
 *
 * <p>Each record is made canonical and checked before anything is sent ({@link
 * Records#canonical}); a privileged record must be signed ({@link RecordSigner}).
 *
 * <p>Not thread-safe, as a transactional {@code KafkaProducer} is not: one per thread, each
 * with its own {@code transactional.id}.
 */
public final class LedgerProducer implements AutoCloseable {
  private final Producer<String, byte[]> producer;
  private final String topic;
  private boolean open;

  /**
   * Settings the ledger depends on, and why; given another value they are refused.
   */
  private static final Map<String, String> FIXED =
      Map.of(
          ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true: a retry never writes a record twice",
          ProducerConfig.ACKS_CONFIG, "all: a record acknowledged is on every in-sync replica");

  /** Settings this class sets itself, and why they may not be given. */
  private static final Map<String, String> OWN =
      Map.of(
          ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG,
              "the key is the IIN, as UTF-8 (StringSerializer)",
          ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG,
              "the value is the canonical Envelope's bytes (ByteArraySerializer)",
          ProducerConfig.PARTITIONER_CLASS_CONFIG,
              "the built-in partitioner places keyed records by murmur2, which the projector "
                  + "checks: a record on another partition is dead-lettered",
          ProducerConfig.PARTITIONER_IGNORE_KEYS_CONFIG,
              "records must be placed by their key (murmur2), which the projector checks");

  /**
   * The producer's settings: {@code cluster}'s (bootstrap servers, TLS, SASL, compression,
   * tuning) with the ledger's over them.
   *
   * @param cluster the cluster's client settings, for example read from a {@code
   *     client.properties} file; {@code bootstrap.servers} is required
   * @param transactionalId one per producing process and feed, stable across restarts (a
   *     restarted producer fences its predecessor's open transaction); null: the one {@code
   *     cluster} gives
   * @throws IllegalArgumentException naming a setting the ledger cannot work with, and why
   */
  public static Properties settings(Properties cluster, String transactionalId) {
    Properties props = new Properties();
    props.putAll(cluster);
    if (props.getProperty(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, "").isBlank()) {
      throw new IllegalArgumentException("bootstrap.servers is required");
    }
    for (var fixed : FIXED.entrySet()) {
      Object given = props.get(fixed.getKey());
      if (given != null) {
        String v = given.toString().trim().toLowerCase(Locale.ROOT);
        String want = fixed.getValue().substring(0, fixed.getValue().indexOf(':'));
        boolean same = v.equals(want) || (want.equals("all") && v.equals("-1"));
        if (!same) {
          throw new IllegalArgumentException(
              fixed.getKey() + "=" + given + " is refused: the ledger needs " + fixed.getValue());
        }
      }
    }
    for (var own : OWN.entrySet()) {
      if (props.containsKey(own.getKey())) {
        throw new IllegalArgumentException(
            own.getKey() + " is set by the client and may not be given: " + own.getValue());
      }
    }
    Object given = props.get(ProducerConfig.TRANSACTIONAL_ID_CONFIG);
    if (transactionalId == null && given != null) {
      transactionalId = given.toString();
    }
    if (transactionalId == null || transactionalId.isBlank()) {
      throw new IllegalArgumentException(
          "a transactional.id is required: a payment order is published in one transaction");
    }
    if (given != null && !given.toString().equals(transactionalId)) {
      throw new IllegalArgumentException(
          "transactional.id is given twice, differently: in the settings and as the argument");
    }
    props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    props.put(ProducerConfig.ACKS_CONFIG, "all");
    props.putIfAbsent(ProducerConfig.COMPRESSION_TYPE_CONFIG, "zstd");
    props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
    props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    return props;
  }

  /**
   * A producer to {@code topic}, its transactions initialized (a predecessor with the same
   * {@code transactionalId} is fenced and its open transaction aborted).
   *
   * @throws IllegalArgumentException as {@link #settings}
   * @throws KafkaException when the cluster cannot be reached or refuses the producer
   */
  public LedgerProducer(Properties cluster, String transactionalId, String topic) {
    this(new KafkaProducer<>(settings(cluster, transactionalId)), topic);
  }

  /** Over a producer made elsewhere (a test's {@code MockProducer}); initializes transactions. */
  LedgerProducer(Producer<String, byte[]> producer, String topic) {
    this.producer = producer;
    this.topic = topic;
    producer.initTransactions();
  }

  /**
   * Publishes one payment order's lines in one transaction: all of them reach the ledger, or
   * (the transaction aborted) none. Every line is checked before the transaction begins.
   *
   * @param lines contribution lines of one payment document ({@link PaymentOrder#lines()})
   * @throws InvalidRecordException naming a line's field; nothing was sent
   * @throws KafkaException when the transaction failed; it was aborted, or, when the producer
   *     was fenced by a newer one with its transactional.id, the producer is closed
   */
  public void publishOrder(List<Envelope> lines) {
    if (lines.isEmpty()) {
      throw new InvalidRecordException("contribution", "a payment order needs at least one line");
    }
    Set<String> ids = new HashSet<>();
    List<Envelope> checked = lines.stream().map(Records::canonical).toList();
    Envelope first = checked.get(0);
    for (Envelope c : checked) {
      if (!c.hasContribution()) {
        throw new InvalidRecordException(
            "payload", "a payment order's line is a contribution, not " + Records.kind(c));
      }
      if (!c.getContribution().getPayment().equals(first.getContribution().getPayment())) {
        throw new InvalidRecordException(
            "contribution.payment", "the lines of one order share one payment document");
      }
      if (!ids.add(c.getEventId())) {
        throw new InvalidRecordException(
            "event_id", "two lines of one order share the id " + c.getEventId());
      }
    }
    try (Order order = beginOrder()) {
      for (Envelope line : checked) {
        order.sendChecked(line);
      }
      order.commit();
    }
  }

  /**
   * Publishes one record in a transaction of its own: a register record, a Fund benefit, a
   * refund.
   *
   * @throws InvalidRecordException naming the field, or {@code signature} for a privileged
   *     record without one; nothing was sent
   * @throws KafkaException as {@link #publishOrder}
   */
  public void publish(Envelope record) {
    Envelope c = checked(record);
    try (Order order = beginOrder()) {
      order.sendChecked(c);
      order.commit();
    }
  }

  /**
   * Begins a transaction for records sent one by one. {@link Order#commit()} ends it; closing
   * it uncommitted (an exception on the way) aborts it, and the ledger reads none of its
   * records.
   *
   * <pre>{@code
   * try (LedgerProducer.Order order = producer.beginOrder()) {
   *   for (Envelope line : lines) order.send(line);
   *   order.commit();
   * }
   * }</pre>
   */
  public Order beginOrder() {
    if (open) {
      throw new IllegalStateException("a transaction is open already: commit or close it first");
    }
    producer.beginTransaction();
    open = true;
    return new Order();
  }

  private static Envelope checked(Envelope record) {
    Envelope c = Records.canonical(record);
    if (Records.isPrivileged(c) && !c.hasSignature()) {
      throw new InvalidRecordException(
          "signature",
          "is required: "
              + Records.kind(c)
              + " is a privileged kind, signed by its authority (RecordSigner, docs/authority.md)");
    }
    return c;
  }

  /** One open transaction. */
  public final class Order implements AutoCloseable {
    private boolean done;

    private Order() {}

    /**
     * Sends a record in this transaction, keyed by its IIN, its value the canonical bytes.
     *
     * @throws InvalidRecordException as {@link LedgerProducer#publish}; the transaction stays
     *     open (close it to abort)
     */
    public void send(Envelope record) {
      if (done) {
        throw new IllegalStateException("this transaction is over");
      }
      sendChecked(checked(record));
    }

    /** Sends a record {@link LedgerProducer#checked} already. */
    void sendChecked(Envelope c) {
      if (done) {
        throw new IllegalStateException("this transaction is over");
      }
      producer.send(new ProducerRecord<>(topic, c.getIin(), c.toByteArray()));
    }

    /**
     * Commits: every record sent reaches the ledger.
     *
     * @throws KafkaException when the commit failed: the transaction is aborted when this order
     *     is closed; when the producer was fenced, failed fatally or the commit timed out
     *     twice, the producer is closed (the broker aborts the transaction) and a new one must
     *     be made
     */
    public void commit() {
      if (done) {
        throw new IllegalStateException("this transaction is over");
      }
      try {
        try {
          producer.commitTransaction();
        } catch (TimeoutException once) {
          // Kafka's rule: a commit that timed out is retried, never aborted.
          producer.commitTransaction();
        }
        done = true;
        open = false;
      } catch (TimeoutException twice) {
        // Neither committed nor abortable from here: the broker aborts the transaction after
        // transaction.timeout.ms; a new producer with this transactional.id aborts it at once.
        done = true;
        open = false;
        producer.close();
        throw twice;
      } catch (ProducerFencedException
          | OutOfOrderSequenceException
          | AuthorizationException
          | UnsupportedVersionException fatal) {
        // The producer cannot go on (Kafka's own advice): close it.
        done = true;
        open = false;
        producer.close();
        throw fatal;
      }
    }

    /** Aborts unless committed: none of the records sent reaches the ledger. */
    @Override
    public void close() {
      if (!done) {
        done = true;
        open = false;
        producer.abortTransaction();
      }
    }
  }

  /**
   * Sends what is buffered and waits until the brokers have it. Records of an open transaction
   * stay invisible to the ledger until it commits.
   */
  public void flush() {
    producer.flush();
  }

  /** Sends what is buffered and closes the producer; an open transaction is aborted. */
  @Override
  public void close() {
    producer.close();
  }
}
