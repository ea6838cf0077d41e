"""Deterministic synthetic contract excerpts with gold, for the `cuad_extraction` recipe's fields.

Each excerpt is assembled from varied clause wordings (synthetic_phrases): parties with defined-
term aliases, dates in many formats, renewal and notice terms, a governing law; plus distractors
(other dates, states of incorporation and addresses, payment periods), page headers, and OCR-style
noise. Gold holds exactly the values the excerpt states; noise may corrupt a value, and the noise
filter then drops that record. Every record's origin is 'synthetic', so reports can say so. The
same seed, split and count give the same records. This module knows nothing of CUAD files.
"""

from __future__ import annotations

import datetime
import random
from typing import Any, Callable

from harness.data import synthetic_phrases as P
from harness.data.harvest import Candidate, Harvest
from harness.errors import HarnessError
from harness.task.normalize import normalize_duration_days
from harness.task.records import Record
from harness.task.specs import TaskSpec

CATEGORIES = ("Parties", "Agreement Date", "Effective Date", "Expiration Date", "Renewal Term",
              "Notice Period To Terminate Renewal", "Governing Law")
OTHER_FIELD_RATE = 0.35
NOISE_RATE = 0.02
NOISY_SHARE = 0.3
NOISE = (lambda w: w.replace("l", "1", 1), lambda w: w.replace("O", "0", 1), lambda w: w.replace("m", "rn", 1),
         lambda w: w[: len(w) // 2] + "-\n" + w[len(w) // 2:], lambda w: w + " ")


def synthetic_harvest(task: TaskSpec, split: str, count: int, count_tokens: Callable[[str], int]) -> Harvest:
    """`count` synthetic candidates for `split` (fewer when some pass the token budget)."""
    categories = task.data.options.get("categories", {})
    unknown = sorted(set(categories.values()) - set(CATEGORIES)) if isinstance(categories, dict) else ["(none)"]
    if task.data.recipe != "cuad_extraction" or unknown:
        raise HarnessError(f"the synthetic generator cannot stand in for recipe {task.data.recipe} (categories {unknown})",
                           f"{task.dir / 'task.yaml'}: data", f"it writes only the categories {list(CATEGORIES)}; build from real data")
    field_of = {category: name for name, category in categories.items()}
    result = Harvest()
    for number in range(count):
        rng = random.Random(f"{task.data.seed}:synthetic:{split}:{number}")
        anchor, wanted = wanted_categories(rng, field_of, task.data.absent_fraction)
        values, sentences = excerpt(rng, wanted)
        text = fit(rng, sentences, count_tokens, task.data.excerpt_tokens)
        if text is None:
            result.dropped["synthetic excerpt over the token budget"] += 1
            continue
        gold = {name: values.get(category) for category, name in field_of.items()}
        source = f"synthetic-{split}-{number:05d}"
        record = Record(f"{source}@0", source, text, gold, "synthetic")
        result.candidates.append(Candidate(record, f"present:{field_of[anchor]}" if anchor else "absent"))
    return result


def wanted_categories(rng: random.Random, field_of: dict[str, str], absent_fraction: float) -> tuple[str | None, set[str]]:
    """(anchor, categories the excerpt states): no anchor and at most parties for an 'absent'
    excerpt, else the anchor, the parties and a few more."""
    stated = [c for c in CATEGORIES if c in field_of and c != "Parties"]
    if rng.random() < absent_fraction or not stated:
        return None, ({"Parties"} if rng.random() < 0.3 else set())
    anchor = rng.choice(stated)
    return anchor, {anchor, "Parties"} | {c for c in stated if rng.random() < OTHER_FIELD_RATE}


def random_date(rng: random.Random) -> datetime.date:
    return datetime.date(rng.randint(1995, 2030), rng.randint(1, 12), rng.randint(1, 28))


def slots(rng: random.Random) -> dict[str, Any]:
    """Names, places and distractors shared by the excerpt's sentences."""
    p1, p2 = (f"{rng.choice(P.NAME_HEADS)} {rng.choice(P.NAME_BODIES)} {rng.choice(P.NAME_SUFFIXES)}" for _ in range(2))
    if rng.random() < 0.15:
        p2 = rng.choice(P.PERSON_NAMES)
    a1, a2 = rng.sample(P.ROLE_ALIASES, 2)
    return {"p1": p1, "p2": p2, "a1": a1, "a2": a2, "title": rng.choice(P.TITLES), "s1": rng.choice(P.STATES),
            "s2": rng.choice(P.STATES), "s3": rng.choice(P.STATES), "e1": rng.choice(P.ENTITY_TYPES),
            "e2": rng.choice(P.ENTITY_TYPES), "c1": rng.choice(P.CITIES), "c2": rng.choice(P.CITIES),
            "num": rng.randint(10, 9999), "pay_days": duration(rng, rng.choice((10, 15, 30, 45)), "day")[0],
            "distractor": P.spell_date(random_date(rng), rng.randrange(99)), "k": rng.randint(2, 30), "m": rng.randint(31, 60)}


def duration(rng: random.Random, n: int, unit: str) -> tuple[str, int | None]:
    """A duration in words and/or digits, and its days (harness.task.normalize's convention)."""
    plural = unit + ("s" if n != 1 else "")
    text = rng.choice((f"{P.number_words(n)} ({n}) {plural}", f"{n} {plural}", f"{P.number_words(n)} {plural}"))
    return text, normalize_duration_days(text)


def excerpt(rng: random.Random, wanted: set[str]) -> tuple[dict[str, Any], list[tuple[str, bool]]]:
    """(gold values by category, sentences as (text, required)) of one excerpt."""
    s, values, body = slots(rng), {}, []
    if "Parties" in wanted or "Agreement Date" in wanted:
        dated = ""
        if "Agreement Date" in wanted:
            date = random_date(rng)
            values["Agreement Date"] = date.isoformat()
            dated = rng.choice(P.DATED).format(d=P.spell_date(date, rng.randrange(99)))
        template = rng.choice(P.PREAMBLES) if dated else P.UNDATED_PREAMBLE
        body.append((template.format(dated=dated, **s), True))
        values["Parties"] = [s["p1"], s["p2"]]
    for category, make in (("Effective Date", effective), ("Expiration Date", expiration), ("Renewal Term", renewal),
                           ("Governing Law", governing)):
        if category in wanted or (category == "Renewal Term" and "Notice Period To Terminate Renewal" in wanted):
            sentence, found = make(rng, s, wanted)
            values.update(found)
            body.append((sentence, True))
    body += [(template.format(**s), False) for template in rng.sample(P.FILLERS, 6)]
    body += [("\n\n" + rng.choice(P.HEADERS).format(title_lower=s["title"].title(), co=s["p1"], **s) + "\n\n", False)]
    return values, body


def effective(rng: random.Random, s: dict[str, Any], wanted: set[str]) -> tuple[str, dict[str, Any]]:
    date = random_date(rng)
    return rng.choice(P.EFFECTIVE).format(d=P.spell_date(date, rng.randrange(99))), {"Effective Date": date.isoformat()}


def expiration(rng: random.Random, s: dict[str, Any], wanted: set[str]) -> tuple[str, dict[str, Any]]:
    date = random_date(rng)
    return rng.choice(P.EXPIRATION).format(d=P.spell_date(date, rng.randrange(99))), {"Expiration Date": date.isoformat()}


def renewal(rng: random.Random, s: dict[str, Any], wanted: set[str]) -> tuple[str, dict[str, Any]]:
    """A renewal sentence, with the notice period when wanted (and the renewal term when wanted)."""
    n, unit = rng.choice(((1, "year"), (2, "year"), (3, "year"), (5, "year"), (6, "month"), (12, "month")))
    template, gold = rng.choice(P.RENEWAL)
    units = unit + ("s" if n != 1 else "")
    sentence = template.format(n=n, n_words=P.number_words(n), unit=unit, units=units, a1=s["a1"])
    found = {"Renewal Term": gold.format(n=n, units=units)} if "Renewal Term" in wanted else {}
    if "Renewal Term" not in wanted:
        sentence = "Thereafter, this Agreement shall continue from term to term"
    if "Notice Period To Terminate Renewal" in wanted:
        n_notice, notice_unit = rng.choice(((30, "day"), (60, "day"), (90, "day"), (120, "day"), (3, "month"), (6, "month")))
        text, days = duration(rng, n_notice, notice_unit)
        sentence += rng.choice(P.NOTICE).format(dur=text)
        found["Notice Period To Terminate Renewal"] = days
    return (sentence if sentence.endswith(".") else sentence + "."), found


def governing(rng: random.Random, s: dict[str, Any], wanted: set[str]) -> tuple[str, dict[str, Any]]:
    if rng.random() < 0.7:
        name = rng.choice(P.STATES)
        place = rng.choice((f"the State of {name}", name, f"the state of {name}"))
    else:
        name = rng.choice(P.OTHER_JURISDICTIONS)
        place = f"the Province of {name}" if name in ("Ontario", "British Columbia") else name
    template = rng.choice(P.GOVERNING)
    return template.format(j=place if "{j} law" not in template else name), {"Governing Law": name}


def fit(rng: random.Random, sentences: list[tuple[str, bool]], count_tokens: Callable[[str], int], budget: int) -> str | None:
    """Required sentences in order with fillers slotted in while the text fits; None if the required ones do not."""
    required = [text for text, needed in sentences if needed]
    optional = [text for text, needed in sentences if not needed]
    if count_tokens(join(required)) > budget:
        return None
    chosen = list(required)
    for filler in optional:
        trial = list(chosen)
        trial.insert(rng.randint(1 if trial else 0, len(trial)), filler)
        if count_tokens(join(noisy(trial, rng.random()))) <= budget:
            chosen = trial
    return join(noisy(chosen, rng.random()))


def noisy(sentences: list[str], draw: float) -> list[str]:
    """OCR-style noise on a share of excerpts (the same draw gives the same noise)."""
    if draw >= NOISY_SHARE:
        return sentences
    rng = random.Random(draw)
    return [" ".join(rng.choice(NOISE)(w) if rng.random() < NOISE_RATE else w for w in s.split(" ")) for s in sentences]


def join(sentences: list[str]) -> str:
    return " ".join(sentences).replace(" \n", "\n").replace("\n ", "\n").strip()
