"""The ledger's canonical spellings and checks of a record, ported from
`ledger_proto::canonical`, `ledger_proto::convert::envelope_from_wire` and
`ledger_proto::texts` in the ledger's order, so that a record with several
faults is refused for the same field as the projector would refuse it.
The rules and their sources are in docs/rules.md; identifiers are
Kazakhstan's (12-digit IIN and BIN, DOMAIN.md §2). Checked against the
ledger's own decisions by the shared test vectors (proto/testdata).
"""
from __future__ import annotations

import datetime
import decimal
import re
import unicodedata

from si.ledger.v1 import events_pb2


class InvalidRecord(ValueError):
    """A record the ledger would refuse: `field` is the field's path as the
    ledger names it (`contribution.payment.received_on`, `iin`, `payload`),
    `reason` says why (its wording may differ from the ledger's)."""

    def __init__(self, field: str, reason: str, event_id: str = ""):
        super().__init__(f"record {event_id}: {field}: {reason}" if event_id else f"{field}: {reason}")
        self.field = field
        self.reason = reason
        #: The refused record's event id, when it has one.
        self.event_id = event_id


class _Refused(Exception):
    """A value's fault, before its field is known."""


# Unicode's White_Space property (PropList.txt), which the ledger's Rust
# `split_whitespace` follows. Not str.split(): that one also splits at the
# control characters U+001C-U+001F.
_WHITE_SPACE = frozenset(
    [*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
     0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
)


def text(v: str) -> str:
    """Unicode NFC."""
    return unicodedata.normalize("NFC", v)


def name(v: str) -> str:
    """NFC, trimmed, inner runs of white space as one space."""
    words, word = [], []
    for c in text(v):
        if ord(c) in _WHITE_SPACE:
            if word:
                words.append("".join(word))
                word = []
        else:
            word.append(c)
    if word:
        words.append("".join(word))
    return " ".join(words)


_MAX_AMOUNT = decimal.Decimal(1_000_000_000_000)
_DIGITS = re.compile(r"[0-9]*\Z")


def _ascii_digits(v: str) -> bool:
    return _DIGITS.match(v) is not None


def _excerpt(s: str) -> str:
    if len(s) <= 40:
        return s
    return f"{s[:40]}… ({len(s.encode())} bytes)"


def money(s: str) -> decimal.Decimal:
    """An amount in tenge: Java's BigDecimal(String) grammar (sign, digits
    with at most one point, an exponent of at most three digits), at most 64
    characters, at most two decimals once zeros past the second are
    dropped, at most a trillion tenge either way. Not Decimal's own grammar,
    which also takes spaces, `_`, `NaN` and `Infinity`."""
    syntax = _Refused(f'not a decimal amount like "4250.00": "{_excerpt(s)}"')
    body = s[1:] if s[:1] in ("-", "+") else s
    number, exponent = body, None
    for i, c in enumerate(body):
        if c in "eE":
            number, exponent = body[:i], body[i + 1:]
            break
    if exponent is not None:
        digits = exponent[1:] if exponent[:1] in ("-", "+") else exponent
        if not digits or len(digits) > 3 or not _ascii_digits(digits):
            raise syntax
    whole, _, fraction = number.partition(".")
    ok = (whole or fraction) and _ascii_digits(whole) and _ascii_digits(fraction)
    if not ok or len(s.encode()) > 64:
        raise syntax
    with decimal.localcontext(decimal.Context(prec=2000)):
        value = decimal.Decimal(s)
        if value.is_zero():
            return decimal.Decimal("0")
        value = value.normalize()
        if value.as_tuple().exponent < -2:
            raise _Refused(f'more than two decimals: "{_excerpt(s)}"')
        if abs(value) > _MAX_AMOUNT:
            raise _Refused(f'amount "{_excerpt(s)}" is out of range')
        return value


def spell(amount: decimal.Decimal) -> str:
    """The ledger's spelling: two decimals, no exponent."""
    return f"{amount.quantize(decimal.Decimal('0.01')):f}"


def _money_canonical(v: str) -> str:
    if not v:
        return v
    try:
        return spell(money(v))
    except _Refused:
        return v


def canonicalize(e: events_pb2.Envelope) -> events_pb2.Envelope:
    """A canonical copy of `e`: amounts with two decimals, texts NFC, names
    trimmed with single inner spaces, sex M/F; unknown fields dropped, as
    the ledger's decoder drops them. A value that does not parse is left as
    it is, for `check` to refuse by its field."""
    c = events_pb2.Envelope()
    c.CopyFrom(e)
    c.DiscardUnknownFields()
    c.source = text(c.source)
    kind = c.WhichOneof("payload")
    if kind == "contribution":
        p = c.contribution
        p.amount = _money_canonical(p.amount)
        if p.HasField("payment"):
            _payment(p.payment)
        if p.HasField("person"):
            p.person.surname = name(p.person.surname)
            p.person.name = name(p.person.name)
            p.person.patronymic = name(p.person.patronymic)
    elif kind == "refund":
        r = c.refund
        r.application_id = text(r.application_id)
        r.reason = text(r.reason)
        r.amount = _money_canonical(r.amount)
        if r.HasField("payment"):
            _payment(r.payment)
    elif kind == "benefit_assigned":
        b = c.benefit_assigned
        b.benefit_id = text(b.benefit_id)
        b.monthly_amount = _money_canonical(b.monthly_amount)
        b.average_monthly_income = _money_canonical(b.average_monthly_income)
    elif kind == "benefit_status":
        s = c.benefit_status
        s.benefit_id = text(s.benefit_id)
        s.reason = text(s.reason)
    elif kind == "benefit_paid":
        b = c.benefit_paid
        b.benefit_id = text(b.benefit_id)
        b.amount = _money_canonical(b.amount)
        b.pension_contribution_withheld = _money_canonical(b.pension_contribution_withheld)
        if b.HasField("payment"):
            _payment(b.payment)
    elif kind == "benefit_returned":
        b = c.benefit_returned
        b.benefit_id = text(b.benefit_id)
        b.amount = _money_canonical(b.amount)
        if b.HasField("payment"):
            _payment(b.payment)
    elif kind in ("person", "person_changed"):
        p = getattr(c, kind)
        p.surname, p.name, p.patronymic = name(p.surname), name(p.name), name(p.patronymic)
        p.address, p.postcode, p.citizenship = text(p.address), text(p.postcode), text(p.citizenship)
        if p.sex in ("m", "f"):
            p.sex = p.sex.upper()
        if p.HasField("document"):
            d = p.document
            d.series, d.number, d.issuer = text(d.series), text(d.number), text(d.issuer)
    elif kind == "merged":
        c.merged.reason = text(c.merged.reason)
    return c


def _payment(p) -> None:
    p.document_number = text(p.document_number)
    p.payer_name = name(p.payer_name)
    p.recipient_name = name(p.recipient_name)
    p.total_amount = _money_canonical(p.total_amount)


# What a text field may hold (ledger_proto::texts): its most characters,
# and whether line breaks and tabs are allowed. One refusal of this
# client's own, where the ledger accepts: a character the running Python's
# Unicode version does not know (Python 3.11 has Unicode 14, the ledger a
# later one). Unicode's normalization stability policy makes NFC the same
# in every version for assigned characters only: a newer character could be
# composed by the ledger and not here, and a record signed here would then
# not verify there.
_NAME, _ORG, _CODE, _FREE = 200, 500, 128, 2000


def _text_ok(field: str, v: str, most: int) -> None:
    free = most == _FREE
    for i, c in enumerate(v):
        o = ord(c)
        allowed_space = free and c in "\n\r\t"
        bidi = 0x202A <= o <= 0x202E or 0x2066 <= o <= 0x2069
        if (unicodedata.category(c) == "Cc" and not allowed_space) or bidi or o == 0xFEFF:
            raise InvalidRecord(field, f"contains the control character U+{o:04X} at position {i + 1}")
        if unicodedata.category(c) == "Cn" and not _noncharacter(o):
            raise InvalidRecord(
                field, f"contains U+{o:04X} at position {i + 1}, a character this Python's "
                f"Unicode ({unicodedata.unidata_version}) does not know: the ledger may spell "
                "it otherwise (NFC), so it is refused rather than sent or signed in another "
                "spelling")
        if i >= most:
            raise InvalidRecord(
                field, f"is longer than {most} characters ({len(v.encode())} bytes)")


def _noncharacter(o: int) -> bool:
    """U+FDD0-U+FDEF and the last two code points of each plane: never
    assigned, never composed."""
    return 0xFDD0 <= o <= 0xFDEF or (o & 0xFFFE) == 0xFFFE


def _texts(e) -> None:
    _text_ok("source", e.source, _CODE)
    kind = e.WhichOneof("payload")

    def payment(at, p):
        _text_ok(f"{at}.document_number", p.document_number, _CODE)
        _text_ok(f"{at}.payer_name", p.payer_name, _ORG)
        _text_ok(f"{at}.recipient_name", p.recipient_name, _ORG)

    if kind == "contribution":
        c = e.contribution
        if c.HasField("payment"):
            payment("contribution.payment", c.payment)
        if c.HasField("person"):
            _text_ok("contribution.person.surname", c.person.surname, _NAME)
            _text_ok("contribution.person.name", c.person.name, _NAME)
            _text_ok("contribution.person.patronymic", c.person.patronymic, _NAME)
    elif kind == "refund":
        _text_ok("refund.application_id", e.refund.application_id, _CODE)
        _text_ok("refund.reason", e.refund.reason, _FREE)
        if e.refund.HasField("payment"):
            payment("refund.payment", e.refund.payment)
    elif kind == "benefit_assigned":
        _text_ok("benefit_assigned.benefit_id", e.benefit_assigned.benefit_id, _CODE)
    elif kind == "benefit_status":
        _text_ok("benefit_status.benefit_id", e.benefit_status.benefit_id, _CODE)
        _text_ok("benefit_status.reason", e.benefit_status.reason, _FREE)
    elif kind in ("benefit_paid", "benefit_returned"):
        b = getattr(e, kind)
        _text_ok(f"{kind}.benefit_id", b.benefit_id, _CODE)
        if b.HasField("payment"):
            payment(f"{kind}.payment", b.payment)
    elif kind in ("person", "person_changed"):
        p = getattr(e, kind)
        for n, v, most in (("surname", p.surname, _NAME), ("name", p.name, _NAME),
                           ("patronymic", p.patronymic, _NAME), ("address", p.address, _ORG),
                           ("postcode", p.postcode, _CODE), ("citizenship", p.citizenship, _CODE),
                           ("sex", p.sex, _CODE)):
            _text_ok(f"{kind}.{n}", v, most)
        if p.HasField("document"):
            _text_ok(f"{kind}.document.series", p.document.series, _CODE)
            _text_ok(f"{kind}.document.number", p.document.number, _CODE)
            _text_ok(f"{kind}.document.issuer", p.document.issuer, _ORG)
    elif kind == "merged":
        _text_ok("merged.reason", e.merged.reason, _FREE)
    elif kind == "merge_transfer":
        _text_ok("merge_transfer.reason", e.merge_transfer.reason, _FREE)


def _required(field: str, v: str) -> str:
    if not v:
        raise InvalidRecord(field, "is required")
    return v


def check_digit(d: list[int]) -> int | None:
    """The check digit of an IIN's or BIN's first 11 digits, or None when
    both weightings give 10 (such numbers are never issued). DOMAIN.md §2."""
    first = sum(x * w for x, w in zip(d, range(1, 12))) % 11
    if first != 10:
        return first
    second = sum(x * w for x, w in zip(d, [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2])) % 11
    return second if second != 10 else None


def _digits(s: str) -> list[int]:
    for i, c in enumerate(s):
        if not "0" <= c <= "9":
            if unicodedata.category(c) == "Nd":
                raise _Refused(f"contains a non-ASCII digit '{c}' (U+{ord(c):04X}) at position "
                               f"{i + 1}: only 0-9 are accepted")
            raise _Refused(f"contains '{c}' at position {i + 1}: only digits 0-9 are accepted")
    if len(s) != 12:
        raise _Refused(f"must be exactly 12 digits, got {len(s)} characters")
    d = [int(c) for c in s]
    check = check_digit(d)
    if check is None:
        raise _Refused("no valid check digit exists for these 11 digits (never issued)")
    if check != d[11]:
        raise _Refused(f"check digit does not match (expected {check}, found {d[11]})")
    return d


def _iin(field: str, v: str) -> None:
    _required(field, v)
    try:
        d = _digits(v)
    except _Refused as r:
        raise InvalidRecord(field, str(r)) from None
    if 4 <= d[4] <= 6:
        raise InvalidRecord(
            field, f"5th digit {d[4]} is a legal entity's type: this is a BIN, not a person's IIN")


def _payer(field: str, v: str) -> None:
    _required(field, v)
    try:
        _digits(v)
    except _Refused as r:
        raise InvalidRecord(field, str(r)) from None


def _date(field: str, v: str) -> None:
    _required(field, v)
    shape = (len(v) == 10 and v[4] == "-" and v[7] == "-"
             and _ascii_digits(v[:4] + v[5:7] + v[8:]))
    if not shape:
        raise InvalidRecord(field, f'not a date "YYYY-MM-DD": "{v}"')
    year = int(v[:4])
    if not 1900 <= year <= 2200:
        raise InvalidRecord(field, f'year out of 1900-2200: "{v}"')
    try:
        datetime.date(year, int(v[5:7]), int(v[8:]))
    except ValueError:
        raise InvalidRecord(field, f'not a date "YYYY-MM-DD": "{v}"') from None


def _opt_date(field: str, v: str) -> None:
    if v:
        _date(field, v)


def _period(field: str, v: str) -> str:
    _required(field, v)
    if len(v) == 7 and v[4] == "-" and _ascii_digits(v[:4] + v[5:]):
        if 1900 <= int(v[:4]) <= 2200 and 1 <= int(v[5:]) <= 12:
            return v
    raise InvalidRecord(field, f'not a period "YYYY-MM": "{v}"')


def _ppc(field: str, v: str) -> str:
    _required(field, v)
    if len(v) != 3 or not _ascii_digits(v):
        raise InvalidRecord(field, f'payment purpose code must be 3 digits, got "{v}"')
    return v


def _amount(field: str, v: str) -> None:
    _required(field, v)
    try:
        m = money(v)
    except _Refused as r:
        raise InvalidRecord(field, str(r)) from None
    if m <= 0:
        raise InvalidRecord(field, f"must be greater than zero, got {spell(m)}")


def _opt_money(field: str, v: str) -> None:
    if v:
        try:
            money(v)
        except _Refused as r:
            raise InvalidRecord(field, str(r)) from None


def _event_id(field: str, v: str) -> None:
    _required(field, v)
    n = len(v.encode())
    if n > 128:
        raise InvalidRecord(field, f"must be 1-128 characters, got {n}")
    if not all("\x21" <= c <= "\x7e" for c in v):
        raise InvalidRecord(field, "must be printable ASCII without spaces")


_BASE64URL = re.compile(r"[A-Za-z0-9_-]")


def _signature(s) -> None:
    n = len(s.key_id.encode())
    if n == 0 or n > 64:
        raise InvalidRecord("signature.key_id",
                            f"must be 1-64 characters (a key's RFC 7638 thumbprint), got {n}")
    for c in s.key_id:
        if not _BASE64URL.fullmatch(c):
            raise InvalidRecord("signature.key_id", f"'{c}' is not a base64url character")
    if len(s.value) != 64:
        raise InvalidRecord("signature.value",
                            f"an Ed25519 signature has 64 bytes, got {len(s.value)}")


def _payment_ok(at: str, p) -> str:
    ppc = _ppc(f"{at}.ppc", p.ppc)
    _opt_date(f"{at}.document_date", p.document_date)
    _date(f"{at}.received_on", p.received_on)
    _opt_date(f"{at}.dispatched_on", p.dispatched_on)
    _payer(f"{at}.payer_id", p.payer_id)
    _opt_money(f"{at}.total_amount", p.total_amount)
    return ppc


def _person_ok(at: str, p) -> None:
    if p.sex not in ("", "M", "F"):
        raise InvalidRecord(f"{at}.sex", f'must be "M" or "F", got "{p.sex}"')
    if p.HasField("document"):
        _opt_date(f"{at}.document.issued_on", p.document.issued_on)
    _required(f"{at}.surname", p.surname)
    _opt_date(f"{at}.birth_date", p.birth_date)
    _opt_date(f"{at}.effective_on", p.effective_on)
    _opt_date(f"{at}.deceased_on", p.deceased_on)


def check(e: events_pb2.Envelope) -> None:
    """Checks a canonical envelope as the projector does; raises
    InvalidRecord naming the first field the ledger would refuse."""
    _texts(e)
    if e.HasField("signature"):
        _signature(e.signature)
    _event_id("event_id", e.event_id)
    _iin("iin", e.iin)
    kind = e.WhichOneof("payload")
    if kind == "contribution":
        c = e.contribution
        if not c.HasField("payment"):
            raise InvalidRecord("contribution.payment", "is required")
        ppc = _payment_ok("contribution.payment", c.payment)
        if ppc not in ("012", "017"):
            raise InvalidRecord("contribution.payment.ppc",
                                f"a contribution line must have ppc 012 or 017, got {ppc}")
        if not c.HasField("person"):
            raise InvalidRecord("contribution.person", "is required")
        _period("contribution.period", c.period)
        _amount("contribution.amount", c.amount)
        _required("contribution.person.surname", c.person.surname)
        _required("contribution.person.name", c.person.name)
        _date("contribution.person.birth_date", c.person.birth_date)
    elif kind == "refund":
        r = e.refund
        ppc = _ppc("refund.refunded_ppc", r.refunded_ppc)
        if ppc not in ("012", "017"):
            raise InvalidRecord("refund.refunded_ppc", f"must be 012 or 017, got {ppc}")
        if r.application_size > 10:
            raise InvalidRecord("refund.application_size",
                                "an application names at most 10 employees (seed 003), "
                                f"got {r.application_size}")
        _required("refund.application_id", r.application_id)
        _period("refund.period", r.period)
        _amount("refund.amount", r.amount)
        _payer("refund.payer_id", r.payer_id)
        _date("refund.decided_on", r.decided_on)
        if r.HasField("payment"):
            _payment_ok("refund.payment", r.payment)
    elif kind == "benefit_assigned":
        b = e.benefit_assigned
        t = _required("benefit_assigned.benefit_type", b.benefit_type)
        if t not in ("0701", "0702", "0703", "0704", "0705"):
            raise InvalidRecord("benefit_assigned.benefit_type",
                                f'benefit type must be 0701-0705, got "{t}"')
        if b.work_capacity_loss_percent > 100:
            raise InvalidRecord("benefit_assigned.work_capacity_loss_percent", "must be 0-100")
        start = _period("benefit_assigned.start_period", b.start_period)
        if b.end_period and _period("benefit_assigned.end_period", b.end_period) < start:
            raise InvalidRecord("benefit_assigned.end_period", "is before start_period")
        _required("benefit_assigned.benefit_id", b.benefit_id)
        _date("benefit_assigned.applied_on", b.applied_on)
        _opt_date("benefit_assigned.risk_date", b.risk_date)
        _date("benefit_assigned.decided_on", b.decided_on)
        _amount("benefit_assigned.monthly_amount", b.monthly_amount)
        _opt_money("benefit_assigned.average_monthly_income", b.average_monthly_income)
    elif kind == "benefit_status":
        s = e.benefit_status
        if s.status not in (1, 2, 3):
            raise InvalidRecord("benefit_status.status", "must be SUSPENDED, RESUMED or TERMINATED")
        _required("benefit_status.benefit_id", s.benefit_id)
        _date("benefit_status.effective_on", s.effective_on)
    elif kind == "benefit_paid":
        p = e.benefit_paid
        _opt_money("benefit_paid.pension_contribution_withheld", p.pension_contribution_withheld)
        _required("benefit_paid.benefit_id", p.benefit_id)
        _period("benefit_paid.period", p.period)
        _amount("benefit_paid.amount", p.amount)
        if p.HasField("payment"):
            _payment_ok("benefit_paid.payment", p.payment)
    elif kind == "benefit_returned":
        r = e.benefit_returned
        _required("benefit_returned.benefit_id", r.benefit_id)
        _period("benefit_returned.period", r.period)
        _amount("benefit_returned.amount", r.amount)
        if r.HasField("payment"):
            _payment_ok("benefit_returned.payment", r.payment)
    elif kind in ("person", "person_changed"):
        _person_ok(kind, getattr(e, kind))
    elif kind == "merged":
        m = e.merged
        _iin("merged.into_iin", m.into_iin)
        _required("merged.reason", m.reason)
        _date("merged.decided_on", m.decided_on)
    elif kind == "merge_transfer":
        raise InvalidRecord("merge_transfer", "is written by the ledger's projector when "
                            "identifiers merge, never by a producer")
    else:
        raise InvalidRecord("payload", "is required: one of contribution, refund, "
                            "benefit_assigned, benefit_status, benefit_paid, benefit_returned, "
                            "person, person_changed, merged")
