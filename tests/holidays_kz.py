"""Kazakhstan's days off by the `holidays` package (PyPI), for the test
that checks the ledger's calendar against an independent dataset.

Prints JSON: {year: {"days_off": [weekdays off], "working_weekends":
[weekend days worked by decree]}} for the years given as arguments.
"""
import json
import re
import sys

import holidays

out = {}
for year in range(int(sys.argv[1]), int(sys.argv[2]) + 1):
    days = holidays.country_holidays("KZ", years=year, language="en_US")
    worked = set()
    for name in days.values():
        # "Day off (substituted from MM/DD/YYYY)": that day was worked.
        for m, d, y in re.findall(r"substituted from (\d\d)/(\d\d)/(\d{4})", name):
            worked.add(f"{y}-{m}-{d}")
    out[year] = {
        "days_off": sorted(str(d) for d in days if d.weekday() < 5),
        # A weekday "substituted from" is a moved day off, not a worked
        # weekend: only weekends are listed.
        "working_weekends": sorted(
            w for w in worked
            if __import__("datetime").date.fromisoformat(w).weekday() >= 5
        ),
    }
json.dump({"version": holidays.__version__, "years": out}, sys.stdout)
