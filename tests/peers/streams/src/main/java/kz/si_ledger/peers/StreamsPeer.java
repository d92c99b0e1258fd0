package kz.si_ledger.peers;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * The benchmark's Kafka Streams peer of the si-ledger: reads the ledger topic
 * from the beginning, folds each contribution into its participant's
 * {@link Account} once per event id, and stops after N input records.
 *
 * <pre>
 * StreamsPeer --bootstrap HOST:PORT --topic T --events N --state-dir DIR --out FILE
 *             [--application-id ID] [--threads K] [--timeout-secs S]
 * </pre>
 *
 * <p>On success it writes FILE (one line per IIN, {@link Account#dumpLine}) and
 * prints one JSON line on standard output: {@code {"events":N,"processed":P,
 * "contributions":C,"duplicates":D,"skipped":S,"participants":I,"seconds":X,
 * "close_seconds":Y,"state_dir_bytes":B}}, X the seconds from start until N
 * records were processed plus Y, the seconds of the closing (final EOS)
 * commit; B the bytes under DIR after close. On failure (the application in
 * ERROR, N not reached in S seconds, default 3600, or close timing out) it
 * prints why on standard error and exits with 1.
 */
public final class StreamsPeer {
  private StreamsPeer() {}

  /** The command line's settings. */
  record Options(String bootstrap, String topic, long events, Path stateDir, Path out,
      String applicationId, int threads, long timeoutSecs) {

    static Options parse(String[] args) {
      Map<String, String> given = new HashMap<>();
      for (int i = 0; i < args.length; i += 2) {
        if (!args[i].startsWith("--") || i + 1 >= args.length) {
          throw new IllegalArgumentException("expected --NAME VALUE pairs, at " + args[i]);
        }
        given.put(args[i].substring(2), args[i + 1]);
      }
      String topic = required(given, "topic");
      Options options = new Options(required(given, "bootstrap"), topic,
          Long.parseLong(required(given, "events")), Path.of(required(given, "state-dir")),
          Path.of(required(given, "out")),
          given.getOrDefault("application-id", "si-ledger-peer-" + topic),
          Integer.parseInt(given.getOrDefault("threads",
              String.valueOf(Runtime.getRuntime().availableProcessors()))),
          Long.parseLong(given.getOrDefault("timeout-secs", "3600")));
      given.keySet().removeAll(List.of("bootstrap", "topic", "events", "state-dir", "out",
          "application-id", "threads", "timeout-secs"));
      if (!given.isEmpty()) {
        throw new IllegalArgumentException("unknown options: " + given.keySet());
      }
      return options;
    }

    private static String required(Map<String, String> given, String name) {
      String value = given.get(name);
      if (value == null) {
        throw new IllegalArgumentException("--" + name + " is required");
      }
      return value;
    }
  }

  /**
   * The Kafka Streams configuration: the defaults, except the settings below.
   *
   * @param threads stream threads of this instance
   */
  static Properties config(String applicationId, String bootstrap, Path stateDir, int threads) {
    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    // Records are Envelope bytes, parsed by the processor.
    props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.ByteArraySerde.class);
    props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.ByteArraySerde.class);
    // The ledger's own guarantee: each record's effect on the stores (and their
    // changelogs) exactly once. Developer Guide, Configuring a Streams
    // Application, processing.guarantee
    // (https://kafka.apache.org/44/streams/developer-guide/config-streams/).
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    // One stream thread per core (default 1). Developer Guide, Configuring a
    // Streams Application, num.stream.threads
    // (https://kafka.apache.org/44/streams/developer-guide/config-streams/).
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, threads);
    // 64 MiB of record cache (default 10 MiB), shared by the threads, in front
    // of the caching stores (topology()): fewer writes to RocksDB and to the
    // changelogs between commits. Developer Guide, Memory Management, Record
    // caches in the Processor API
    // (https://kafka.apache.org/44/streams/developer-guide/memory-mgmt/).
    props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 64L * 1024 * 1024);
    return props;
  }

  /**
   * The topology: the topic's records (key and value bytes) into a
   * {@link ContributionProcessor} counting into {@code counters}, with its two
   * persistent (RocksDB), changelogged stores {@code seen} (event id to a
   * marker) and {@code accounts} (IIN to {@link Account}).
   */
  public static Topology topology(String topic, Counters counters) {
    Topology topology = new Topology();
    topology.addSource("ledger", new ByteArrayDeserializer(), new ByteArrayDeserializer(), topic);
    topology.addProcessor("contributions", () -> new ContributionProcessor(counters), "ledger");
    // Caching on, as the Memory Management page's Processor API example does:
    // without it a store ignores statestore.cache.max.bytes.
    topology.addStateStore(Stores.keyValueStoreBuilder(
            Stores.persistentKeyValueStore(ContributionProcessor.SEEN_STORE),
            Serdes.String(), Serdes.ByteArray()).withCachingEnabled(), "contributions");
    topology.addStateStore(Stores.keyValueStoreBuilder(
            Stores.persistentKeyValueStore(ContributionProcessor.ACCOUNTS_STORE),
            Serdes.String(), Account.serde()).withCachingEnabled(), "contributions");
    return topology;
  }

  /** Runs the peer; see the class comment. */
  public static void main(String[] args) {
    Options options;
    try {
      options = Options.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("streams-peer: " + e.getMessage());
      System.exit(2);
      return;
    }
    try {
      System.exit(run(options));
    } catch (Exception e) {
      System.err.println("streams-peer: " + e);
      System.exit(1);
    }
  }

  private static int run(Options options) throws IOException, InterruptedException {
    Counters counters = new Counters();
    KafkaStreams streams = new KafkaStreams(topology(options.topic(), counters),
        config(options.applicationId(), options.bootstrap(), options.stateDir(), options.threads()));
    AtomicReference<Throwable> failure = new AtomicReference<>();
    streams.setUncaughtExceptionHandler(e -> {
      failure.compareAndSet(null, e);
      return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    AtomicReference<KafkaStreams.State> errorState = new AtomicReference<>();
    streams.setStateListener((newState, oldState) -> {
      if (newState == KafkaStreams.State.ERROR || newState == KafkaStreams.State.PENDING_ERROR) {
        errorState.compareAndSet(null, newState);
      }
    });

    long t0 = System.nanoTime();
    long deadline = t0 + Duration.ofSeconds(options.timeoutSecs()).toNanos();
    streams.start();
    while (counters.processed.get() < options.events()) {
      if (errorState.get() != null || failure.get() != null) {
        return fail(streams, "Kafka Streams failed (" + errorState.get() + "): " + failure.get());
      }
      if (System.nanoTime() - deadline > 0) {
        return fail(streams, counters.processed.get() + " of " + options.events()
            + " records processed in " + options.timeoutSecs() + " s");
      }
      Thread.sleep(10);
    }
    long tDone = System.nanoTime();

    long participants;
    try {
      participants = dump(accountsStore(streams, deadline), options.out());
    } catch (InvalidStateStoreException e) {
      return fail(streams, "the accounts store could not be queried: " + e);
    }

    long closeStart = System.nanoTime();
    boolean closed = streams.close(Duration.ofMinutes(2));
    long closeNanos = System.nanoTime() - closeStart;
    if (!closed) {
      System.err.println("streams-peer: close did not finish in 2 minutes");
      return 1;
    }
    if (errorState.get() != null || failure.get() != null) {
      System.err.println("streams-peer: Kafka Streams failed (" + errorState.get() + "): " + failure.get());
      return 1;
    }
    System.err.printf(Locale.ROOT, "streams-peer: skipped: %d unparsable, %d not contributions, "
        + "%d bad amounts%n", counters.skippedUnparsable.get(),
        counters.skippedNotContribution.get(), counters.skippedBadAmount.get());
    double closeSecs = closeNanos / 1e9;
    System.out.printf(Locale.ROOT, "{\"events\":%d,\"processed\":%d,\"contributions\":%d,"
            + "\"duplicates\":%d,\"skipped\":%d,\"participants\":%d,\"seconds\":%.6f,"
            + "\"close_seconds\":%.6f,\"state_dir_bytes\":%d}%n",
        options.events(), counters.processed.get(), counters.contributions.get(),
        counters.duplicates.get(), counters.skipped(), participants,
        (tDone - t0) / 1e9 + closeSecs, closeSecs, treeBytes(options.stateDir()));
    return 0;
  }

  private static int fail(KafkaStreams streams, String why) {
    System.err.println("streams-peer: " + why);
    streams.close(Duration.ofMinutes(2));
    return 1;
  }

  /** The instance's {@code accounts} stores, once queryable (RUNNING), retried until the deadline. */
  private static ReadOnlyKeyValueStore<String, Account> accountsStore(KafkaStreams streams,
      long deadline) throws InterruptedException {
    while (true) {
      try {
        return streams.store(StoreQueryParameters.fromNameAndType(
            ContributionProcessor.ACCOUNTS_STORE, QueryableStoreTypes.keyValueStore()));
      } catch (InvalidStateStoreException e) {
        if (System.nanoTime() - deadline > 0) {
          throw e;
        }
        Thread.sleep(10);
      }
    }
  }

  /**
   * Writes every account of {@code store} to {@code out}, UTF-8, one
   * {@link Account#dumpLine} and a newline per IIN, sorted by IIN.
   *
   * @return the number of lines (participants)
   */
  static long dump(ReadOnlyKeyValueStore<String, Account> store, Path out) throws IOException {
    List<String> lines = new ArrayList<>();
    try (KeyValueIterator<String, Account> all = store.all()) {
      while (all.hasNext()) {
        KeyValue<String, Account> entry = all.next();
        lines.add(entry.value.dumpLine(entry.key));
      }
    }
    // An IIN has no tab, so sorting the lines sorts by IIN.
    lines.sort(null);
    try (BufferedWriter writer = Files.newBufferedWriter(out, StandardCharsets.UTF_8)) {
      for (String line : lines) {
        writer.write(line);
        writer.write('\n');
      }
    }
    return lines.size();
  }

  /** The total size in bytes of the regular files under {@code dir}. */
  static long treeBytes(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return 0;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      return paths.mapToLong(path -> {
        try {
          BasicFileAttributes attributes = Files.readAttributes(path, BasicFileAttributes.class);
          return attributes.isRegularFile() ? attributes.size() : 0;
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }).sum();
    }
  }
}
