package kz.siledger.client;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Whether the ledger's decoder (prost) decodes a value: every field as it arrives on the wire,
 * before a later one replaces it. protobuf-java reads more leniently: a known field with the
 * wrong wire type goes among the unknown fields, a tag or a length above 32 bits is cut to 32,
 * a ten-byte varint may overflow 64 bits, and a oneof case a later case replaced is never
 * looked at again. Walks the bytes with the message's descriptor and refuses what prost
 * refuses.
 */
final class Wire {
  private final byte[] b;
  private int at;

  private Wire(byte[] b, int from) {
    this.b = b;
    this.at = from;
  }

  static void check(byte[] value, Descriptor type) throws InvalidProtocolBufferException {
    new Wire(value, 0).message(type, value.length, "");
  }

  private static InvalidProtocolBufferException undecodable(String why) {
    return new InvalidProtocolBufferException(why);
  }

  private long varint() throws InvalidProtocolBufferException {
    long v = 0;
    for (int i = 0; i < 10; i++) {
      if (at >= b.length) {
        throw undecodable("a varint runs past the end");
      }
      int x = b[at++] & 0xFF;
      if (i == 9 && x > 1) {
        throw undecodable("invalid varint: more than 64 bits");
      }
      v |= (long) (x & 0x7F) << (7 * i);
      if (x < 0x80) {
        return v;
      }
    }
    throw undecodable("invalid varint: more than ten bytes");
  }

  /** Reads the fields of a {@code type} message up to {@code end}. */
  private void message(Descriptor type, int end, String path)
      throws InvalidProtocolBufferException {
    while (at < end) {
      long key = varint();
      if (key > 0xFFFF_FFFFL) {
        throw undecodable("invalid key value " + key);
      }
      int wire = (int) (key & 7);
      long number = key >>> 3;
      if (number == 0) {
        throw undecodable("invalid tag value: 0");
      }
      FieldDescriptor f = type == null ? null : type.findFieldByNumber((int) number);
      String name = f == null ? path + number : path + f.getName();
      if (f != null && wire != expected(f)) {
        throw undecodable(name + ": invalid wire type " + wire + ", expected " + expected(f));
      }
      skipOrEnter(wire, number, f, end, name);
    }
    if (at != end) {
      throw undecodable(path + ": a field runs past its message");
    }
  }

  private void skipOrEnter(int wire, long number, FieldDescriptor f, int end, String name)
      throws InvalidProtocolBufferException {
    switch (wire) {
      case 0 -> varint();
      case 1 -> skip(8, end);
      case 5 -> skip(4, end);
      case 2 -> {
        long length = varint();
        if (length > end - at) {
          throw undecodable(name + ": buffer underflow");
        }
        int to = at + (int) length;
        if (f != null && f.getType() == FieldDescriptor.Type.MESSAGE) {
          message(f.getMessageType(), to, name + ".");
        } else if (f != null && f.getType() == FieldDescriptor.Type.STRING) {
          try {
            StandardCharsets.UTF_8
                .newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)
                .decode(ByteBuffer.wrap(b, at, (int) length));
          } catch (CharacterCodingException e) {
            throw undecodable(name + ": not UTF-8");
          }
        }
        at = to;
      }
      case 3 -> {
        // A group (unknown: a known field is never one here): skipped to its end.
        while (true) {
          if (at >= end) {
            throw undecodable(name + ": a group runs past the end");
          }
          long key = varint();
          if (key > 0xFFFF_FFFFL || (key >>> 3) == 0) {
            throw undecodable(name + ": invalid key in a group");
          }
          if ((key & 7) == 4) {
            if ((key >>> 3) != number) {
              throw undecodable(name + ": a group ends with another field's number");
            }
            break;
          }
          skipOrEnter((int) (key & 7), key >>> 3, null, end, name);
        }
      }
      default -> throw undecodable(name + ": invalid wire type " + wire);
    }
  }

  private void skip(int n, int end) throws InvalidProtocolBufferException {
    if (end - at < n) {
      throw undecodable("buffer underflow");
    }
    at += n;
  }

  private static int expected(FieldDescriptor f) {
    return switch (f.getType()) {
      case STRING, BYTES, MESSAGE -> 2;
      case FIXED64, SFIXED64, DOUBLE -> 1;
      case FIXED32, SFIXED32, FLOAT -> 5;
      case GROUP -> 3;
      default -> 0;
    };
  }
}
