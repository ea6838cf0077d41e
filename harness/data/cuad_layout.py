"""Read a folder in the CUAD v1 release layout: `master_clauses.csv` plus `full_contract_txt/`.

Each CSV row names a contract (`Filename`, ending in .pdf) and holds, per category, a span column
(a Python list literal of the annotated span strings, e.g. 'Governing Law') and an answer column
(CUAD's normalized answer, e.g. 'Governing Law-Answer'; spacing around the dash varies). The text
of a contract is `full_contract_txt/<stem>.txt`. This module turns that into `Contract` objects and
finds where span strings occur in the text; it knows nothing of tasks, fields or gold values.
"""

from __future__ import annotations

import ast
import csv
import re
import sys
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

from harness.errors import HarnessError

CSV_NAME = "master_clauses.csv"
TEXT_DIR = "full_contract_txt"
OMITTED = "<omitted>"
_ANSWER_SUFFIX = re.compile(r"\s*-\s*Answer\s*$")


@dataclass(frozen=True)
class Contract:
    """One contract: its id (the file stem), full text, span strings and answer per category."""

    id: str
    text: str
    spans: Mapping[str, tuple[str, ...]]
    answers: Mapping[str, str | None]


def read_contracts(folder: Path, option: str, categories: Sequence[str] = ()) -> list[Contract]:
    """All contracts of a CUAD-layout folder, sorted by id; `option` names where the path came from,
    `categories` the columns the caller needs (a missing one is an error naming the CSV)."""
    csv_path = check_layout(folder, option, categories)
    csv.field_size_limit(sys.maxsize)
    with csv_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    pairs = category_columns(list(rows[0]), csv_path)
    files = text_files(folder / TEXT_DIR)
    contracts = [contract_from_row(row, pairs, files, f"{csv_path}:{n}") for n, row in enumerate(rows, start=2)]
    return sorted(contracts, key=lambda c: c.id)


def check_layout(folder: Path, option: str, categories: Sequence[str] = ()) -> Path:
    """Cheap checks of a CUAD-layout folder (header, rows, some non-empty text); returns the CSV path."""
    csv_path = folder / CSV_NAME
    if not csv_path.is_file() or not (folder / TEXT_DIR).is_dir():
        raise HarnessError(
            f"no CUAD-layout data ({CSV_NAME} and {TEXT_DIR}/) in {folder}", option,
            "pass the folder holding them with --data/--test-from, or build offline with --synthetic")
    csv.field_size_limit(sys.maxsize)
    try:
        with csv_path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header, first = next(reader, []), next(reader, None)
    except UnicodeDecodeError as exc:
        raise HarnessError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", str(csv_path), "save the CSV as UTF-8") from None
    if first is None:
        raise HarnessError("the clauses CSV has no rows", str(csv_path))
    pairs = category_columns(header, csv_path)
    missing = [c for c in categories if c not in pairs]
    if missing:
        raise HarnessError(f"missing column(s) {missing} (each category needs its span column and its '<category>-Answer' column)",
                           str(csv_path), "use the CUAD v1 master_clauses.csv layout, or drop those categories from the task")
    if not any(path.read_bytes().strip() for path in sorted((folder / TEXT_DIR).glob("*.txt"))):
        raise HarnessError(f"every contract text file in {TEXT_DIR}/ is empty", f"{option} {folder}", "put each contract's text in its .txt file")
    return csv_path


def read_text(path: Path) -> str:
    """A contract's text: UTF-8, else Windows-1252/Latin-1 with a printed warning naming the file."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text, encoding = raw.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        text, encoding = raw.decode("latin-1"), "Latin-1"
    print(f"[data] warning: {path} is not UTF-8; read it as {encoding}", flush=True)
    return text


def file_key(name: str) -> str:
    """A file name with case, accents' encoding and punctuation ignored: the release writes '&', "'"
    and some trailing characters differently in the CSV and in the text file names."""
    return re.sub(r"[^0-9a-z]", "", unicodedata.normalize("NFKC", name).casefold())


def text_files(text_dir: Path) -> dict[str, Path]:
    """The contract text files of a folder, keyed by `file_key` of their stem."""
    files: dict[str, Path] = {}
    for path in sorted(text_dir.glob("*.txt")):
        key = file_key(path.stem)
        if key in files:
            raise HarnessError(f"text files {files[key].name!r} and {path.name!r} differ only in punctuation", str(text_dir),
                               "rename one so each contract has its own file")
        files[key] = path
    return files


def category_columns(header: list[str], where: Path) -> dict[str, str]:
    """Map each category (its span column) to its answer column."""
    if "Filename" not in header:
        raise HarnessError("missing column 'Filename'", str(where), "use the CUAD v1 master_clauses.csv layout")
    answers = {_ANSWER_SUFFIX.sub("", name): name for name in header if _ANSWER_SUFFIX.search(name)}
    return {name: answers[name] for name in header if name in answers}


def contract_from_row(row: Mapping[str, str], pairs: Mapping[str, str], files: Mapping[str, Path], where: str) -> Contract:
    """Parse one CSV row and read its contract text."""
    stem = Path(row["Filename"].strip()).stem
    text_path = files.get(file_key(stem))
    if text_path is None:
        raise HarnessError(f"no text file for contract {stem!r}", f"{where}: Filename", f"put {stem}.txt in {TEXT_DIR}/")
    spans = {category: parse_span_list(row[category], f"{where}: {category}") for category in pairs}
    answers = {category: (row[column].strip() or None) for category, column in pairs.items()}
    return Contract(stem, read_text(text_path), spans, answers)


def parse_span_list(cell: str, where: str) -> tuple[str, ...]:
    """A span cell: a Python list literal of strings (empty cell = no spans)."""
    if not cell.strip():
        return ()
    try:
        value = ast.literal_eval(cell)
    except (ValueError, SyntaxError):
        raise HarnessError("span cell is not a list literal", where) from None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise HarnessError("span cell is not a list of strings", where)
    return tuple(item for item in value if item.strip())


def locate(text: str, span: str) -> list[tuple[int, int]]:
    """Every (start, end) where `span` occurs in `text`, tolerating differences in whitespace; the
    pieces of a discontinuous span (joined by '<omitted>' in the release) are located one by one."""
    pieces = [piece.strip() for piece in span.split(OMITTED) if piece.strip()]
    return sorted((m.start(), m.end()) for piece in pieces for m in _span_pattern(piece).finditer(text))


def annotated_ranges(text: str, spans: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """Where the annotations of a category lie: a span string listed k times is taken to be its
    first k occurrences (a date also printed in every page header was annotated once, not on
    every page); each piece of a discontinuous span counts on its own."""
    listed = Counter(piece.strip() for span in spans for piece in span.split(OMITTED) if piece.strip())
    return tuple(sorted(loc for piece, times in listed.items() for loc in locate(text, piece)[:times]))


@lru_cache(maxsize=4096)
def _span_pattern(span: str) -> re.Pattern[str]:
    return re.compile(r"\s+".join(re.escape(word) for word in span.split()))
