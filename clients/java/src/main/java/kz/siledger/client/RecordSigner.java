package kz.siledger.client;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.interfaces.EdECPrivateKey;
import java.security.spec.NamedParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Arrays;
import java.util.Base64;
import si.ledger.v1.Events.Envelope;

/**
 * An authority's Ed25519 key (RFC 8032), signing privileged records as the ledger verifies
 * them (docs/authority.md): over {@link Records#DOMAIN_PREFIX} followed by the record's
 * canonical bytes without its signature. The JDK's own Ed25519 (JDK 15 or later); no other
 * library.
 */
public final class RecordSigner {
  private final PrivateKey key;
  private final byte[] publicKey;
  private final String keyId;

  private RecordSigner(PrivateKey key, byte[] publicKey) {
    this.key = key;
    this.publicKey = publicKey;
    this.keyId = keyId(publicKey);
  }

  /**
   * The key of a PKCS#8 PEM file ({@code -----BEGIN PRIVATE KEY-----}, RFC 8410), as {@code
   * si-ledger keygen} and {@code openssl genpkey -algorithm ed25519} write it.
   *
   * @throws IOException when the file cannot be read
   * @throws GeneralSecurityException when it holds no Ed25519 private key (the message never
   *     quotes the file)
   */
  public static RecordSigner fromPemFile(Path pem) throws IOException, GeneralSecurityException {
    return fromPem(Files.readString(pem, StandardCharsets.US_ASCII));
  }

  /** As {@link #fromPemFile}, from the PEM text. */
  public static RecordSigner fromPem(String pem) throws GeneralSecurityException {
    String begin = "-----BEGIN PRIVATE KEY-----";
    String end = "-----END PRIVATE KEY-----";
    int from = pem.indexOf(begin);
    int to = pem.indexOf(end);
    if (from < 0 || to < from) {
      throw new GeneralSecurityException(
          "not a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)");
    }
    byte[] der;
    try {
      der = Base64.getMimeDecoder().decode(pem.substring(from + begin.length(), to));
    } catch (IllegalArgumentException e) {
      throw new GeneralSecurityException("the PEM key's base64 does not decode");
    }
    PrivateKey key =
        KeyFactory.getInstance("Ed25519").generatePrivate(new PKCS8EncodedKeySpec(der));
    byte[] seed =
        ((EdECPrivateKey) key)
            .getBytes()
            .orElseThrow(() -> new GeneralSecurityException("the key hides its bytes"));
    return new RecordSigner(key, publicKey(seed));
  }

  /**
   * The public key of a 32-byte RFC 8032 seed. The JDK derives a public key only when it
   * generates a pair: it is given a random source that yields the seed.
   */
  private static byte[] publicKey(byte[] seed) throws GeneralSecurityException {
    SecureRandom fixed =
        new SecureRandom() {
          private static final long serialVersionUID = 1L;

          @Override
          public void nextBytes(byte[] bytes) {
            if (bytes.length != seed.length) {
              throw new IllegalStateException("an Ed25519 seed has 32 bytes");
            }
            System.arraycopy(seed, 0, bytes, 0, seed.length);
          }
        };
    KeyPairGenerator g = KeyPairGenerator.getInstance("Ed25519");
    g.initialize(NamedParameterSpec.ED25519, fixed);
    KeyPair pair = g.generateKeyPair();
    byte[] again = ((EdECPrivateKey) pair.getPrivate()).getBytes().orElseThrow();
    if (!Arrays.equals(again, seed)) {
      throw new GeneralSecurityException("could not derive the public key");
    }
    byte[] spki = pair.getPublic().getEncoded(); // X.509 SubjectPublicKeyInfo: 12 + 32 bytes
    return Arrays.copyOfRange(spki, spki.length - 32, spki.length);
  }

  /** The RFC 7638 JWK thumbprint of an Ed25519 public key (RFC 8037 §2): the key id. */
  static String keyId(byte[] publicKey) {
    String jwk =
        "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"" + base64url(publicKey) + "\"}";
    try {
      return base64url(
          MessageDigest.getInstance("SHA-256").digest(jwk.getBytes(StandardCharsets.US_ASCII)));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("SHA-256 is in every JDK", e);
    }
  }

  private static String base64url(byte[] b) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  /** The key id: the public key's RFC 7638 thumbprint, as {@code si-ledger keygen} prints it. */
  public String keyId() {
    return keyId;
  }

  /** The 32-byte public key, base64url without padding (the trust file's {@code public_key}). */
  public String publicKey() {
    return base64url(publicKey);
  }

  /**
   * The record, canonical, signed with this key: its {@code signature} holds the key id and
   * the 64-byte Ed25519 signature. A signature the record had is replaced.
   *
   * @throws InvalidRecordException when the ledger would refuse the record
   */
  public Envelope sign(Envelope record) {
    // The signature it had is replaced, not judged: cleared before the checks.
    Envelope unsigned = Records.canonical(record.toBuilder().clearSignature().build());
    try {
      Signature ed = Signature.getInstance("Ed25519");
      ed.initSign(key);
      ed.update(Records.messageOf(unsigned));
      return unsigned.toBuilder()
          .setSignature(
              si.ledger.v1.Common.Signature.newBuilder()
                  .setKeyId(keyId)
                  .setValue(ByteString.copyFrom(ed.sign())))
          .build();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("Ed25519 signing failed", e);
    }
  }

  /** The key id only: a private key never reaches a log. */
  @Override
  public String toString() {
    return "RecordSigner(" + keyId + ")";
  }
}
