"""Writes the golden MT102 files of `tests/golden.rs`, each in the encoding
its name gives, with Python's own codecs (cp866, cp1251, kz1048): an
implementation independent of the one the ledger reads them with.

Run from this directory: `python3 make.py`. The files are committed; this
script says how they were made and makes them again.
"""


def iin(yymmdd, century_sex, serial):
    """A valid IIN: birth date, century-and-sex digit, 4-digit serial, and
    the check digit of DOMAIN.md §2 (weights 1..11, else 3..11,1,2)."""
    d = [int(c) for c in f"{yymmdd}{century_sex}{serial:04d}"]
    for w in (range(1, 12), [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]):
        c = sum(a * b for a, b in zip(d, w)) % 11
        if c != 10:
            return "".join(map(str, d)) + str(c)
    raise ValueError("never issued")


def bad_check(s):
    return s[:11] + str((int(s[11]) + 1) % 10)


HEAD = "{1:F01K054700000000010000001}\n{2:I102SGROSS000000U3003}\n{4:\n"


def order(ref, num, lines, knp="012", period="032025", date="250410", total=None,
          account="KZ67009SS00368609110", payer="/IDN/150340000179", extra_a="",
          head=HEAD, opv="S", end="-}"):
    total = total if total is not None else sum_amounts([l[0] for l in lines])
    out = head
    out += f":20:{ref}\n:50:/D/KZ000000000000000001\n/NAME/ТОО \"ПРИМЕР\"\n{payer}\n/CHIEF/ИВАНОВ И.И.\n/MAINBK/ИВАНОВА А.А.\n/IRS/1\n/SECO/7\n"
    out += f":52B:HSBKKZKX\n:57B:GCVPKZ2A\n:59:{account}\n/NAME/ГОСКОРПОРАЦИЯ\n/IDN/160440007161\n/IRS/1\n/SECO/1\n"
    out += f":70:/NUM/{num}\n/DATE/{date}\n/VO/01\n/SEND/07\n/PSO/01\n/PRT/05\n/KNP/{knp}\n"
    if period:
        out += f"/PERIOD/{period}\n"
    out += f"/ASSIGN/СО ЗА МАРТ 2025 Г.\n{extra_a}"
    for n, (amount, body) in enumerate(lines, 1):
        out += f":21:{n}\n:32B:KZT{amount}\n:70:/OPV/{opv}\n{body}"
    out += f":32A:250410KZT{total}\n{end}\n"
    return out


def sum_amounts(amounts):
    cents = 0
    for a in amounts:
        i, _, f = a.partition(",")
        cents += int(i) * 100 + int((f + "00")[:2])
    return f"{cents // 100},{cents % 100:02d}"


def person(fm, nm, ft, dt, idn, period=None):
    s = f"/FM/{fm}\n/NM/{nm}\n"
    if ft is not None:
        s += f"/FT/{ft}\n"
    s += f"/DT/{dt}\n/IDN/{idn}\n"
    if period:
        s += f"/PERIOD/{period}\n"
    return s


A = iin("851231", 4, 1)   # 1985-12-31, a woman
B = iin("900517", 3, 45)  # 1990-05-17, a man
C = iin("010203", 6, 7)   # 2001-02-03, a woman born after 2000
D = iin("770101", 3, 123)
# The first person of each encoding's file: women born 1985-12-31.
A866, A1251, A1048 = (iin("851231", 4, n) for n in (2, 3, 4))


def write(name, text, encoding, crlf, bom=False):
    if crlf:
        text = text.replace("\n", "\r\n")
    data = text.encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    with open(name, "wb") as f:
        f.write(data)


def pair(tag, a_name, num, a_iin):
    """A one-line and a three-line order, numbered num and num + 1; the
    first person is each file's own (a_name, a_iin), the others shared."""
    one = order(f"{tag}0001", str(num), [("4250,00", person(*a_name, "19851231", a_iin))])
    multi = order(f"{tag}0002", str(num + 1), [
        ("4250,00", person(*a_name, "19851231", a_iin)),
        ("2975,00", person("ЖАНОВ", "ЕРЛАН", "САПАРОВИЧ", "19900517", B)),
        ("1234,56", person("НОВИКОВА", "ЁЛКА", None, "20010203", C)),
    ])
    return one + multi


write("utf-8.mt102", pair("UTF", ("ӘЛІМОВА", "ҒАЛИЯ", "ҚАНАТҚЫЗЫ"), 110, A), "utf-8", False, bom=True)
write("cp866.mt102", pair("DOS", ("СЕРИКОВА", "АЙГЕРИМ", "БОЛАТОВНА"), 120, A866), "cp866", True)
write("cp1251.mt102", pair("WIN", ("ІЛИЯСОВА", "АЙГЕРИМ", "БОЛАТОВНА"), 130, A1251), "cp1251", False)
write("kz1048.mt102", pair("KZ", ("ЖҰМАБАЕВА", "ӘСЕЛ", "НҰРЛАНҚЫЗЫ"), 140, A1048), "kz1048", True)

# The anomalies producers write (shared/reference/mt102.md).
anomalies = order(
    "ANOM0001", "200",
    [("4250,", person("СЕРИКОВА", "АЙГЕРИМ", None, "19851231", A, period="02.2025")),
     ("4250,5", person("ЖАНОВ/ЖАНОВА", "ЕРЛАН", "САПАРОВИЧ", "19900517", B, period="22025")),
     ("100,00", person("НОВИКОВА", "ЕЛЕНА", "", "20010203", C, period="2025-01"))],
    date="00000", head="{ 1:F01K054700000000010000001}{2:I102SGROSS000000U3003}{4:\n",
).replace("/MAINBK/", "/MAINBNK/").replace(":70:/OPV/S\n", ":70:\n/OPV/S\n", 1)
pension = order("PENS0001", "201", [("5000,00", person("ЖАНОВ", "ЕРЛАН", "", "19900517", B))],
                knp="010", account="KZ12009NPS0413609816", opv="C")
write("anomalies.mt102", anomalies + "\n" + pension, "cp866", False)

# The RNN era: /OPV/ with a social code, //-subfields, /RNN/ for the IIN.
rnn_line = "//FM/ДАУЛЕТОВ\n//NM/АСКАР\n//FT/\n//DT/19770101\n//RNN/600400112233\n"
rnn_era = order("RNN00001", "7", [("1500,00", rnn_line)], payer="/RNN/600300012345",
                opv="S1234567890123456", period="092010", date="101005")
write("rnn-era.mt102", rnn_era, "cp866", True)
with open("rnn-map.csv", "w") as f:
    f.write(f"rnn,iin\n600400112233,{D}\n600300012345,150340000179\n")

# Orders refused whole, and a line refused alone.
P = person("ЖАНОВ", "ЕРЛАН", "", "19900517", B)
refused = (
    order("BAD00001", "301", [("4250,00", P), ("100,00", P.replace(B, "900517300000"))], total="4000,00")
    + order("BAD00002", "302", [("4250,00", P)], account="KZ12009NPS0413609816")
    + order("BAD00003", "303", [("4250,00", P)], opv="C")
    + order("BAD00004", "304", [("4250,555", P)], total="4250,56")
    + order("BAD00005", "305", [("4250,00", P)], period="13.2025")
    + order("BAD00006", "306", [("4250,00", P), ("100,00", P.replace(B, bad_check(B)))])
    + order("BAD00008", "308", [("4250,00", P + f"/IDN/{A}\n")])
    + order("BAD00009", "309", [("4250,00", P)]).replace(":57B:GCVPKZ2A\n", "")
    + order("BAD00010-TOO-LONG", "310", [("4250,00", P)])
    + order("BAD00011", "311", [("4250,00", P.replace("/DT/19900517", "/DT/18000101"))])
    + order("BAD00012", "312", [("4250,00", P)]).replace(":21:1\n", ":21:1/../x\n")
    + order("BAD00007", "307", [("4250,00", P)], end="")
)
write("refused.mt102", refused, "utf-8", False)

# A penalty order (017): its lines are penalties on contributions.
penalty = order("PEN00001", "401", [
    ("312,50", person("ӘЛІМОВА", "ҒАЛИЯ", "ҚАНАТҚЫЗЫ", "19851231", A)),
    ("87,50", person("ЖАНОВ", "ЕРЛАН", "САПАРОВИЧ", "19900517", B)),
], knp="017", period="012025")
write("penalty.mt102", penalty, "kz1048", True)
