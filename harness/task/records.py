"""The unit of task data: one input text with its gold JSON, and JSONL files of them.

A `Record` carries its own id, the id of the source document it was cut from (splits and leakage
checks work by document, never by record) and its origin (`cuad`, `synthetic`, or a user's own
folder), so every report can say which data is real. This module reads and writes records and
hashes them; it knows nothing of how records are built, prompted or scored.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from harness.cache_files import write_text
from harness.errors import HarnessError


@dataclass(frozen=True)
class Record:
    """One example: `text` in, `gold` (valid against the task schema) out."""

    id: str
    source_id: str
    text: str
    gold: Mapping[str, Any]
    origin: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)


def write_records(path: Path, records: Iterable[Record]) -> None:
    """Write records as JSONL, atomically (a crash never leaves half a file)."""
    write_text(path, "".join(r.to_json() + "\n" for r in records))


def read_records(path: Path) -> list[Record]:
    """Read a JSONL file of records, naming the file and line of any malformed entry."""
    if not path.is_file():
        raise HarnessError("records file not found", str(path), "build the task's data first (harness data build <task>)")
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(Record(**json.loads(line)))
        except (json.JSONDecodeError, TypeError) as exc:
            raise HarnessError(f"malformed record: {exc}", f"{path}:{number}") from None
    return records


def records_hash(records: Iterable[Record]) -> str:
    """A content hash of records in order (sha256 of their canonical JSON lines)."""
    digest = hashlib.sha256()
    for record in records:
        digest.update(record.to_json().encode("utf-8") + b"\n")
    return digest.hexdigest()
