from si.ledger.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BenefitStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BENEFIT_STATUS_UNSPECIFIED: _ClassVar[BenefitStatus]
    SUSPENDED: _ClassVar[BenefitStatus]
    RESUMED: _ClassVar[BenefitStatus]
    TERMINATED: _ClassVar[BenefitStatus]
BENEFIT_STATUS_UNSPECIFIED: BenefitStatus
SUSPENDED: BenefitStatus
RESUMED: BenefitStatus
TERMINATED: BenefitStatus

class Envelope(_message.Message):
    __slots__ = ("event_id", "iin", "source", "signature", "contribution", "refund", "benefit_assigned", "benefit_status", "benefit_paid", "benefit_returned", "person", "person_changed", "merged", "merge_transfer")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    IIN_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    REFUND_FIELD_NUMBER: _ClassVar[int]
    BENEFIT_ASSIGNED_FIELD_NUMBER: _ClassVar[int]
    BENEFIT_STATUS_FIELD_NUMBER: _ClassVar[int]
    BENEFIT_PAID_FIELD_NUMBER: _ClassVar[int]
    BENEFIT_RETURNED_FIELD_NUMBER: _ClassVar[int]
    PERSON_FIELD_NUMBER: _ClassVar[int]
    PERSON_CHANGED_FIELD_NUMBER: _ClassVar[int]
    MERGED_FIELD_NUMBER: _ClassVar[int]
    MERGE_TRANSFER_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    iin: str
    source: str
    signature: _common_pb2.Signature
    contribution: ContributionPaid
    refund: ContributionRefunded
    benefit_assigned: BenefitAssigned
    benefit_status: BenefitStatusChanged
    benefit_paid: BenefitPaid
    benefit_returned: BenefitReturned
    person: PersonRegistered
    person_changed: PersonDataChanged
    merged: IdentifierMerged
    merge_transfer: MergeTransfer
    def __init__(self, event_id: _Optional[str] = ..., iin: _Optional[str] = ..., source: _Optional[str] = ..., signature: _Optional[_Union[_common_pb2.Signature, _Mapping]] = ..., contribution: _Optional[_Union[ContributionPaid, _Mapping]] = ..., refund: _Optional[_Union[ContributionRefunded, _Mapping]] = ..., benefit_assigned: _Optional[_Union[BenefitAssigned, _Mapping]] = ..., benefit_status: _Optional[_Union[BenefitStatusChanged, _Mapping]] = ..., benefit_paid: _Optional[_Union[BenefitPaid, _Mapping]] = ..., benefit_returned: _Optional[_Union[BenefitReturned, _Mapping]] = ..., person: _Optional[_Union[PersonRegistered, _Mapping]] = ..., person_changed: _Optional[_Union[PersonDataChanged, _Mapping]] = ..., merged: _Optional[_Union[IdentifierMerged, _Mapping]] = ..., merge_transfer: _Optional[_Union[MergeTransfer, _Mapping]] = ...) -> None: ...

class ContributionPaid(_message.Message):
    __slots__ = ("payment", "period", "amount", "person")
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PERSON_FIELD_NUMBER: _ClassVar[int]
    payment: _common_pb2.PaymentDocument
    period: str
    amount: str
    person: _common_pb2.PersonName
    def __init__(self, payment: _Optional[_Union[_common_pb2.PaymentDocument, _Mapping]] = ..., period: _Optional[str] = ..., amount: _Optional[str] = ..., person: _Optional[_Union[_common_pb2.PersonName, _Mapping]] = ...) -> None: ...

class ContributionRefunded(_message.Message):
    __slots__ = ("application_id", "reason", "refunded_ppc", "period", "amount", "payer_id", "decided_on", "payment", "application_size")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_PPC_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PAYER_ID_FIELD_NUMBER: _ClassVar[int]
    DECIDED_ON_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_SIZE_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    reason: str
    refunded_ppc: str
    period: str
    amount: str
    payer_id: str
    decided_on: str
    payment: _common_pb2.PaymentDocument
    application_size: int
    def __init__(self, application_id: _Optional[str] = ..., reason: _Optional[str] = ..., refunded_ppc: _Optional[str] = ..., period: _Optional[str] = ..., amount: _Optional[str] = ..., payer_id: _Optional[str] = ..., decided_on: _Optional[str] = ..., payment: _Optional[_Union[_common_pb2.PaymentDocument, _Mapping]] = ..., application_size: _Optional[int] = ...) -> None: ...

class BenefitAssigned(_message.Message):
    __slots__ = ("benefit_id", "benefit_type", "applied_on", "risk_date", "decided_on", "start_period", "end_period", "monthly_amount", "average_monthly_income", "participation_months", "work_capacity_loss_percent", "dependants", "leave_days", "child_birth_order")
    BENEFIT_ID_FIELD_NUMBER: _ClassVar[int]
    BENEFIT_TYPE_FIELD_NUMBER: _ClassVar[int]
    APPLIED_ON_FIELD_NUMBER: _ClassVar[int]
    RISK_DATE_FIELD_NUMBER: _ClassVar[int]
    DECIDED_ON_FIELD_NUMBER: _ClassVar[int]
    START_PERIOD_FIELD_NUMBER: _ClassVar[int]
    END_PERIOD_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_MONTHLY_INCOME_FIELD_NUMBER: _ClassVar[int]
    PARTICIPATION_MONTHS_FIELD_NUMBER: _ClassVar[int]
    WORK_CAPACITY_LOSS_PERCENT_FIELD_NUMBER: _ClassVar[int]
    DEPENDANTS_FIELD_NUMBER: _ClassVar[int]
    LEAVE_DAYS_FIELD_NUMBER: _ClassVar[int]
    CHILD_BIRTH_ORDER_FIELD_NUMBER: _ClassVar[int]
    benefit_id: str
    benefit_type: str
    applied_on: str
    risk_date: str
    decided_on: str
    start_period: str
    end_period: str
    monthly_amount: str
    average_monthly_income: str
    participation_months: int
    work_capacity_loss_percent: int
    dependants: int
    leave_days: int
    child_birth_order: int
    def __init__(self, benefit_id: _Optional[str] = ..., benefit_type: _Optional[str] = ..., applied_on: _Optional[str] = ..., risk_date: _Optional[str] = ..., decided_on: _Optional[str] = ..., start_period: _Optional[str] = ..., end_period: _Optional[str] = ..., monthly_amount: _Optional[str] = ..., average_monthly_income: _Optional[str] = ..., participation_months: _Optional[int] = ..., work_capacity_loss_percent: _Optional[int] = ..., dependants: _Optional[int] = ..., leave_days: _Optional[int] = ..., child_birth_order: _Optional[int] = ...) -> None: ...

class BenefitStatusChanged(_message.Message):
    __slots__ = ("benefit_id", "status", "effective_on", "reason")
    BENEFIT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_ON_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    benefit_id: str
    status: BenefitStatus
    effective_on: str
    reason: str
    def __init__(self, benefit_id: _Optional[str] = ..., status: _Optional[_Union[BenefitStatus, str]] = ..., effective_on: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class BenefitPaid(_message.Message):
    __slots__ = ("benefit_id", "period", "amount", "pension_contribution_withheld", "payment")
    BENEFIT_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PENSION_CONTRIBUTION_WITHHELD_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    benefit_id: str
    period: str
    amount: str
    pension_contribution_withheld: str
    payment: _common_pb2.PaymentDocument
    def __init__(self, benefit_id: _Optional[str] = ..., period: _Optional[str] = ..., amount: _Optional[str] = ..., pension_contribution_withheld: _Optional[str] = ..., payment: _Optional[_Union[_common_pb2.PaymentDocument, _Mapping]] = ...) -> None: ...

class BenefitReturned(_message.Message):
    __slots__ = ("benefit_id", "period", "amount", "payment")
    BENEFIT_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    benefit_id: str
    period: str
    amount: str
    payment: _common_pb2.PaymentDocument
    def __init__(self, benefit_id: _Optional[str] = ..., period: _Optional[str] = ..., amount: _Optional[str] = ..., payment: _Optional[_Union[_common_pb2.PaymentDocument, _Mapping]] = ...) -> None: ...

class PersonRegistered(_message.Message):
    __slots__ = ("surname", "name", "patronymic", "birth_date", "sex", "address", "postcode", "document", "citizenship", "effective_on", "deceased_on")
    SURNAME_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PATRONYMIC_FIELD_NUMBER: _ClassVar[int]
    BIRTH_DATE_FIELD_NUMBER: _ClassVar[int]
    SEX_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    POSTCODE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    CITIZENSHIP_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_ON_FIELD_NUMBER: _ClassVar[int]
    DECEASED_ON_FIELD_NUMBER: _ClassVar[int]
    surname: str
    name: str
    patronymic: str
    birth_date: str
    sex: str
    address: str
    postcode: str
    document: _common_pb2.IdentityDocument
    citizenship: str
    effective_on: str
    deceased_on: str
    def __init__(self, surname: _Optional[str] = ..., name: _Optional[str] = ..., patronymic: _Optional[str] = ..., birth_date: _Optional[str] = ..., sex: _Optional[str] = ..., address: _Optional[str] = ..., postcode: _Optional[str] = ..., document: _Optional[_Union[_common_pb2.IdentityDocument, _Mapping]] = ..., citizenship: _Optional[str] = ..., effective_on: _Optional[str] = ..., deceased_on: _Optional[str] = ...) -> None: ...

class PersonDataChanged(_message.Message):
    __slots__ = ("surname", "name", "patronymic", "birth_date", "sex", "address", "postcode", "document", "citizenship", "effective_on", "deceased_on")
    SURNAME_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PATRONYMIC_FIELD_NUMBER: _ClassVar[int]
    BIRTH_DATE_FIELD_NUMBER: _ClassVar[int]
    SEX_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    POSTCODE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    CITIZENSHIP_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_ON_FIELD_NUMBER: _ClassVar[int]
    DECEASED_ON_FIELD_NUMBER: _ClassVar[int]
    surname: str
    name: str
    patronymic: str
    birth_date: str
    sex: str
    address: str
    postcode: str
    document: _common_pb2.IdentityDocument
    citizenship: str
    effective_on: str
    deceased_on: str
    def __init__(self, surname: _Optional[str] = ..., name: _Optional[str] = ..., patronymic: _Optional[str] = ..., birth_date: _Optional[str] = ..., sex: _Optional[str] = ..., address: _Optional[str] = ..., postcode: _Optional[str] = ..., document: _Optional[_Union[_common_pb2.IdentityDocument, _Mapping]] = ..., citizenship: _Optional[str] = ..., effective_on: _Optional[str] = ..., deceased_on: _Optional[str] = ...) -> None: ...

class IdentifierMerged(_message.Message):
    __slots__ = ("into_iin", "reason", "decided_on")
    INTO_IIN_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DECIDED_ON_FIELD_NUMBER: _ClassVar[int]
    into_iin: str
    reason: str
    decided_on: str
    def __init__(self, into_iin: _Optional[str] = ..., reason: _Optional[str] = ..., decided_on: _Optional[str] = ...) -> None: ...

class MergeTransfer(_message.Message):
    __slots__ = ("from_iin", "merge_event_id", "reason", "decided_on", "original", "from_partition", "from_offset", "redirected", "recorded_at_ms")
    FROM_IIN_FIELD_NUMBER: _ClassVar[int]
    MERGE_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DECIDED_ON_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_FIELD_NUMBER: _ClassVar[int]
    FROM_PARTITION_FIELD_NUMBER: _ClassVar[int]
    FROM_OFFSET_FIELD_NUMBER: _ClassVar[int]
    REDIRECTED_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    from_iin: str
    merge_event_id: str
    reason: str
    decided_on: str
    original: bytes
    from_partition: int
    from_offset: int
    redirected: bool
    recorded_at_ms: int
    def __init__(self, from_iin: _Optional[str] = ..., merge_event_id: _Optional[str] = ..., reason: _Optional[str] = ..., decided_on: _Optional[str] = ..., original: _Optional[bytes] = ..., from_partition: _Optional[int] = ..., from_offset: _Optional[int] = ..., redirected: bool = ..., recorded_at_ms: _Optional[int] = ...) -> None: ...
