import pytest

from si_ledger_client import InvalidRecord, PaymentOrder, records

DOCUMENT = {
    "document_number": "PP-1",
    "document_date": "2026-01-09",
    "received_on": "2026-01-10",
    "ppc": "012",
    "payer_id": "150340000179",
    "payer_name": "ТОО «Береке»",
    "recipient_name": "НАО «Государственная корпорация»",
}
PERSON = {"surname": "Ахметова", "name": "Айгерим", "birth_date": "1990-05-17"}


def vector(vectors, name):
    return next(c for c in vectors["cases"] if c["name"] == name)


def test_a_payment_order_built_line_by_line_is_the_vectors_record(vectors):
    lines = (PaymentOrder("bank-42", DOCUMENT)
             .line("bank-42/PP-1/1", "900517400015", "2025-12", "27050",
                   dict(PERSON, patronymic="Болатовна"))
             .line("bank-42/PP-1/2", "851201003007", "2025-12", "27050.0",
                   {"surname": " Серике\u0306ев ", "name": "Даурен\t", "birth_date": "1985-12-01"})
             .lines())
    expected = vector(vectors, "contribution, already canonical")["canonical_hex"]
    assert lines[0].SerializeToString(deterministic=True).hex() == expected
    assert lines[1].contribution.payment.total_amount == "54100.00"
    # Trimmed, е + U+0306 composed into ӗ (NFC); the tab is white space.
    assert lines[1].contribution.person.surname == "Серик\u04d7ев"
    assert lines[1].contribution.person.name == "Даурен"


def test_a_bad_line_is_refused_by_its_field():
    order = PaymentOrder("bank-42", DOCUMENT)
    with pytest.raises(InvalidRecord) as e:
        order.line("x/1", "900517400016", "2025-12", "100", PERSON)
    assert e.value.field == "iin"
    with pytest.raises(InvalidRecord) as e:
        order.line("x/1", "900517400015", "2025-12", "1.005", PERSON)
    assert e.value.field == "contribution.amount"
    order.line("x/1", "900517400015", "2025-12", "100", PERSON)
    order.line("x/1", "851201003007", "2025-12", "100", PERSON)
    with pytest.raises(InvalidRecord) as e:
        order.lines()
    assert e.value.field == "event_id"


def test_an_order_whose_total_disagrees_with_its_lines_is_refused():
    order = PaymentOrder("bank-42", dict(DOCUMENT, total_amount="500"))
    order.line("x/1", "900517400015", "2025-12", "100", PERSON)
    with pytest.raises(InvalidRecord) as e:
        order.lines()
    assert e.value.field == "contribution.payment.total_amount"


def test_every_kind_has_a_builder_that_checks_it():
    with pytest.raises(InvalidRecord) as e:
        records.person("r/1", "900517400015", "register", surname="А", sex="X")
    assert e.value.field == "person.sex"
    paid = records.benefit_paid("f/1", "900517400015", "fund", benefit_id="B-1",
                                period="2026-01", amount="180000")
    assert paid.benefit_paid.amount == "180000.00"
    assert records.is_privileged(paid) and records.kind(paid) == "benefit_paid"
    with pytest.raises(InvalidRecord) as e:
        records.benefit_paid("f/1", "900517400015", "fund", no_such_field="x")
    assert e.value.field == "benefit_paid.no_such_field"
    with pytest.raises(InvalidRecord) as e:
        records.benefit_assigned("f/1", "900517400015", "fund", leave_days="126")
    assert e.value.field == "benefit_assigned.leave_days"


def test_amounts_are_not_read_by_pythons_own_decimal_grammar():
    for spelling in ("1_000", " 100", "Infinity", "NaN", "100 ", "١٠٠", "0x10"):
        with pytest.raises(InvalidRecord) as e:
            records.contribution("e", "900517400015", payment=DOCUMENT, period="2025-12",
                                 amount=spelling, person=PERSON)
        assert e.value.field == "contribution.amount", spelling


def test_values_of_other_types_are_refused_by_field_or_spelled():
    import decimal

    line = records.contribution("e-1", "900517400015", "bank-42", payment=DOCUMENT,
                                period="2025-12", amount=decimal.Decimal("27050.5"), person=PERSON)
    assert line.contribution.amount == "27050.50"
    with pytest.raises(InvalidRecord) as e:
        records.contribution("e-1", "900517400015", payment=DOCUMENT, period="2025-12",
                             amount=27050.5, person=PERSON)
    assert e.value.field == "contribution.amount"
    with pytest.raises(InvalidRecord) as e:
        records.contribution("e-1", 900517400015, payment=DOCUMENT, period="2025-12",
                             amount="1", person=PERSON)
    assert e.value.field == "iin"
    with pytest.raises(InvalidRecord) as e:
        records.contribution("e-1", "900517400015", payment=dict(DOCUMENT, total_amount=1.5),
                             period="2025-12", amount="1", person=PERSON)
    assert e.value.field == "contribution.payment.total_amount"


def test_a_refusal_names_the_record():
    with pytest.raises(InvalidRecord) as e:
        records.contribution("bank-42/PP-9/3", "900517400016", payment=DOCUMENT,
                             period="2025-12", amount="1", person=PERSON)
    assert e.value.event_id == "bank-42/PP-9/3"
    assert str(e.value).startswith("record bank-42/PP-9/3: iin: ")


def test_a_key_file_that_is_not_a_key_is_named(tmp_path):
    from si_ledger_client import RecordSigner

    path = tmp_path / "register.entry"
    path.write_text("[[authority.key]]\n")
    with pytest.raises(ValueError) as e:
        RecordSigner.from_pem_file(path)
    assert str(path) in str(e.value) and "PKCS#8" in str(e.value)


def test_what_this_python_cannot_spell_as_the_ledger_is_refused():
    # U+0378: unassigned in every Unicode version so far; a newer ledger
    # might compose a character this Python does not know.
    with pytest.raises(InvalidRecord) as e:
        records.person("r/1", "900517400015", "register", surname="Ах\u0378")
    assert e.value.field == "person.surname"
    with pytest.raises(InvalidRecord) as e:
        records.person("r/1", "900517400015", "register", surname="Ах\ud800")
    assert e.value.field == "person"
    # A noncharacter is never assigned, so never composed: kept.
    assert records.person("r/1", "900517400015", "register", surname="Ах\ufdd0").person.surname


def test_a_value_is_parsed_as_the_ledger_parses_it():
    from google.protobuf.message import DecodeError

    # patronymic (field 3 of PersonName, a string) sent as a varint.
    with pytest.raises(DecodeError):
        records.parse(bytes([0x52, 0x04, 0x22, 0x02, 0x18, 0x01]))
    line = records.contribution("e-1", "900517400015", payment=DOCUMENT, period="2025-12",
                                amount="1", person=PERSON)
    assert records.parse(line.SerializeToString()) == line


def test_odd_values_are_refused_by_field_quickly():
    import decimal

    with pytest.raises(InvalidRecord) as e:
        records.contribution("e", "900517400015", payment=DOCUMENT, period="2025-12",
                             amount=decimal.Decimal("1E+999999999"), person=PERSON)
    assert e.value.field == "contribution.amount"
    with pytest.raises(InvalidRecord) as e:
        records.benefit_status("e", "900517400015", benefit_id="B", status="PAUSED")
    assert e.value.field == "benefit_status.status"
    with pytest.raises(InvalidRecord) as e:
        records.refund("e", "900517400015", application_size=2**32)
    assert e.value.field == "refund.application_size"
    with pytest.raises(InvalidRecord) as e:
        PaymentOrder("bank-42", None)
    assert e.value.field == "contribution.payment"
