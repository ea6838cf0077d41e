"""The content model of a report: sections made of a few block types, rendered twice.

Section builders produce these blocks once, with every number already written as text by
harness.sinks.report.formatting; harness.sinks.report.markdown and harness.sinks.report.html only lay them out. So
both files show the same characters for the same number. Blocks hold plain text (no inline
markup) and paths relative to the run folder. This module knows nothing about summary.json or
output formats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True)
class Banner:
    """The verdict at a glance: decision key (for colour), status word, sentence, key numbers
    and the verdict's reasons."""

    decision: str
    status: str
    sentence: str
    lines: tuple[str, ...]
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Text:
    """One paragraph of plain text."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A bulleted list of plain-text items."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table of text cells; `best` holds the (row, column) cells to highlight."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    best: frozenset[tuple[int, int]] = field(default_factory=frozenset)
    note: str = ""

    def __post_init__(self) -> None:
        if any(len(row) != len(self.header) for row in self.rows):
            raise ValueError(f"every row of table {self.header} needs {len(self.header)} cells")


@dataclass(frozen=True)
class Figure:
    """A PNG under the run folder (`plots/x.png`) and its caption."""

    path: str
    caption: str


@dataclass(frozen=True)
class Verbatim:
    """Preformatted text shown as is (JSON, model output)."""

    text: str


@dataclass(frozen=True)
class Embedded:
    """A Markdown document embedded whole (the data card)."""

    markdown: str


Block = Union[Banner, Text, Bullets, Table, Figure, Verbatim, Embedded]


@dataclass(frozen=True)
class Section:
    """A titled part of the report."""

    title: str
    blocks: tuple[Block, ...]
