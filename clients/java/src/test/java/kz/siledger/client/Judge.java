package kz.siledger.client;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import si.ledger.v1.Events.Envelope;

/**
 * Decides records read from standard input, one hex-encoded record value a line, and prints
 * for each {@code ok CANONICAL_HEX} (the canonical bytes without the signature), {@code
 * refused FIELD} or {@code undecodable}: the differential test (tests/tests/clients.rs) compares these with the
 * ledger's own decisions on random records.
 */
public final class Judge {
  private Judge() {}

  public static void main(String[] args) throws Exception {
    HexFormat hex = HexFormat.of();
    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    try (BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
      for (String line = in.readLine(); line != null; line = in.readLine()) {
        Envelope record;
        try {
          record = Records.parse(hex.parseHex(line.trim()));
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
          out.println("undecodable");
          continue;
        }
        try {
          Envelope c = Records.canonical(record).toBuilder().clearSignature().build();
          out.println("ok " + hex.formatHex(c.toByteArray()));
        } catch (InvalidRecordException e) {
          out.println("refused " + e.field());
        }
      }
    }
    out.flush();
  }
}
