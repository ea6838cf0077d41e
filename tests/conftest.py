"""Shared fixture: a tiny folder in the CUAD v1 release layout, built fresh in tmp_path."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

CATEGORIES = ("Document Name", "Parties", "Agreement Date", "Effective Date", "Expiration Date", "Renewal Term",
              "Notice Period To Terminate Renewal", "Governing Law", "Insurance", "Audit Rights")
NAMES = ("Acme Widgets", "Borealis Data", "Cobalt Foods", "Dynamo Media", "Elm Street Labs", "Fjord Shipping",
         "Granite Health", "Harbor Lights", "Ivory Software", "Juniper Energy")
STATES = ("New York", "Delaware", "California", "Texas", "Nevada")
MONTHS = ("January", "March", "May", "July", "September", "November")


def contract(number: int) -> tuple[str, dict[str, list[str]], dict[str, str]]:
    """(text, spans, answers) of fixture contract `number`; every third has a perpetual term."""
    p1, p2 = f"{NAMES[number % 10]} Inc.", f"{NAMES[(number + 3) % 10]} LLC"
    month, year, state = MONTHS[number % 6], 2001 + number, STATES[number % 5]
    dated = f"{month} {number % 27 + 1}, {year}"
    preamble = f'This Supply Agreement is made as of {dated} by and between {p1} ("Seller") and {p2} ("Buyer").'
    term = (f"The term of this Agreement begins on the Effective Date and ends on December 31, {year + 3}."
            if number % 3 else "This Agreement shall continue in perpetuity.")
    renewal = "Thereafter it renews for successive one (1) year periods unless either party gives ninety (90) days notice of non-renewal."
    law = f"This Agreement shall be governed by the laws of the State of {state}."
    insurance = "Buyer shall maintain general liability insurance of at least one million dollars during the term."
    audit = "Seller may audit the books and records of Buyer once per calendar year upon reasonable notice."
    filler = " ".join(f"Clause {number}.{k}: the parties shall cooperate in good faith on item {k} of schedule {number}." for k in range(12))
    text = "\n\n".join([f"SUPPLY AGREEMENT {number}", preamble, filler, term, renewal, filler.replace("item", "task"), insurance, audit, law, filler.replace("item", "point")])
    spans = {"Document Name": ["SUPPLY AGREEMENT"], "Parties": [p1, "Seller", p2, "Buyer"], "Agreement Date": [dated],
             "Effective Date": [dated], "Expiration Date": [term], "Renewal Term": [renewal],
             "Notice Period To Terminate Renewal": [renewal], "Governing Law": [law], "Insurance": [insurance], "Audit Rights": [audit]}
    answers = {"Document Name": "Supply Agreement", "Parties": f'{p1} ("Seller"); {p2} ("Buyer")',
               "Agreement Date": f"{MONTHS.index(month) * 2 + 1}/{number % 27 + 1}/{str(year)[2:]}",
               "Effective Date": f"{MONTHS.index(month) * 2 + 1}/{number % 27 + 1}/{str(year)[2:]}",
               "Expiration Date": f"12/31/{str(year + 3)[2:]}" if number % 3 else "perpetual",
               "Renewal Term": "successive 1 year", "Notice Period To Terminate Renewal": "90 days",
               "Governing Law": state, "Insurance": "Yes", "Audit Rights": "Yes"}
    return text, spans, answers


def write_cuad(root: Path, numbers: range, prefix: str = "CONTRACT") -> Path:
    """Write contracts `numbers` in the CUAD layout under `root`; the odd answer-column spelling included."""
    (root / "full_contract_txt").mkdir(parents=True)
    header = ["Filename"]
    for category in CATEGORIES:
        header += [category, f"{category}- Answer" if category.startswith("Notice") else f"{category}-Answer"]
    with (root / "master_clauses.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for number in numbers:
            text, spans, answers = contract(number)
            name = f"{prefix}_{number:03d}"
            (root / "full_contract_txt" / f"{name}.txt").write_text(text, encoding="utf-8")
            row = [f"{name}.pdf"]
            for category in CATEGORIES:
                row += [repr(spans[category]), answers[category]]
            writer.writerow(row)
    return root


@pytest.fixture
def cuad_dir(tmp_path: Path) -> Path:
    """A CUAD-layout folder with 24 small contracts."""
    return write_cuad(tmp_path / "cuad", range(24))
