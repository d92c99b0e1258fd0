from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class PaymentDocument(_message.Message):
    __slots__ = ("document_number", "document_date", "received_on", "dispatched_on", "ppc", "payer_id", "payer_name", "recipient_name", "total_amount", "line_count")
    DOCUMENT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_DATE_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_ON_FIELD_NUMBER: _ClassVar[int]
    DISPATCHED_ON_FIELD_NUMBER: _ClassVar[int]
    PPC_FIELD_NUMBER: _ClassVar[int]
    PAYER_ID_FIELD_NUMBER: _ClassVar[int]
    PAYER_NAME_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_NAME_FIELD_NUMBER: _ClassVar[int]
    TOTAL_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    LINE_COUNT_FIELD_NUMBER: _ClassVar[int]
    document_number: str
    document_date: str
    received_on: str
    dispatched_on: str
    ppc: str
    payer_id: str
    payer_name: str
    recipient_name: str
    total_amount: str
    line_count: int
    def __init__(self, document_number: _Optional[str] = ..., document_date: _Optional[str] = ..., received_on: _Optional[str] = ..., dispatched_on: _Optional[str] = ..., ppc: _Optional[str] = ..., payer_id: _Optional[str] = ..., payer_name: _Optional[str] = ..., recipient_name: _Optional[str] = ..., total_amount: _Optional[str] = ..., line_count: _Optional[int] = ...) -> None: ...

class PersonName(_message.Message):
    __slots__ = ("surname", "name", "patronymic", "birth_date")
    SURNAME_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PATRONYMIC_FIELD_NUMBER: _ClassVar[int]
    BIRTH_DATE_FIELD_NUMBER: _ClassVar[int]
    surname: str
    name: str
    patronymic: str
    birth_date: str
    def __init__(self, surname: _Optional[str] = ..., name: _Optional[str] = ..., patronymic: _Optional[str] = ..., birth_date: _Optional[str] = ...) -> None: ...

class IdentityDocument(_message.Message):
    __slots__ = ("series", "number", "issued_on", "issuer")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    ISSUED_ON_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    series: str
    number: str
    issued_on: str
    issuer: str
    def __init__(self, series: _Optional[str] = ..., number: _Optional[str] = ..., issued_on: _Optional[str] = ..., issuer: _Optional[str] = ...) -> None: ...

class Signature(_message.Message):
    __slots__ = ("key_id", "value")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    value: bytes
    def __init__(self, key_id: _Optional[str] = ..., value: _Optional[bytes] = ...) -> None: ...
