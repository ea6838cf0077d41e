"""A few records where the candidates disagree, shown with the gold answer and each raw output.

A record is shown when the candidates' scores differ: first records where some candidate got the
whole record right and another did not, then records whose output status differs (valid vs
schema_invalid vs not_json ...). Records are taken in the order of the first prediction file, so
the choice is the same on every render. Long outputs are cut with a marker saying how much was cut.
Every candidate must have predicted the same records; otherwise the run is broken and this says so.
This module knows nothing about scoring rules or output formats.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from harness.errors import HarnessError
from harness.sinks.report.blocks import Block, Section, Table, Text, Verbatim
from harness.sinks.report.run_folder import RunFolder

EXAMPLES_SHOWN = 3
OUTPUT_CHARS_SHOWN = 300


def predictions_by_record(record: RunFolder) -> dict[str, dict[str, Mapping[str, Any]]]:
    """record id -> candidate id -> prediction row; HarnessError if candidates saw other records."""
    by_candidate = {cid: {row["record_id"]: row for row in rows}
                    for cid, rows in record.predictions.items()}
    first, *others = by_candidate
    for cid in others:
        if set(by_candidate[cid]) != set(by_candidate[first]):
            raise HarnessError(f"candidates {first} and {cid} predicted different records",
                               str(record.run_dir / "predictions"),
                               "re-run the comparison so every candidate sees the same split")
    return {rid: {cid: by_candidate[cid][rid] for cid in by_candidate}
            for rid in by_candidate[first]}


def disagreements(record: RunFolder) -> list[str]:
    """Record ids where candidates disagree: on record_exact first, then on output status."""
    rows = predictions_by_record(record)

    def differs(rid: str, key: str) -> bool:
        return len({row["score"][key] for row in rows[rid].values()}) > 1

    on_exact = [rid for rid in rows if differs(rid, "record_exact")]
    on_status = [rid for rid in rows if rid not in on_exact and differs(rid, "status")]
    return (on_exact + on_status)[:EXAMPLES_SHOWN]


def shown_output(row: Mapping[str, Any]) -> str:
    """The raw output as shown: cut after OUTPUT_CHARS_SHOWN characters, failures named."""
    if row["error"] is not None:
        return f"(request failed after {row['attempts']} attempt(s): {row['error']})"
    text = row["text"]
    if not text:
        return "(empty output)"
    cut = len(text) - OUTPUT_CHARS_SHOWN
    return text if cut <= 0 else f"{text[:OUTPUT_CHARS_SHOWN]}… [{cut} more characters]"


def example_blocks(rid: str, rows: Mapping[str, Mapping[str, Any]]) -> tuple[Block, ...]:
    """One record: its gold answer, then each candidate's status and raw output."""
    gold = next(iter(rows.values()))["gold"]
    table = Table(("candidate", "status", "record exact", "violation", "output"), tuple(
        (cid, row["score"]["status"], "yes" if row["score"]["record_exact"] else "no",
         row["score"]["violation_path"] or "", shown_output(row)) for cid, row in rows.items()))
    return (Text(f"Record {rid}, gold answer:"),
            Verbatim(json.dumps(gold, indent=2, ensure_ascii=False)), table)


def examples_section(record: RunFolder) -> Section:
    """Up to EXAMPLES_SHOWN records where the candidates disagree."""
    chosen = disagreements(record)
    if not chosen:
        return Section("Where candidates disagree", (Text("Every candidate scored every record "
                                                          "the same way."),))
    rows = predictions_by_record(record)
    blocks = [block for rid in chosen for block in example_blocks(rid, rows[rid])]
    return Section("Where candidates disagree", tuple(blocks))
