"""Lays out report blocks as one Markdown document that stands alone next to its plots folder.

Figures are referenced by their path relative to the run folder (`plots/x.png`), so report.md
renders wherever the folder is copied. Best values in tables are bold; text in table cells is
escaped so a pipe or an angle bracket in a model's output cannot break the table. The embedded data
card's headings are moved two levels down so they nest under the report's own. This module knows
nothing about summary.json; it only writes the text the blocks already hold.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from harness.sinks.report.blocks import (Banner, Block, Bullets, Embedded, Figure, Section, Table, Text,
                                   Verbatim)

_HEADING_SHIFT = "##"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")


def render_table(table: Table) -> str:
    """A pipe table with best cells in bold, then the table's note in italics."""
    lines = ["| " + " | ".join(_cell(h) for h in table.header) + " |",
             "|" + "---|" * len(table.header)]
    for r, row in enumerate(table.rows):
        cells = (f"**{_cell(c)}**" if (r, k) in table.best else _cell(c) for k, c in enumerate(row))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + (f"\n\n*{table.note}*" if table.note else "")


def render_banner(banner: Banner) -> str:
    """A block quote: status word, sentence, key numbers, reasons."""
    lines = [f"**{banner.status}** — {banner.sentence}", "",
             *(f"- {line}" for line in banner.lines), "", "Reasons:", "",
             *(f"- {reason}" for reason in banner.reasons)]
    return "\n".join(f"> {line}".rstrip() for line in lines)


def _fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def demote_headings(markdown: str) -> str:
    """Every ATX heading outside code fences moved two levels down."""
    out, in_fence = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        out.append(_HEADING_SHIFT + line if not in_fence and line.startswith("#") else line)
    return "\n".join(out)


_RENDERERS: dict[type, Callable[[Block], str]] = {
    Banner: render_banner,
    Text: lambda block: block.text,
    Bullets: lambda block: "\n".join(f"- {item}" for item in block.items),
    Table: render_table,
    Figure: lambda block: f"![{block.caption}]({block.path})\n\n*{block.caption}*",
    Verbatim: lambda block: f"{_fence(block.text)}\n{block.text}\n{_fence(block.text)}",
    Embedded: lambda block: demote_headings(block.markdown),
}


def render_markdown(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """The whole document: title, subtitle, then each section and its blocks."""
    parts = [f"# {title}", subtitle]
    for section in sections:
        parts.append(f"## {section.title}")
        parts.extend(_RENDERERS[type(block)](block) for block in section.blocks)
    return "\n\n".join(parts) + "\n"
