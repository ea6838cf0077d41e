"""Phrase banks of the synthetic contract generator: names, places, and clause wordings.

Plain data plus the few functions that spell a value (a date in one of many formats, a number
in words). Each clause template holds `{…}` slots that synthetic.py fills; this module knows
nothing of records, gold values or randomness.
"""

from __future__ import annotations

import datetime

NAME_HEADS = ("Apex", "Blue River", "Northwind", "Helios", "Cedar Point", "Quantum", "Silverline", "Harbor",
              "Redwood", "Meridian", "Orion", "Summit", "Keystone", "Lakeshore", "Vantage", "Ironbridge",
              "Brightwater", "Granite", "Falcon", "Evergreen", "Polaris", "Crescent", "Tidewater", "Beacon")
NAME_BODIES = ("Technologies", "Holdings", "Systems", "Pharmaceuticals", "Media", "Logistics", "Energy",
               "Software", "Biosciences", "Capital", "Networks", "Foods", "Medical", "Entertainment")
NAME_SUFFIXES = ("Inc.", "LLC", "Ltd.", "Corporation", "Corp.", "GmbH", "S.A.", "plc", "L.P.", "Co., Ltd.")
PERSON_NAMES = ("John A. Whitfield", "Maria Delgado", "Chen Wei", "Priya Raman", "Robert K. Osei", "Anna Lindqvist")
ROLE_ALIASES = ("Company", "Distributor", "Licensor", "Licensee", "Supplier", "Customer", "Consultant", "Provider",
                "Manufacturer", "Reseller")
ENTITY_TYPES = ("corporation", "limited liability company", "limited partnership")
STATES = ("Delaware", "New York", "California", "Texas", "Nevada", "Florida", "Illinois", "Massachusetts",
          "Washington", "Georgia", "Colorado", "New Jersey", "Pennsylvania", "Ohio")
OTHER_JURISDICTIONS = ("England and Wales", "Ontario", "Singapore", "Hong Kong", "Switzerland", "British Columbia")
CITIES = ("Springfield", "Riverton", "Fairview", "Georgetown", "Madison", "Clinton", "Franklin", "Salem")
TITLES = ("DISTRIBUTION AGREEMENT", "LICENSE AGREEMENT", "SERVICES AGREEMENT", "SUPPLY AGREEMENT",
          "CONSULTING AGREEMENT", "CO-BRANDING AGREEMENT", "RESELLER AGREEMENT", "HOSTING AGREEMENT")

PREAMBLES = (
    'This {title} (the "Agreement") is entered into {dated} by and between {p1}, a {s1} {e1} ("{a1}"), and {p2}, a {s2} {e2} ("{a2}").',
    'THIS {title} is made {dated} between {p1} ("{a1}") and {p2} ("{a2}").',
    '{title}\n\nThis Agreement, {dated}, is by and among {p1}, having its principal office in {c1}, {s1} (hereinafter "{a1}"), and {p2} (hereinafter "{a2}").',
)
DATED = ("as of {d}", "on {d}", "this {d}", "dated {d}")
UNDATED_PREAMBLE = 'This {title} (the "Agreement") is made by and between {p1} ("{a1}") and {p2} ("{a2}").'
EFFECTIVE = (
    'This Agreement shall become effective on {d} (the "Effective Date").',
    'The effective date of this Agreement is {d}.',
    'The parties agree that this Agreement takes effect as of {d} (the "Effective Date").',
)
EXPIRATION = (
    "The initial term of this Agreement commences on the Effective Date and expires on {d}, unless terminated earlier.",
    'This Agreement shall remain in force until {d} (the "Initial Term").',
    "Unless sooner terminated as provided herein, the term hereof shall end on {d}.",
)
RENEWAL = (
    ("Thereafter, this Agreement shall automatically renew for successive {n_words} ({n}) {unit} periods", "successive {n} {units}"),
    ("Upon expiry, the term will be extended automatically for additional {n}-{unit} terms", "successive {n} {units}"),
    ("At {a1}'s option, this Agreement may be renewed for one further term of {n_words} ({n}) {units}", "{n} {units}"),
)
NOTICE = (
    " unless either party gives written notice of non-renewal at least {dur} before the end of the then-current term.",
    ", provided that either party may prevent renewal by notifying the other party in writing not less than {dur} prior to expiration.",
    " unless terminated by a party upon {dur} prior written notice to the other party.",
)
GOVERNING = (
    "This Agreement shall be governed by and construed in accordance with the laws of {j}, without regard to its conflict of laws principles.",
    "The validity and interpretation of this Agreement shall be governed by the laws of {j}.",
    "This Agreement is subject to and shall be interpreted under {j} law.",
)
FILLERS = (
    "{a1} shall keep all Confidential Information of {a2} in strict confidence and use it only to perform this Agreement.",
    "Invoices are payable within {pay_days} of receipt; late amounts bear interest at one percent per month.",
    "All notices shall be sent to {a2} at {num} Main Street, {c2}, {s3}, or such other address as {a2} designates.",
    "Each party represents that it has full power and authority to enter into this Agreement.",
    "Neither party may assign this Agreement without the prior written consent of the other party.",
    "{a1} will deliver the first shipment no later than {distractor}, subject to the forecast in Exhibit B.",
    "The price list attached as Schedule 2, revised {distractor}, applies to all orders.",
    "This Agreement may be executed in counterparts, each of which shall be deemed an original.",
    "Any dispute shall first be referred to senior executives of {a1} and {a2} for good-faith negotiation.",
    "{a2} shall maintain commercial general liability insurance of not less than $1,000,000 per occurrence.",
    "The failure of either party to enforce any provision shall not be deemed a waiver of that provision.",
    "{a1} grants {a2} a non-exclusive license to use the Marks solely in connection with the Products.",
)
HEADERS = ("Page {k} of {m}", "CONFIDENTIAL", "{title_lower} - Execution Copy", "Source: {co}, 10-K, {distractor}")

_SMALL = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
          "sixteen seventeen eighteen nineteen").split()
_TENS = {20: "twenty", 30: "thirty", 40: "forty", 50: "fifty", 60: "sixty", 70: "seventy", 80: "eighty", 90: "ninety"}


def number_words(n: int) -> str:
    """English words for 0..999 ('one hundred twenty')."""
    if n < 20:
        return _SMALL[n]
    if n < 100:
        return _TENS[n - n % 10] + ("" if n % 10 == 0 else f"-{_SMALL[n % 10]}")
    rest = n % 100
    return f"{_SMALL[n // 100]} hundred" + (f" {number_words(rest)}" if rest else "")


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


DATE_FORMATS = (
    lambda d: d.strftime("%B {day}, %Y").replace("{day}", str(d.day)),
    lambda d: f"{d.day} {d.strftime('%B %Y')}",
    lambda d: f"the {_ordinal(d.day)} day of {d.strftime('%B, %Y')}",
    lambda d: d.strftime("%m/%d/%Y"),
    lambda d: d.isoformat(),
    lambda d: f"{d.strftime('%B')} {_ordinal(d.day)}, {d.year}",
    lambda d: f"{d.strftime('%b')}. {d.day}, {d.year}",
    lambda d: f"{d.month}/{d.day}/{d.strftime('%y')}",
)


def spell_date(date: datetime.date, style: int) -> str:
    """`date` written in format number `style` (modulo the number of formats)."""
    return DATE_FORMATS[style % len(DATE_FORMATS)](date)
