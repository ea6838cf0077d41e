"""harness.record.run_record: run folders, resume only with the same config, the `latest` pointer, atomic writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.record.run_record import open_run, point_latest, resolve_resume, write_json, write_jsonl
from harness.record.run_summary import read_run_summary

CONFIG = {"task": {"id": "t", "gate": {"min_effect": 0.05}}, "model_hash": "abc", "candidates": ["a", "b"],
          "paths": {"root": Path("/project")}, "load": {"concurrency": 4}}


def test_new_run_records_its_config(tmp_path: Path) -> None:
    run_dir = open_run(tmp_path, "t", CONFIG, None)
    assert run_dir.parent == tmp_path / "t"
    recorded = json.loads((run_dir / "run_config.json").read_text())
    assert recorded["paths"] == {"root": "/project"} and recorded["candidates"] == ["a", "b"]


def test_two_runs_get_distinct_folders(tmp_path: Path) -> None:
    assert open_run(tmp_path, "t", CONFIG, None) != open_run(tmp_path, "t", CONFIG, None)


def test_resume_latest_with_same_config_reopens_the_run(tmp_path: Path) -> None:
    run_dir = open_run(tmp_path, "t", CONFIG, None)
    point_latest(run_dir)
    same = json.loads(json.dumps(CONFIG, default=str))  # tuples/paths as a fresh resolve would record them
    assert open_run(tmp_path, "t", same, "latest") == run_dir.resolve()
    assert open_run(tmp_path, "t", CONFIG, run_dir.name) == run_dir


def test_resume_with_different_config_lists_changed_keys(tmp_path: Path) -> None:
    run_dir = open_run(tmp_path, "t", CONFIG, None)
    point_latest(run_dir)
    changed = CONFIG | {"task": {"id": "t", "gate": {"min_effect": 0.1}}, "load": {"concurrency": 8}, "extra": 1}
    with pytest.raises(HarnessError, match="different settings") as caught:
        open_run(tmp_path, "t", changed, "latest")
    assert "changed: ['extra', 'load', 'task']" in caught.value.what
    assert caught.value.where == str(run_dir.resolve())
    assert caught.value.fix == "resume with the same options"


def test_resume_without_runs_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="no run 'latest' to resume"):
        open_run(tmp_path, "t", CONFIG, "latest")
    with pytest.raises(HarnessError, match="no run '20990101T000000Z-ffff' to resume"):
        resolve_resume(tmp_path, "t", "20990101T000000Z-ffff")


def test_latest_points_at_the_newest_run(tmp_path: Path) -> None:
    first = open_run(tmp_path, "t", CONFIG, None)
    point_latest(first)
    second = open_run(tmp_path, "t", CONFIG, None)
    point_latest(second)
    link = tmp_path / "t" / "latest"
    assert link.is_symlink()
    assert os.readlink(link) == second.name  # relative: the reports folder can move
    assert link.resolve() == second.resolve()
    assert resolve_resume(tmp_path, "t", "latest") == second.resolve()
    assert sorted(p.name for p in (tmp_path / "t").iterdir() if p.name.startswith(".latest")) == []


def test_write_json_and_jsonl_are_atomic_and_readable(tmp_path: Path) -> None:
    write_json(tmp_path / "a" / "summary.json", {"path": Path("/x"), "n": 1})
    write_jsonl(tmp_path / "a" / "rows.jsonl", [{"i": 1}, {"i": 2}])
    assert json.loads((tmp_path / "a" / "summary.json").read_text()) == {"path": "/x", "n": 1}
    assert (tmp_path / "a" / "rows.jsonl").read_text() == '{"i": 1}\n{"i": 2}\n'
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["rows.jsonl", "summary.json"]


def test_read_summary_of_unfinished_run(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="no summary.json"):
        read_run_summary(tmp_path)
