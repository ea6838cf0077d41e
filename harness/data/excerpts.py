"""Token-bounded excerpts of a long text, cut on sentence boundaries.

A contract is split into sentences (after . ! ? ; followed by a space and no lower-case letter, at
line breaks, and at wide layout gaps of PDF-extracted text). An excerpt grows from the sentences
covering an anchor span, one whole sentence at a time on a seeded random side, until the next one
would pass the token budget; token counts come from the injected `count_tokens` (the model's
tokenizer in production). This module knows nothing of fields, gold values or splits.
"""

from __future__ import annotations

import bisect
import random
import re
from dataclasses import dataclass, field
from typing import Callable

_BOUNDARY = re.compile(r"(?<=[.!?;])[\"')\]”’]*[ \t]+(?![a-z])|[ \t]*\n\s*|[ \t]{3,}")

TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class Window:
    """An excerpt: characters [start, end) of its text."""

    start: int
    end: int

    def overlaps(self, start: int, end: int) -> bool:
        return start < self.end and end > self.start

    def holds(self, start: int, end: int) -> bool:
        return self.start <= start and end <= self.end


@dataclass
class Sentences:
    """A text cut into sentences, with token counts computed on demand and cached."""

    text: str
    count_tokens: TokenCounter
    bounds: list[tuple[int, int]] = field(init=False)
    starts: list[int] = field(init=False)
    _tokens: dict[int, int] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        cuts = [0, *(m.end() for m in _BOUNDARY.finditer(self.text)), len(self.text)]
        spans = [(a, b) for a, b in zip(cuts, cuts[1:])]
        self.bounds = [(a, a + len(self.text[a:b].rstrip())) for a, b in spans if self.text[a:b].strip()]
        self.starts = [a for a, _ in self.bounds]

    def tokens(self, index: int) -> int:
        if index not in self._tokens:
            start, end = self.bounds[index]
            self._tokens[index] = self.count_tokens(self.text[start:end])
        return self._tokens[index]

    def covering(self, start: int, end: int) -> tuple[int, int]:
        """Indices (first, last) of the sentences that cover characters [start, end)."""
        first = max(0, bisect.bisect_right(self.starts, start) - 1)
        last = max(first, bisect.bisect_left(self.starts, end) - 1)
        return first, last

    def window(self, first: int, last: int) -> Window:
        return Window(self.bounds[first][0], self.bounds[last][1])


def grow(sentences: Sentences, anchor: tuple[int, int], budget: int, rng: random.Random) -> Window | None:
    """The excerpt around characters `anchor`, or None when the anchor alone passes the budget."""
    first, last = sentences.covering(*anchor)
    used = sum(sentences.tokens(i) for i in range(first, last + 1))
    if used > budget:
        return None
    sides = ["before", "after"]
    while sides:
        side = rng.choice(sides)
        index = first - 1 if side == "before" else last + 1
        if not 0 <= index < len(sentences.bounds) or used + sentences.tokens(index) > budget:
            sides.remove(side)
            continue
        used += sentences.tokens(index)
        first, last = (index, last) if side == "before" else (first, index)
    return shrink(sentences, first, last, anchor, budget)


def shrink(sentences: Sentences, first: int, last: int, anchor: tuple[int, int], budget: int) -> Window | None:
    """Drop outer sentences (never the anchor's) until the joined text fits the budget: a
    tokenizer may count the joined text differently from the sum of its sentences."""
    keep_first, keep_last = sentences.covering(*anchor)
    while sentences.count_tokens(excerpt_text(sentences.text, sentences.window(first, last))) > budget:
        if first < keep_first:
            first += 1
        elif last > keep_last:
            last -= 1
        else:
            return None
    return sentences.window(first, last)


def excerpt_text(text: str, window: Window) -> str:
    """The text of a window as a record holds it."""
    return text[window.start:window.end]
