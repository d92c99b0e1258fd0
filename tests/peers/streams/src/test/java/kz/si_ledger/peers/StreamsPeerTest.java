package kz.si_ledger.peers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import si.ledger.v1.Events.ContributionPaid;
import si.ledger.v1.Events.Envelope;
import si.ledger.v1.Events.PersonRegistered;

class StreamsPeerTest {
  private static final String TOPIC = "si-ledger";
  private static final String A = "900101300123";
  private static final String B = "850202400456";
  private static final String C = "770303500789";

  private static byte[] contribution(String eventId, String iin, String period, String amount) {
    return Envelope.newBuilder().setEventId(eventId).setIin(iin).setSource("bank")
        .setContribution(ContributionPaid.newBuilder().setPeriod(period).setAmount(amount))
        .build().toByteArray();
  }

  @Test
  void foldsContributionsOncePerEventIdAndSkipsTheRest(@TempDir Path dir) throws Exception {
    Counters counters = new Counters();
    try (TopologyTestDriver driver = new TopologyTestDriver(StreamsPeer.topology(TOPIC, counters),
        StreamsPeer.config("peer-test", "127.0.0.1:9", dir.resolve("state"), 1))) {
      TestInputTopic<byte[], byte[]> in = driver.createInputTopic(TOPIC,
          new ByteArraySerializer(), new ByteArraySerializer());
      byte[] keyA = A.getBytes(StandardCharsets.UTF_8);
      in.pipeInput(keyA, contribution("e1", A, "2025-01", "4250.00"));
      in.pipeInput(keyA, contribution("e2", A, "2025-02", "100.5"));
      // The same event id again, another amount: the first one wins.
      in.pipeInput(keyA, contribution("e1", A, "2025-01", "999.99"));
      in.pipeInput(B.getBytes(StandardCharsets.UTF_8), Envelope.newBuilder().setEventId("e3")
          .setIin(B).setPerson(PersonRegistered.newBuilder().setSurname("Ахметов")).build()
          .toByteArray());
      in.pipeInput(keyA, new byte[] {(byte) 0xff, (byte) 0xff, 0x00, 0x13});
      in.pipeInput(keyA, (byte[]) null);
      // Three fraction digits, negative, not a number: skipped, and their ids stay free.
      in.pipeInput(keyA, contribution("e4", A, "2025-01", "12.345"));
      in.pipeInput(keyA, contribution("e5", A, "2025-01", "-1.00"));
      in.pipeInput(keyA, contribution("e6", A, "2025-01", "12,00"));
      in.pipeInput(keyA, contribution("e4", A, "2025-03", "0.07"));
      in.pipeInput(C.getBytes(StandardCharsets.UTF_8), contribution("e7", C, "2024-12", "1"));

      KeyValueStore<String, Account> accounts =
          driver.getKeyValueStore(ContributionProcessor.ACCOUNTS_STORE);
      Account a = accounts.get(A);
      assertEquals(425_000 + 10_050 + 7, a.totalTiyn());
      assertEquals(Map.of("2025-01", 425_000L, "2025-02", 10_050L, "2025-03", 7L), a.periods());
      assertEquals(100, accounts.get(C).totalTiyn());
      assertNull(accounts.get(B));

      KeyValueStore<String, byte[]> seen = driver.getKeyValueStore(ContributionProcessor.SEEN_STORE);
      for (String id : List.of("e1", "e2", "e4", "e7")) {
        assertEquals(1, seen.get(id).length, id);
      }
      for (String id : List.of("e3", "e5", "e6")) {
        assertNull(seen.get(id), id);
      }

      assertEquals(11, counters.processed.get());
      assertEquals(4, counters.contributions.get());
      assertEquals(1, counters.duplicates.get());
      assertEquals(2, counters.skippedUnparsable.get());
      assertEquals(1, counters.skippedNotContribution.get());
      assertEquals(3, counters.skippedBadAmount.get());
      assertEquals(6, counters.skipped());

      Path out = dir.resolve("dump.tsv");
      assertEquals(2, StreamsPeer.dump(accounts, out));
      assertEquals(C + "\t100\t2024-12=100\n"
              + A + "\t435057\t2025-01=425000,2025-02=10050,2025-03=7\n",
          Files.readString(out, StandardCharsets.UTF_8));
    }
  }

  @Test
  void amountsInTiyn() {
    assertEquals(OptionalLong.of(425_000), ContributionProcessor.tiyn("4250.00"));
    assertEquals(OptionalLong.of(1), ContributionProcessor.tiyn("0.01"));
    assertEquals(OptionalLong.of(0), ContributionProcessor.tiyn("0"));
    assertEquals(OptionalLong.of(Long.MAX_VALUE), ContributionProcessor.tiyn("92233720368547758.07"));
    for (String bad : List.of("", "12.345", "-0.01", "abc", "92233720368547758.08", "1e400")) {
      assertEquals(OptionalLong.empty(), ContributionProcessor.tiyn(bad), bad);
    }
  }

  @Test
  void accountSerdeRoundTrips() {
    Account account = new Account();
    account.add("2025-02", 5);
    account.add("2024-11", 1_000_000_000_000L);
    account.add("2025-02", 10);
    var serde = Account.serde();
    Account back = serde.deserializer().deserialize("t", serde.serializer().serialize("t", account));
    assertEquals(1_000_000_000_015L, back.totalTiyn());
    assertEquals(account.periods(), back.periods());
    assertEquals(A + "\t1000000000015\t2024-11=1000000000000,2025-02=15", back.dumpLine(A));
  }
}
