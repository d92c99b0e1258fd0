package kz.siledger.examples;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import si.ledger.v1.Common.PaymentDocument;
import si.ledger.v1.Common.PersonName;
import si.ledger.v1.Events.ContributionPaid;
import si.ledger.v1.Events.Envelope;
import si.ledger.v1.Events.PersonRegistered;

/**
 * A payment processor's producer for the si-ledger, with the stock Java client
 * ({@code kafka-clients}) and {@code protobuf-java}: what docs/kafka.md shows, run by
 * the test suite (tests/tests/kafka.rs).
 *
 * <pre>
 * LedgerProducer order    BOOTSTRAP TOPIC IIN KEY.pem KEY_ID OUT.jsonl [--config-file F]
 * LedgerProducer lines    BOOTSTRAP TOPIC LINES.jsonl [--config-file F]
 *                         [--transactions PATTERN] [--committed-only]
 * </pre>
 *
 * <p>{@code order}: a signed register record (PersonRegistered) for IIN, signed with the
 * Ed25519 key (PKCS#8 PEM, as {@code si-ledger keygen} writes it; KEY_ID is the key id it
 * prints), then one payment order of two contribution lines for IIN, in one transaction.
 * The three envelopes are also written to OUT.jsonl, each with its record time, in the
 * JSON lines {@code si-ledger publish} reads.
 *
 * <p>{@code lines}: each JSON line (an Envelope in the proto3 JSON mapping, or {@code
 * {"timestamp", "envelope"}}) becomes one record keyed by its IIN; a line that is not an
 * envelope is skipped and counted. With {@code --transactions PATTERN} the lines are split
 * into len(PATTERN) consecutive runs, each one transaction: committed ({@code c}), aborted
 * ({@code a}), or, as the last letter only, left open ({@code o}: the records are sent and
 * flushed, "open" is printed, and the producer waits to be killed). {@code
 * --committed-only}: no transactions; only the committed runs are sent (a reference).
 *
 * <p>Prints how many records were committed and how many lines skipped. Exits 1 on a
 * failure, naming it; 2 on bad arguments.
 */
public final class LedgerProducer {
  private LedgerProducer() {}

  // docs:begin settings
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
  // docs:end settings

  // docs:begin contribution
  /** One line of a payment order: a social contribution (PPC 012) paid for one person. */
  static Envelope contribution(
      String eventId, String iin, PaymentDocument order, String period, String amount,
      PersonName person) {
    return Envelope.newBuilder()
        .setEventId(eventId) // unique per line: a re-publish of it is a duplicate
        .setIin(iin) // also the record key
        .setSource("bank-42")
        .setContribution(
            ContributionPaid.newBuilder()
                .setPayment(order) // the order's own fields, alike on each of its lines
                .setPeriod(period) // "YYYY-MM"
                .setAmount(amount) // tenge, two decimals: "27050.00"
                .setPerson(person))
        .build();
  }
  // docs:end contribution

  // docs:begin signing
  /** The Ed25519 private key of a PKCS#8 PEM file (as `si-ledger keygen` writes it). */
  static PrivateKey readKey(Path pem) throws IOException, GeneralSecurityException {
    String text = Files.readString(pem, StandardCharsets.US_ASCII);
    byte[] der =
        Base64.getMimeDecoder()
            .decode(
                text.replace("-----BEGIN PRIVATE KEY-----", "")
                    .replace("-----END PRIVATE KEY-----", ""));
    return KeyFactory.getInstance("Ed25519").generatePrivate(new PKCS8EncodedKeySpec(der));
  }

  /**
   * A privileged record signed as the ledger checks it: Ed25519 over "si-ledger/v1
   * Envelope\n" followed by the envelope without its signature, serialized in field-number
   * order (protobuf-java's own order), every value in its canonical spelling.
   */
  static Envelope signed(Envelope unsigned, PrivateKey key, String keyId)
      throws GeneralSecurityException {
    ByteArrayOutputStream message = new ByteArrayOutputStream();
    message.writeBytes("si-ledger/v1 Envelope\n".getBytes(StandardCharsets.US_ASCII));
    message.writeBytes(unsigned.toBuilder().clearSignature().build().toByteArray());
    Signature ed = Signature.getInstance("Ed25519");
    ed.initSign(key);
    ed.update(message.toByteArray());
    return unsigned.toBuilder()
        .setSignature(
            si.ledger.v1.Common.Signature.newBuilder()
                .setKeyId(keyId) // the key's RFC 7638 thumbprint, as `si-ledger keygen` prints
                .setValue(ByteString.copyFrom(ed.sign())))
        .build();
  }
  // docs:end signing

  // docs:begin transaction
  /** One payment order's lines in one transaction: the ledger never sees half an order. */
  static void publishOrder(KafkaProducer<String, byte[]> producer, String topic,
      List<Envelope> lines, Long recordTime) {
    producer.beginTransaction();
    try {
      for (Envelope line : lines) {
        producer.send(new ProducerRecord<>(topic, null, recordTime, line.getIin(),
            line.toByteArray()));
      }
      producer.commitTransaction();
    } catch (RuntimeException e) {
      producer.abortTransaction(); // none of the order's lines is read
      throw e;
    }
  }
  // docs:end transaction

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
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
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
      throw new UsageException("order|lines BOOTSTRAP TOPIC ...");
    }
    String mode = positional.get(0);
    if (mode.equals("order") && positional.size() == 7) {
      return order(positional, config);
    }
    if (mode.equals("lines") && positional.size() == 4) {
      if (pattern != null && !pattern.matches("[ca]*o?") || "".equals(pattern)) {
        throw new UsageException("--transactions takes letters c and a, then at most one o");
      }
      return lines(positional, config, pattern, committedOnly);
    }
    throw new UsageException(
        "order BOOTSTRAP TOPIC IIN KEY.pem KEY_ID OUT.jsonl, or lines BOOTSTRAP TOPIC LINES.jsonl");
  }

  private static String value(String[] args, int i, String option) throws UsageException {
    if (i >= args.length) {
      throw new UsageException(option + " takes a value");
    }
    return args[i];
  }

  /** The `order` mode: a signed register record, then a payment order of two lines. */
  private static int order(List<String> a, Path config) throws Exception {
    String bootstrap = a.get(1);
    String topic = a.get(2);
    String iin = a.get(3);
    PrivateKey key = readKey(Path.of(a.get(4)));
    String keyId = a.get(5);
    Path out = Path.of(a.get(6));

    Envelope person =
        signed(
            Envelope.newBuilder()
                .setEventId("java-reg-" + iin)
                .setIin(iin)
                .setSource("register-gateway")
                .setPerson(
                    PersonRegistered.newBuilder()
                        .setSurname("Ахметова")
                        .setName("Айгерим")
                        .setBirthDate("1990-05-17")
                        .setSex("F")
                        .setCitizenship("KZ")
                        .setEffectiveOn("1990-05-17"))
                .build(),
            key,
            keyId);
    PaymentDocument order =
        PaymentDocument.newBuilder()
            .setDocumentNumber("JAVA-" + iin)
            .setDocumentDate("2026-10-16")
            .setReceivedOn("2026-10-16")
            .setDispatchedOn("2026-10-16")
            .setPpc("012")
            .setPayerId("110340010179")
            .setPayerName("АО «Казтранс»")
            .setRecipientName("НАО «Государственная корпорация «Правительство для граждан»")
            .setTotalAmount("54100.00")
            .setLineCount(2)
            .build();
    PersonName name =
        PersonName.newBuilder()
            .setSurname("Ахметова")
            .setName("Айгерим")
            .setBirthDate("1990-05-17")
            .build();
    List<Envelope> lines =
        List.of(
            contribution("java-" + iin + "-1", iin, order, "2026-08", "27050.00", name),
            contribution("java-" + iin + "-2", iin, order, "2026-09", "27050.00", name));
    // Record times fixed, so that a reference publish of OUT.jsonl is the same log.
    long registered = Instant.parse("2026-07-23T04:00:00Z").toEpochMilli();
    long received = Instant.parse("2026-10-16T06:00:00Z").toEpochMilli();

    try (KafkaProducer<String, byte[]> producer =
        new KafkaProducer<>(settings(bootstrap, config, "java-order-" + topic))) {
      producer.initTransactions();
      producer.beginTransaction();
      producer.send(
          new ProducerRecord<>(topic, null, registered, iin, person.toByteArray()));
      producer.commitTransaction();
      publishOrder(producer, topic, lines, received);
    }
    try (Writer w = Files.newBufferedWriter(out, StandardCharsets.UTF_8)) {
      w.write(jsonLine(person, registered));
      for (Envelope line : lines) {
        w.write(jsonLine(line, received));
      }
    }
    System.out.println("3 0");
    return 0;
  }

  private static String jsonLine(Envelope e, long timestamp)
      throws InvalidProtocolBufferException {
    String envelope = JsonFormat.printer().omittingInsignificantWhitespace().print(e);
    return "{\"timestamp\":\"" + Instant.ofEpochMilli(timestamp) + "\",\"envelope\":"
        + envelope + "}\n";
  }

  /** The `lines` mode. */
  private static int lines(List<String> a, Path config, String pattern, boolean committedOnly)
      throws Exception {
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
            settings(bootstrap, config, transactional ? "java-lines-" + topic : null))) {
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
