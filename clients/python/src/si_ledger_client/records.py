"""The ledger's records, built, spelled and checked as the ledger does.

Each builder takes the envelope's fields (event id, the participant's IIN,
source) and the payload's fields as keyword arguments of the message
generated from proto/ (a nested message as the message or as a dict), and
returns the Envelope in its canonical spelling, or raises InvalidRecord
naming the first field the ledger would refuse::

    line = records.contribution(
        "bank-42/PP-1/1", "900517400015", "bank-42",
        payment={"received_on": "2026-01-10", "ppc": "012", "payer_id": "150340000179"},
        period="2025-12", amount="27050",
        person={"surname": "Ахметова", "name": "Айгерим", "birth_date": "1990-05-17"})

`contribution` and `refund` are open kinds any payment processor may
publish; the others are privileged: an authority signs them
(`si_ledger_client.RecordSigner`) or the projector refuses them
(docs/authority.md).
"""
from __future__ import annotations

import decimal

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from si.ledger.v1 import common_pb2, events_pb2

from ._rules import InvalidRecord, canonicalize, check, spell

#: What precedes a record's canonical bytes in the message an authority signs.
DOMAIN_PREFIX = b"si-ledger/v1 Envelope\n"

_OPEN = ("contribution", "refund")


def canonical(record: events_pb2.Envelope) -> events_pb2.Envelope:
    """A copy of the record in the ledger's canonical spelling, checked as
    the projector checks it. A signature, if any, is kept as it is.

    Raises InvalidRecord naming the first field the ledger would refuse:
    the same field the shared test vectors give."""
    c = canonicalize(record)
    try:
        check(c)
    except InvalidRecord as e:
        if e.event_id or not c.event_id:
            raise
        raise InvalidRecord(e.field, e.reason, _shown_id(c.event_id)) from None
    return c


def _shown_id(event_id: str) -> str:
    """An event id as an error quotes it: at most 128 characters."""
    return event_id if len(event_id) <= 128 else event_id[:128] + "…"


def signed_message(record: events_pb2.Envelope) -> bytes:
    """The message an authority signs for `record`: DOMAIN_PREFIX followed
    by the record's canonical bytes without its signature (protobuf's
    encoding, fields in field-number order)."""
    c = canonical(record)
    c.ClearField("signature")
    return _message_of(c)


def _message_of(unsigned: events_pb2.Envelope) -> bytes:
    """signed_message of a record canonical already and without its signature."""
    return DOMAIN_PREFIX + unsigned.SerializeToString(deterministic=True)


def parse(value: bytes) -> events_pb2.Envelope:
    """Parses a record value (the bare Envelope) as the ledger does. Raises
    google.protobuf.message.DecodeError where the ledger finds the value
    undecodable and protobuf would read it: a known field with the wrong
    wire type (anywhere, even in a oneof case a later one replaced), a
    varint over 64 bits. (A tag padded with zero bytes the ledger reads and
    protobuf refuses: no encoder writes one.)"""
    _wire(memoryview(value), 0, len(value), events_pb2.Envelope.DESCRIPTOR, "")
    return events_pb2.Envelope.FromString(value)


_EXPECTED = {FieldDescriptor.TYPE_STRING: 2, FieldDescriptor.TYPE_BYTES: 2,
             FieldDescriptor.TYPE_MESSAGE: 2, FieldDescriptor.TYPE_FIXED64: 1,
             FieldDescriptor.TYPE_SFIXED64: 1, FieldDescriptor.TYPE_DOUBLE: 1,
             FieldDescriptor.TYPE_FIXED32: 5, FieldDescriptor.TYPE_SFIXED32: 5,
             FieldDescriptor.TYPE_FLOAT: 5, FieldDescriptor.TYPE_GROUP: 3}


def _varint(b, at: int) -> tuple[int, int]:
    v = 0
    for i in range(10):
        if at >= len(b):
            raise DecodeError("a varint runs past the end")
        x = b[at]
        at += 1
        if i == 9 and x > 1:
            raise DecodeError("invalid varint: more than 64 bits")
        v |= (x & 0x7F) << (7 * i)
        if x < 0x80:
            return v, at
    raise DecodeError("invalid varint: more than ten bytes")


def _wire(b, at: int, end: int, descriptor, path: str) -> int:
    """Walks the fields of a `descriptor` message in b[at:end] as the
    ledger's decoder (prost) does: every field as it arrives, before a
    later one replaces it. Returns where it stopped."""
    while at < end:
        at = _field(b, at, end, descriptor, path)
    if at != end:
        raise DecodeError(f"{path}: a field runs past its message")
    return at


def _field(b, at: int, end: int, descriptor, path: str) -> int:
    """Walks one field at b[at:end] of a `descriptor` message (None: an
    unknown group's); returns where it ends."""
    key, at = _varint(b, at)
    if key > 0xFFFFFFFF or key >> 3 == 0:
        raise DecodeError(f"{path}: invalid key {key}")
    wire, number = key & 7, key >> 3
    field = descriptor.fields_by_number.get(number) if descriptor is not None else None
    name = f"{path}{field.name if field is not None else number}"
    if field is not None and wire != _EXPECTED.get(field.type, 0):
        raise DecodeError(f"{name}: invalid wire type {wire}")
    if wire == 0:
        _, at = _varint(b, at)
    elif wire in (1, 5):
        at += 8 if wire == 1 else 4
        if at > end:
            raise DecodeError(f"{name}: buffer underflow")
    elif wire == 2:
        length, at = _varint(b, at)
        if length > end - at:
            raise DecodeError(f"{name}: buffer underflow")
        if field is not None and field.type == FieldDescriptor.TYPE_MESSAGE:
            _wire(b, at, at + length, field.message_type, name + ".")
        elif field is not None and field.type == FieldDescriptor.TYPE_STRING:
            try:
                bytes(b[at:at + length]).decode("utf-8")
            except UnicodeDecodeError:
                raise DecodeError(f"{name}: not UTF-8") from None
        at += length
    elif wire == 3:
        # An unknown group, skipped to its end.
        while True:
            if at >= end:
                raise DecodeError(f"{name}: a group runs past the end")
            next_key, after = _varint(b, at)
            if next_key & 7 == 4:
                if next_key >> 3 != number:
                    raise DecodeError(f"{name}: a group ends with another field's number")
                at = after
                break
            at = _field(b, at, end, None, name + ".")
    else:
        raise DecodeError(f"{name}: invalid wire type {wire}")
    return at


def kind(record: events_pb2.Envelope) -> str | None:
    """The record's kind as the ledger names it (`contribution`, `person`, …)."""
    return record.WhichOneof("payload")


def is_privileged(record: events_pb2.Envelope) -> bool:
    """Whether the record's kind needs an authority's signature: every kind
    but `contribution` and `refund` (docs/authority.md)."""
    k = kind(record)
    return k is not None and k not in _OPEN


def _values(fields: dict, descriptor, at: str) -> dict:
    """The fields of the message `descriptor` describes, as protobuf takes
    them, each checked against its field's type so that a wrong one is
    refused naming the field (protobuf itself says only "bad argument
    type"). A decimal.Decimal where a text belongs (an amount) is spelled
    out; a float is refused: a binary fraction is not an amount of tenge."""
    out = {}
    for name, value in fields.items():
        path = f"{at}.{name}" if at else name
        field = descriptor.fields_by_name.get(name)
        if field is None:
            raise InvalidRecord(path, f"is no field of {descriptor.name}")
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if isinstance(value, dict):
                value = _values(value, field.message_type, path)
            elif not isinstance(value, Message):
                raise InvalidRecord(path, f"must be a {field.message_type.name} or a dict, "
                                    f"got {type(value).__name__}")
        elif field.type == FieldDescriptor.TYPE_STRING:
            if isinstance(value, decimal.Decimal):
                # Spelled out, but for a huge exponent (no amount has one:
                # the ledger refuses it), which would be megabytes of zeros.
                value = f"{value:f}" if value.is_finite() and abs(value.adjusted()) <= 64 \
                    else str(value)
            elif isinstance(value, float):
                raise InvalidRecord(path, f"a float ({value!r}) is not an amount: give a str "
                                    "such as \"27050.00\" or a decimal.Decimal")
            elif not isinstance(value, str):
                raise InvalidRecord(path, f"must be a str, got {type(value).__name__}")
        elif field.type == FieldDescriptor.TYPE_ENUM:
            known = (value in field.enum_type.values_by_name if isinstance(value, str)
                     else isinstance(value, int) and not isinstance(value, bool)
                     and -2**31 <= value < 2**31)
            if not known:
                names = ", ".join(field.enum_type.values_by_name)
                raise InvalidRecord(path, f"must be one of {names} (or a number), got {value!r}")
        elif field.type == FieldDescriptor.TYPE_BYTES:
            if not isinstance(value, bytes):
                raise InvalidRecord(path, f"must be bytes, got {type(value).__name__}")
        elif not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**32:
            raise InvalidRecord(path, f"must be a whole number of 0 to 4294967295, got {value!r}")
        out[name] = value
    return out


def _build(payload: str, event_id: str, iin: str, source: str, fields: dict):
    head = _values({"event_id": event_id, "iin": iin, "source": source},
                   events_pb2.Envelope.DESCRIPTOR, "")
    message = getattr(events_pb2.Envelope(), payload).__class__
    values = _values(fields, message.DESCRIPTOR, payload)
    try:
        e = events_pb2.Envelope(**head)
        built = message(**values)
    except (TypeError, ValueError) as error:
        # What the types allow but protobuf refuses: a text that is not
        # Unicode (a lone surrogate).
        raise InvalidRecord(payload, str(error), _shown_id(event_id)) from None
    getattr(e, payload).CopyFrom(built)
    return canonical(e)


def contribution(event_id: str, iin: str, source: str = "", **fields) -> events_pb2.Envelope:
    """A social contribution (PPC 012) or penalty (017) paid for one person:
    a payment order's line. Fields of ContributionPaid: payment, period,
    amount, person."""
    return _build("contribution", event_id, iin, source, fields)


def refund(event_id: str, iin: str, source: str = "", **fields) -> events_pb2.Envelope:
    """A refund of excessive or erroneous contributions (Social Code art. 247)."""
    return _build("refund", event_id, iin, source, fields)


def benefit_assigned(event_id: str, iin: str, source: str = "", **fields) -> events_pb2.Envelope:
    """A benefit assigned by the Fund (privileged: the Fund signs it)."""
    return _build("benefit_assigned", event_id, iin, source, fields)


def benefit_status(event_id: str, iin: str, source: str = "", **fields) -> events_pb2.Envelope:
    """A benefit suspended, resumed or terminated (privileged: the Fund)."""
    return _build("benefit_status", event_id, iin, source, fields)


def benefit_paid(event_id: str, iin: str, source: str = "", **fields) -> events_pb2.Envelope:
    """A benefit paid for one period (privileged: the Fund)."""
    return _build("benefit_paid", event_id, iin, source, fields)


def benefit_returned(event_id: str, iin: str, source: str = "", **fields) -> events_pb2.Envelope:
    """An overpaid benefit returned to the Fund (privileged: the Fund)."""
    return _build("benefit_returned", event_id, iin, source, fields)


def person(event_id: str, iin: str, source: str = "", **fields) -> events_pb2.Envelope:
    """A person as the state register first knows them (privileged: the register)."""
    return _build("person", event_id, iin, source, fields)


def person_changed(event_id: str, iin: str, source: str = "", **fields) -> events_pb2.Envelope:
    """A correction of a person's register data (privileged: the register)."""
    return _build("person_changed", event_id, iin, source, fields)


def merged(event_id: str, iin: str, source: str = "", **fields) -> events_pb2.Envelope:
    """One person found under two identifiers, keyed by the old one
    (privileged: the operator; usually `si-ledger merge`)."""
    return _build("merged", event_id, iin, source, fields)


class PaymentOrder:
    """One payment order (Rules §6-7): its document, and a contribution line
    per person, each line one record. `lines()` fills the document's
    total_amount and line_count from the lines (or checks them, when the
    document gives them)::

        order = PaymentOrder("bank-42", document)
        order.line("bank-42/PP-1/1", "900517400015", "2025-12", "27050", person)
        producer.publish_order(order.lines())
    """

    def __init__(self, source: str, document: common_pb2.PaymentDocument | dict):
        if not isinstance(document, (common_pb2.PaymentDocument, dict)):
            raise InvalidRecord("contribution.payment", "must be a PaymentDocument or a dict, "
                                f"got {type(document).__name__}")
        self._source = source
        self._document = (document if isinstance(document, common_pb2.PaymentDocument)
                          else common_pb2.PaymentDocument(
                              **_values(document, common_pb2.PaymentDocument.DESCRIPTOR,
                                        "contribution.payment")))
        self._lines: list[events_pb2.Envelope] = []

    def line(self, event_id: str, iin: str, period: str, amount: str,
             person: common_pb2.PersonName | dict) -> "PaymentOrder":
        """Adds a line (checked at once; raises InvalidRecord naming the field)."""
        self._lines.append(contribution(event_id, iin, self._source, payment=self._document,
                                        period=period, amount=amount, person=person))
        return self

    def lines(self) -> list[events_pb2.Envelope]:
        """The order's records, its document's total and line count set on
        each. Raises InvalidRecord when the order has no line, two lines
        share an event id, or the document's own total or line count
        differs from its lines'."""
        if not self._lines:
            raise InvalidRecord("contribution", "a payment order needs at least one line")
        ids = set()
        total = decimal.Decimal(0)
        for line in self._lines:
            if line.event_id in ids:
                raise InvalidRecord("event_id",
                                    f"two lines of one order share the id {line.event_id}")
            ids.add(line.event_id)
            total += decimal.Decimal(line.contribution.amount)
        doc = self._lines[0].contribution.payment
        whole = spell(total)
        if doc.total_amount and doc.total_amount != whole:
            raise InvalidRecord("contribution.payment.total_amount",
                                f"the order's total is {doc.total_amount}, its lines sum to {whole}")
        if doc.line_count and doc.line_count != len(self._lines):
            raise InvalidRecord("contribution.payment.line_count",
                                f"the order says {doc.line_count} lines, it has {len(self._lines)}")
        out = []
        for line in self._lines:
            c = events_pb2.Envelope()
            c.CopyFrom(line)
            c.contribution.payment.total_amount = whole
            c.contribution.payment.line_count = len(self._lines)
            out.append(canonical(c))
        return out
