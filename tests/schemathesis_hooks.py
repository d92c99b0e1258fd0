"""Schemathesis hooks for the API contract test (tests/tests/api_contract.rs).

`docs/openapi.json` declares IINs with the custom format `iin`: twelve
digits whose check digit holds (DOMAIN.md §2), which no regular
expression says. Valid IINs are drawn from the store under test (the file
named by SI_LEDGER_IINS), so that reads succeed and their answers are
checked against the schemas too.
"""
import json
import os

import schemathesis
from hypothesis import strategies as st

with open(os.environ["SI_LEDGER_IINS"], encoding="utf-8") as f:
    IINS = json.load(f)

schemathesis.openapi.format("iin", st.sampled_from(IINS))
