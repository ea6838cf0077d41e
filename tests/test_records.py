"""harness.task.records (JSONL of records, hashes) and harness.engine.prediction_log (the append-only raw log)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.engine.prediction_log import Prediction, append_prediction, read_predictions
from harness.task.records import Record, read_records, records_hash, write_records

A = Record("a", "doc1", "Text A — with ünïcode.", {"parties": ["Acme"], "governing_law": None}, "cuad")
B = Record("b", "doc1", "Text B", {"parties": [], "governing_law": "Texas"}, "synthetic")


def prediction(record_id: str, text: str = "{}", error: str | None = None) -> Prediction:
    return Prediction(record_id, "cand", "test", text, 10, 3, 0.01, 0.2, "stop", 1, error)


def test_records_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "test.jsonl"
    write_records(path, [A, B])
    assert read_records(path) == [A, B]
    assert not path.with_suffix(".jsonl.tmp").exists()
    assert "ünïcode" in path.read_text(encoding="utf-8")


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(A.to_json() + "\n\n" + B.to_json() + "\n", encoding="utf-8")
    assert [r.id for r in read_records(path)] == ["a", "b"]


@pytest.mark.parametrize("bad_line", ['{"id": "x"', '{"id": "x", "text": "t"}', '{"id": "x", "source_id": "d", "text": "t", '
                                      '"gold": {}, "origin": "cuad", "extra": 1}'])
def test_malformed_record_names_file_and_line(tmp_path: Path, bad_line: str) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(A.to_json() + "\n" + bad_line + "\n", encoding="utf-8")
    with pytest.raises(HarnessError, match="malformed record") as caught:
        read_records(path)
    assert caught.value.where == f"{path}:2"


def test_missing_records_file(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="records file not found") as caught:
        read_records(tmp_path / "none.jsonl")
    assert "harness data build" in caught.value.fix


def test_records_hash_is_content_and_order_sensitive() -> None:
    assert records_hash([A, B]) == records_hash([A, B])
    assert records_hash([A, B]) != records_hash([B, A])
    assert records_hash([A]) != records_hash([A, B])
    changed = Record("a", "doc1", "Text A — with ünïcode!", A.gold, "cuad")
    assert records_hash([changed]) != records_hash([A])
    assert len(records_hash([])) == 64


def test_predictions_round_trip_in_append_order(tmp_path: Path) -> None:
    path = tmp_path / "raw" / "cand.test.jsonl"
    append_prediction(path, prediction("r1"))
    append_prediction(path, prediction("r2", "", error="timed out after 5 s"))
    logged = read_predictions(path)
    assert list(logged) == ["r1", "r2"]
    assert logged["r2"] == prediction("r2", "", error="timed out after 5 s")
    assert path.read_text().count("\n") == 2


def test_missing_log_reads_empty(tmp_path: Path) -> None:
    assert read_predictions(tmp_path / "none.jsonl") == {}


def test_later_line_for_same_record_wins(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    append_prediction(path, prediction("r1", "old"))
    append_prediction(path, prediction("r1", "new"))
    assert read_predictions(path)["r1"].text == "new"


@pytest.mark.parametrize("torn", ['{"record_id": "r3", "candi', '{"record_id": "r3"}'])
def test_torn_last_line_is_ignored(tmp_path: Path, torn: str) -> None:
    path = tmp_path / "log.jsonl"
    append_prediction(path, prediction("r1"))
    append_prediction(path, prediction("r2"))
    with path.open("a") as handle:
        handle.write(torn)
    assert list(read_predictions(path)) == ["r1", "r2"]


def test_malformed_middle_line_raises(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    append_prediction(path, prediction("r1"))
    with path.open("a") as handle:
        handle.write("garbage\n")
    append_prediction(path, prediction("r2"))
    with pytest.raises((ValueError, HarnessError)):
        read_predictions(path)


def test_malformed_middle_line_is_a_harness_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    append_prediction(path, prediction("r1"))
    with path.open("a") as handle:
        handle.write(json.dumps(asdict(prediction("r2")) | {"surprise": 1}) + "\n")
    append_prediction(path, prediction("r3"))
    with pytest.raises(HarnessError) as caught:
        read_predictions(path)
    assert caught.value.where == f"{path}:2"
