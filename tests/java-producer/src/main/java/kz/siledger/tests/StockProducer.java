package kz.siledger.tests;

import com.google.protobuf.util.JsonFormat;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import si.ledger.v1.Events.Envelope;

/**
 * A payment processor's producer written with the stock Java client ({@code kafka-clients})
 * and {@code protobuf-java} alone, without the si-ledger's client library: the tests of
 * what any Java producer may send (tests/tests/kafka.rs) run it, so that the ledger is
 * checked against the client itself and not only against our library (clients/java).
 *
 * <pre>
 * StockProducer lines BOOTSTRAP TOPIC LINES.jsonl [--config-file F]
 *                     [--transactions PATTERN] [--committed-only]
 *                     [--transactional-id ID]
 * </pre>
 *
 * <p>Each JSON line (an Envelope in the proto3 JSON mapping, or {@code
 * {"timestamp", "envelope"}}) becomes one record keyed by its IIN; a line that is not an
 * envelope is skipped and counted. With {@code --transactions PATTERN} the lines are split
 * into len(PATTERN) consecutive runs, each one transaction: committed ({@code c}), aborted
 * ({@code a}), or, as the last letter only, left open ({@code o}: the records are sent and
 * flushed, "open" is printed, and the producer waits to be killed). {@code
 * --committed-only}: no transactions; only the committed runs are sent (a reference). The
 * transactional id is {@code java-lines-TOPIC} unless {@code --transactional-id} says
 * another (a second producer with the same id would fence the first).
 *
 * <p>Prints how many records were committed and how many lines skipped. Exits 1 on a
 * failure, naming it; 2 on bad arguments.
 */
public final class StockProducer {
  private StockProducer() {}

  /** The settings the ledger depends on, over the cluster's own (TLS, SASL) from a file. */
  static Properties settings(String bootstrap, Path clientProperties, String transactionalId)
      throws IOException {
    Properties props = new Properties();
    if (clientProperties != null) {
      try (Reader in = Files.newBufferedReader(clientProperties, StandardCharsets.UTF_8)) {
        props.load(in); // security.protocol, sasl.*, ssl.*: the cluster's
      }
    }
    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true); // a retry never writes twice
    props.put(ProducerConfig.ACKS_CONFIG, "all"); // on every in-sync replica
    props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "zstd");
    // The default partitioner places a keyed record by murmur2, as the ledger checks.
    props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
    props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
    if (transactionalId != null) {
      props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId); // one per feed
    }
    return props;
  }

  /** A record and its record time (null: the producer's clock). */
  record Line(Envelope envelope, Long timestamp) {}

  public static void main(String[] args) {
    try {
      System.exit(run(args));
    } catch (UsageException e) {
      System.err.println("usage: " + e.getMessage());
      System.exit(2);
    } catch (Exception e) {
      System.err.println("error: " + e);
      System.exit(1);
    }
  }

  static final class UsageException extends Exception {
    UsageException(String message) {
      super(message);
    }
  }

  static int run(String[] args) throws Exception {
    List<String> positional = new ArrayList<>();
    Path config = null;
    String pattern = null;
    boolean committedOnly = false;
    String transactionalId = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--transactional-id" -> transactionalId = value(args, ++i, "--transactional-id");
        case "--config-file" -> config = Path.of(value(args, ++i, "--config-file"));
        case "--transactions" -> pattern = value(args, ++i, "--transactions");
        case "--committed-only" -> committedOnly = true;
        default -> {
          if (args[i].startsWith("--")) {
            throw new UsageException("unknown option " + args[i]);
          }
          positional.add(args[i]);
        }
      }
    }
    if (positional.isEmpty()) {
      throw new UsageException("lines BOOTSTRAP TOPIC LINES.jsonl");
    }
    String mode = positional.get(0);
    if (mode.equals("lines") && positional.size() == 4) {
      if (pattern != null && !pattern.matches("[ca]*o?") || "".equals(pattern)) {
        throw new UsageException("--transactions takes letters c and a, then at most one o");
      }
      return lines(positional, config, pattern, committedOnly, transactionalId);
    }
    throw new UsageException("lines BOOTSTRAP TOPIC LINES.jsonl");
  }

  private static String value(String[] args, int i, String option) throws UsageException {
    if (i >= args.length) {
      throw new UsageException(option + " takes a value");
    }
    return args[i];
  }

  /** The `lines` mode. */
  private static int lines(List<String> a, Path config, String pattern, boolean committedOnly,
      String transactionalId) throws Exception {
    String bootstrap = a.get(1);
    String topic = a.get(2);
    List<Line> records = new ArrayList<>();
    int skipped = 0;
    for (String text : Files.readAllLines(Path.of(a.get(3)), StandardCharsets.UTF_8)) {
      Line line = parse(text);
      if (line == null) {
        skipped++; // a broken line of the demo's, on purpose
      } else {
        records.add(line);
      }
    }
    boolean transactional = pattern != null && !committedOnly;
    int committed = 0;
    try (KafkaProducer<String, byte[]> producer =
        new KafkaProducer<>(
            settings(bootstrap, config,
                transactional
                    ? (transactionalId != null ? transactionalId : "java-lines-" + topic)
                    : null))) {
      if (pattern == null) {
        send(producer, topic, records);
        committed = records.size();
      } else {
        if (transactional) {
          producer.initTransactions();
        }
        int runs = pattern.length();
        int size = (records.size() + runs - 1) / runs;
        for (int i = 0; i < runs; i++) {
          List<Line> run = records.subList(
              Math.min(i * size, records.size()), Math.min((i + 1) * size, records.size()));
          char verdict = pattern.charAt(i);
          if (!transactional) {
            if (verdict == 'c') {
              send(producer, topic, run);
              committed += run.size();
            }
            continue;
          }
          producer.beginTransaction();
          send(producer, topic, run);
          producer.flush();
          switch (verdict) {
            case 'c' -> {
              producer.commitTransaction();
              committed += run.size();
            }
            case 'a' -> producer.abortTransaction();
            default -> {
              // Left open: the caller kills this process.
              System.out.println("open " + run.size());
              System.out.flush();
              Thread.sleep(Long.MAX_VALUE);
            }
          }
        }
      }
      producer.flush();
    }
    System.out.println(committed + " " + skipped);
    return 0;
  }

  private static void send(KafkaProducer<String, byte[]> producer, String topic, List<Line> run)
      throws InterruptedException, ExecutionException {
    List<java.util.concurrent.Future<?>> acks = new ArrayList<>();
    for (Line l : run) {
      acks.add(producer.send(new ProducerRecord<>(topic, null, l.timestamp(),
          l.envelope().getIin(), l.envelope().toByteArray())));
    }
    for (var ack : acks) {
      ack.get(); // a failed send fails the run, naming the broker's error
    }
  }

  /** An envelope line, or null when the line is not one. */
  private static Line parse(String text) {
    try {
      com.google.gson.JsonObject obj = com.google.gson.JsonParser.parseString(text)
          .getAsJsonObject();
      Long timestamp = null;
      if (obj.has("envelope")) {
        if (obj.has("timestamp") && !obj.get("timestamp").isJsonNull()) {
          timestamp = java.time.OffsetDateTime.parse(obj.get("timestamp").getAsString())
              .toInstant().toEpochMilli();
        }
        obj = obj.getAsJsonObject("envelope");
      }
      Envelope.Builder b = Envelope.newBuilder();
      JsonFormat.parser().merge(obj.toString(), b);
      return new Line(b.build(), timestamp);
    } catch (RuntimeException | IOException e) {
      return null;
    }
  }
}
