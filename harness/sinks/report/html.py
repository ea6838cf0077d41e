"""Lays out report blocks as one self-contained HTML file: inline CSS, figures as data URIs.

The file loads nothing from anywhere (no scripts, fonts, style sheets or image files), so it can be
mailed, attached to a CI run or opened offline. Every text is HTML-escaped. The verdict banner is
coloured by decision; best values in tables are highlighted. The embedded data card is shown as
preformatted text. This module knows nothing about summary.json; it only lays out the blocks.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path

from harness.sinks.report.blocks import (Banner, Block, Bullets, Embedded, Figure, Section, Table, Text,
                                   Verbatim)

STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328;
       max-width: 1180px; margin: 2rem auto; padding: 0 1.5rem; }
h1 { margin-bottom: 0; } h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .3rem; }
.subtitle { color: #59636e; margin-top: .2rem; }
nav a { margin-right: .9rem; color: #0969da; text-decoration: none; }
.banner { border-radius: 8px; padding: 1rem 1.4rem; margin: 1rem 0; border-left: 10px solid; }
.banner .status { font-size: 1.6rem; font-weight: 700; letter-spacing: .03em; }
.adapter_wins { background: #dafbe1; border-color: #1a7f37; }
.not_proven { background: #fff8c5; border-color: #bf8700; }
.adapter_loses { background: #ffebe9; border-color: #cf222e; }
.wide { overflow-x: auto; }
table { border-collapse: collapse; margin: .8rem 0; font-size: 13.5px; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } tr:nth-child(even) td { background: #fbfcfd; }
td.best { background: #dafbe1 !important; font-weight: 700; }
.note { color: #59636e; font-size: 13px; font-style: italic; margin-top: -.4rem; }
figure { margin: 1rem 0; } figure img { max-width: 100%; border: 1px solid #eaeef2; }
figcaption { color: #59636e; font-size: 13px; }
pre { background: #f6f8fa; padding: .7rem; border-radius: 6px; white-space: pre-wrap; }
"""


def render_table(table: Table) -> str:
    """An HTML table with best cells highlighted, then its note."""
    head = "".join(f"<th>{escape(h)}</th>" for h in table.header)
    body = "".join("<tr>" + "".join(
        f'<td class="best">{escape(c)}</td>' if (r, k) in table.best else f"<td>{escape(c)}</td>"
        for k, c in enumerate(row)) + "</tr>" for r, row in enumerate(table.rows))
    note = f'<p class="note">{escape(table.note)}</p>' if table.note else ""
    return (f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
            f"</table></div>{note}")


def render_banner(banner: Banner) -> str:
    """The coloured verdict box."""
    lines = "".join(f"<li>{escape(line)}</li>" for line in banner.lines)
    reasons = "".join(f"<li>{escape(reason)}</li>" for reason in banner.reasons)
    return (f'<div class="banner {escape(banner.decision)}"><div class="status">'
            f"{escape(banner.status)}</div><p>{escape(banner.sentence)}</p><ul>{lines}</ul>"
            f"<strong>Reasons</strong><ul>{reasons}</ul></div>")


def render_figure(figure: Figure, run_dir: Path) -> str:
    """The PNG inlined as a base64 data URI, with its caption."""
    data = base64.b64encode((run_dir / figure.path).read_bytes()).decode("ascii")
    return (f'<figure><img alt="{escape(figure.caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{escape(figure.caption)}</figcaption></figure>")


def _renderers(run_dir: Path) -> dict[type, Callable[[Block], str]]:
    return {
        Banner: render_banner,
        Text: lambda block: f"<p>{escape(block.text)}</p>",
        Bullets: lambda block: "<ul>" + "".join(f"<li>{escape(i)}</li>" for i in block.items)
                               + "</ul>",
        Table: render_table,
        Figure: lambda block: render_figure(block, run_dir),
        Verbatim: lambda block: f"<pre>{escape(block.text)}</pre>",
        Embedded: lambda block: f"<pre>{escape(block.markdown)}</pre>",
    }


def _anchor(title: str) -> str:
    return title.lower().replace(" ", "-")


def render_html(title: str, subtitle: str, sections: Sequence[Section], run_dir: Path) -> str:
    """The whole page; figure paths are read relative to `run_dir` and inlined."""
    renderers = _renderers(run_dir)
    nav = "".join(f'<a href="#{_anchor(s.title)}">{escape(s.title)}</a>' for s in sections)
    body = "".join(f'<section id="{_anchor(s.title)}"><h2>{escape(s.title)}</h2>'
                   + "".join(renderers[type(block)](block) for block in s.blocks) + "</section>"
                   for s in sections)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
            f"</title><style>{STYLE}</style></head><body><h1>{escape(title)}</h1>"
            f'<p class="subtitle">{escape(subtitle)}</p><nav>{nav}</nav>{body}</body></html>\n')
