"""The steps an edge-case slice is made of: each turns one record into a perturbed variant.

A step takes a record's text and gold and returns the variant's text and gold, or None when it
does not apply to that record. Gold follows from the step, never from a model: noise, wraps, page
furniture, capitals, surrounding boilerplate and injected lines leave it unchanged;
`drop_field_sentences` removes every sentence that states a field's gold value and sets that field
to null. A sentence states a value when a run of its words normalizes to the gold value under the
field's kind (harness.task.normalize), so the same rule holds for any contract's wording. Steps are
named in a task's `slices` and take their parameters from there; files they read (boilerplate,
injected lines) are paths inside the task folder. Randomness comes from the `rng` given, so a
slice is the same on every run. This module knows records' text and gold, nothing of engines or
scoring.
"""

from __future__ import annotations

import calendar
import random
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from harness.data.excerpts import Sentences
from harness.errors import HarnessError
from harness.task.normalize import NORMALIZERS, NUMBER_WORDS, compare_values, parties_match

Variant = tuple[str, dict[str, Any]]
MAX_VALUE_WORDS = 10
OCR_CONFUSIONS = {"l": "1", "I": "l", "O": "0", "o": "0", "e": "c", "m": "rn", "S": "5", "B": "8", "a": "o", "i": "í", ",": "."}
_WORD = re.compile(r"\S+")
DROPPABLE = tuple(NORMALIZERS)  # scalar kinds: a party set cannot be nulled by removing sentences


@dataclass(frozen=True)
class Context:
    """What a step may read besides the record: the task folder, its field kinds and the slice's randomness."""

    task_dir: Path
    fields: Mapping[str, str]
    rng: random.Random

    def read(self, name: str, where: str) -> str:
        path = (self.task_dir / name).resolve()
        if not path.is_relative_to(self.task_dir.resolve()) or not path.is_file():
            raise HarnessError(f"no file {name!r} inside the task folder", where, f"add it under {self.task_dir}")
        return path.read_text(encoding="utf-8").strip()


VALUE_WORDS = frozenset({*NUMBER_WORDS, *(m.lower() for m in calendar.month_name[1:]), *(m.lower() for m in calendar.month_abbr[1:]),
                          "day", "days", "week", "weeks", "month", "months", "year", "years", "calendar", "business"})


def protected_words(gold: Mapping[str, Any]) -> set[str]:
    """Lower-cased words that carry values: those of every gold string value, number words, month
    names and time units. OCR noise leaves them alone, so the gold stays what the text says."""
    values = [v for value in gold.values() for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]
    return VALUE_WORDS | {word.strip(".,;:()\"'").lower() for value in values for word in value.split()}


def ocr_noise(text: str, gold: dict[str, Any], context: Context, rate: float = 0.04) -> Variant:
    """Swap characters as OCR confuses them, in words that carry no digit and no value (`protected_words`)."""
    keep = protected_words(gold)

    def noisy(match: re.Match[str]) -> str:
        word = match.group(0)
        if any(c.isdigit() for c in word) or word.strip(".,;:()\"'").lower() in keep:
            return word
        return "".join(OCR_CONFUSIONS.get(c, c) if context.rng.random() < rate else c for c in word)

    return _WORD.sub(noisy, text), gold


def rewrap(text: str, gold: dict[str, Any], context: Context, width: int = 52) -> Variant:
    """Break lines at a fixed width, as a PDF-to-text conversion does, keeping words whole."""
    paragraphs = [" ".join(part.split()) for part in re.split(r"\n\s*\n", text)]
    return "\n\n".join(textwrap.fill(p, width) for p in paragraphs if p), gold


def page_furniture(text: str, gold: dict[str, Any], context: Context, every_lines: int = 6,
                   header: str = "CONFIDENTIAL", footer: str = "Page {page}") -> Variant:
    """Interleave a page header and footer every `every_lines` lines, as a printed contract carries them."""
    lines, out, first_page = text.splitlines(), [], context.rng.randint(2, 40)
    for number, start in enumerate(range(0, len(lines), every_lines)):
        out += [header, *lines[start:start + every_lines], footer.format(page=first_page + number)]
    return "\n".join(out), gold


def upper_case(text: str, gold: dict[str, Any], context: Context) -> Variant:
    """The whole text in capitals (scored the same: values are normalized case-blind)."""
    return text.upper(), gold


def surround(text: str, gold: dict[str, Any], context: Context, before: str = "", after: str = "") -> Variant:
    """Unrelated boilerplate (files in the task folder, holding no field value) before and after the text."""
    parts = [context.read(before, "slices: surround.before") if before else "", text,
             context.read(after, "slices: surround.after") if after else ""]
    return "\n\n".join(p for p in parts if p), gold


def insert_lines(text: str, gold: dict[str, Any], context: Context, file: str = "") -> Variant:
    """A block of lines (an injected instruction, a fake JSON answer) placed at a sentence boundary mid-text."""
    block = context.read(file, "slices: insert_lines.file")
    bounds = Sentences(text, len).bounds
    cut = bounds[len(bounds) // 2][0] if len(bounds) > 1 else len(text)
    return f"{text[:cut].rstrip()}\n\n{block}\n\n{text[cut:].lstrip()}", gold


def states(kind: str, value: Any, sentence: str) -> bool:
    """Whether a run of at most MAX_VALUE_WORDS words of `sentence` gives `value` under `kind` (a party
    set: any one of its parties)."""
    words = [word.strip(".,;:()") for word in sentence.split()]
    runs = (" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, min(len(words), i + MAX_VALUE_WORDS) + 1))
    if kind == "party_set":
        return any(parties_match(run, party) for run in runs for party in value)
    return any(compare_values(kind, run, value) for run in runs)


def drop_field_sentences(text: str, gold: dict[str, Any], context: Context, fields: tuple[str, ...] = ()) -> Variant | None:
    """Remove every sentence stating the first listed field whose gold value the text states; that field
    becomes null. None when no listed field is stated, or when a sentence to remove also states another
    field's value (its gold would no longer be sure to hold)."""
    unknown = sorted(set(fields) - {name for name, kind in context.fields.items() if kind in DROPPABLE})
    if unknown:
        raise TypeError(f"fields {unknown} are not scalar fields of the task (allowed kinds: {', '.join(DROPPABLE)})")
    sentences = [text[a:b] for a, b in Sentences(text, len).bounds]
    stated = {name: {i for i, s in enumerate(sentences) if states(kind, gold[name], s)}
              for name, kind in context.fields.items() if gold.get(name) not in (None, [])}
    target = next((name for name in fields if stated.get(name)), None)
    if target is None or any(stated[target] & others for name, others in stated.items() if name != target):
        return None
    kept = " ".join(s for i, s in enumerate(sentences) if i not in stated[target])
    return kept, {**gold, target: None}


STEPS: Mapping[str, Callable[..., Variant | None]] = {step.__name__: step for step in (
    ocr_noise, rewrap, page_furniture, upper_case, surround, insert_lines, drop_field_sentences)}
