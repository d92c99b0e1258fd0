package kz.si_ledger.peers;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Collections;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;

/**
 * One participant's contributions: the total and the sum per period, in tiyn
 * (1/100 KZT, exact). The value of the {@code accounts} store, keyed by IIN.
 */
public final class Account {
  private long totalTiyn;
  private final TreeMap<String, Long> periods = new TreeMap<>();

  /** The sum of every contribution folded, in tiyn. */
  public long totalTiyn() {
    return totalTiyn;
  }

  /** Period ("YYYY-MM") to the sum of its contributions in tiyn, periods ascending. */
  public SortedMap<String, Long> periods() {
    return Collections.unmodifiableSortedMap(periods);
  }

  /**
   * Adds one contribution of {@code tiyn} (1/100 KZT, not negative) for
   * {@code period} ("YYYY-MM") to the total and to that period's sum.
   *
   * @throws ArithmeticException if a sum would overflow a long; nothing is changed then
   */
  public void add(String period, long tiyn) {
    long total = Math.addExact(totalTiyn, tiyn);
    long periodSum = Math.addExact(periods.getOrDefault(period, 0L), tiyn);
    totalTiyn = total;
    periods.put(period, periodSum);
  }

  /**
   * The dump's line for this account, without the newline:
   * {@code IIN<TAB>total_tiyn<TAB>PERIOD=tiyn,PERIOD=tiyn...}, periods ascending.
   */
  public String dumpLine(String iin) {
    StringBuilder line = new StringBuilder(iin).append('\t').append(totalTiyn).append('\t');
    String separator = "";
    for (Map.Entry<String, Long> period : periods.entrySet()) {
      line.append(separator).append(period.getKey()).append('=').append(period.getValue());
      separator = ",";
    }
    return line.toString();
  }

  /**
   * The store's encoding: the total (8 bytes), the number of periods (4 bytes),
   * then each period as modified UTF-8 and its sum (8 bytes), periods ascending.
   */
  public static Serde<Account> serde() {
    return Serdes.serdeFrom((topic, account) -> account == null ? null : account.encode(),
        (topic, bytes) -> bytes == null ? null : decode(bytes));
  }

  private byte[] encode() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(12 + 16 * periods.size());
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeLong(totalTiyn);
      out.writeInt(periods.size());
      for (Map.Entry<String, Long> period : periods.entrySet()) {
        out.writeUTF(period.getKey());
        out.writeLong(period.getValue());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  private static Account decode(byte[] bytes) {
    Account account = new Account();
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
      account.totalTiyn = in.readLong();
      for (int i = in.readInt(); i > 0; i--) {
        account.periods.put(in.readUTF(), in.readLong());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return account;
  }
}
