"""Two processes on one cache: real races on the data build, baseline cache, prompt choice, locks and publishes.

Each race starts its processes (spawned, so nothing is shared but the folder) behind a barrier so
they reach the contested step together, then checks that every entry is whole, that no temporary
name is left behind, and that a process killed mid-build leaves nothing a later run would trust.
Two runs racing one adapter's training (one trains, the other says it waits and reuses it) is
tests/test_concurrent_runs.py's, with two whole comparisons.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from conftest import write_cuad
from harness.serve.baseline_cache import restore, save
from harness.serve.batch_store import BatchStore
from harness.cache_files import building, key_lock, sweep_abandoned, temporary_name, write_text
from harness.engine.prediction_log import Prediction, append_prediction
from harness.serve.prompt_choice import PromptChoice, choice_path, load_choice, save_choice
from harness.pipeline.run_config import DataOptions

BATCHES = [("best_prompt", "dev"), ("best_prompt", "test"), ("tune.extract_plain", "dev")]
SPAWN = multiprocessing.get_context("spawn")


def leftovers(folder: Path) -> list[str]:
    """Temporary names (of writes, builds, retired entries) anywhere under `folder`."""
    return [str(p) for p in folder.rglob("*") if p.name.endswith((".tmp", ".building", ".retired"))]


def race(function: Any, *arguments: tuple[Any, ...]) -> list[Any]:
    """Run `function(barrier, *args)` once per argument tuple, each in its own spawned process, together."""
    with SPAWN.Manager() as manager:
        barrier = manager.Barrier(len(arguments))
        with ProcessPoolExecutor(len(arguments), mp_context=SPAWN) as pool:
            return [f.result(timeout=1800) for f in [pool.submit(function, barrier, *args) for args in arguments]]


# --- the generic lock: an expensive step for one key runs once -------------------------------------------------


def expensive_once(barrier: Any, target: str, log: str) -> tuple[bool, str]:
    """The pattern of training and merging: look, lock, look again, do the work, publish."""
    entry = Path(target)
    barrier.wait()
    with key_lock(entry, f"work on {entry.name}") as waited:
        if not (entry / "result.txt").is_file():
            with open(log, "a") as handle:
                handle.write(f"{os.getpid()}\n")
            time.sleep(2)
            with building(entry) as staging:
                (staging / "result.txt").write_text(f"made by {os.getpid()}")
    return waited, (entry / "result.txt").read_text()


def test_a_locked_step_runs_once_and_the_waiter_reuses_it(tmp_path: Path) -> None:
    target, log = tmp_path / "cache" / "merged" / "abc-float32", tmp_path / "work.log"
    results = race(expensive_once, (str(target), str(log)), (str(target), str(log)))
    assert len(log.read_text().splitlines()) == 1
    assert sorted(waited for waited, _ in results) == [False, True]
    assert results[0][1] == results[1][1] == (target / "result.txt").read_text()
    assert leftovers(tmp_path / "cache") == []


def test_the_waiting_process_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "adapters" / "k1"
    holder = SPAWN.Process(target=hold_lock, args=(str(target), 3.0))
    holder.start()
    deadline = time.monotonic() + 60
    while not (tmp_path / "held").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    with key_lock(target, "training of adapter k1") as waited:
        assert waited
    holder.join()
    assert capsys.readouterr().out.startswith("[cache] waiting for another run's training of adapter k1")


def hold_lock(target: str, seconds: float) -> None:
    with key_lock(Path(target), "test"):
        (Path(target).parent.parent / "held").write_text("")
        time.sleep(seconds)


# --- atomic writes and publishes ---------------------------------------------------------------------------------


def write_many(barrier: Any, path: str, letter: str) -> None:
    barrier.wait()
    for _ in range(50):
        write_text(Path(path), letter * 200_000)


def test_racing_writers_never_leave_a_mixed_or_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "choice.json"
    with SPAWN.Manager() as manager:
        barrier = manager.Barrier(3)
        with ProcessPoolExecutor(2, mp_context=SPAWN) as pool:
            futures = [pool.submit(write_many, barrier, str(path), letter) for letter in "ab"]
            barrier.wait()
            seen = set()
            while not all(f.done() for f in futures):
                if path.is_file():
                    seen.add(path.read_text())
            [f.result() for f in futures]
    assert seen <= {"a" * 200_000, "b" * 200_000} and seen
    assert leftovers(tmp_path) == []


def build_and_die(target: str) -> None:
    with building(Path(target)) as staging:
        (staging / "config.json").write_text("{}")
        (staging / "model.safetensors").write_bytes(b"half")
        os.kill(os.getpid(), signal.SIGKILL)


def test_a_process_killed_mid_publish_leaves_no_entry(tmp_path: Path) -> None:
    target = tmp_path / "merged" / "abc-float32"
    child = SPAWN.Process(target=build_and_die, args=(str(target),))
    child.start()
    child.join()
    assert child.exitcode == -signal.SIGKILL
    assert not target.exists()  # merged_model trusts target/config.json: there is none
    (remains,) = leftovers(target.parent)
    with building(target) as staging:  # the next run builds and publishes, and clears the dead one's remains
        (staging / "config.json").write_text('{"whole": true}')
    assert json.loads((target / "config.json").read_text()) == {"whole": True}
    assert f".{child.pid}@" in remains and leftovers(target.parent) == []


def test_the_sweep_keeps_what_a_live_owner_or_another_host_is_writing(tmp_path: Path) -> None:
    live = tmp_path / temporary_name("abc", "building")  # ours: this process is running
    live.mkdir()
    elsewhere = tmp_path / f".abc.{os.getpid() + 1_000_000}@some-other-host-{'0' * 8}.building"
    elsewhere.mkdir()
    unknown = tmp_path / ".abc.tmp"
    unknown.write_text("")
    assert sweep_abandoned(tmp_path) == [] and {p.name for p in tmp_path.iterdir()} == {live.name, elsewhere.name, unknown.name}


# --- the data build ----------------------------------------------------------------------------------------------


def build_data(barrier: Any, cuad: str, cache: str, kill_after: int | None = None) -> dict[str, str]:
    from harness.pipeline.data_stage import provide_data
    from test_data_build import small_task

    if barrier is not None:
        barrier.wait()
    data = provide_data(small_task(), Path(cache), DataOptions(Path(cuad)), WordTokenizer(kill_after))
    return {"folder": str(data.folder), **data.hashes}


class WordTokenizer:
    """Counts words as tokens (as tests/test_data_build.py does); kills its own process after `limit` calls."""

    name_or_path = "words"

    def __init__(self, limit: int | None) -> None:
        self.limit, self.calls = limit, 0

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[str]]:
        self.calls += 1
        if self.limit is not None and self.calls > self.limit:
            os.kill(os.getpid(), signal.SIGKILL)  # a crash in the middle of the build
        return {"input_ids": text.split()}


def test_two_data_builds_at_once_publish_one_whole_folder(tmp_path: Path) -> None:
    cuad, cache = write_cuad(tmp_path / "cuad", range(24)), tmp_path / "cache"
    first, second = race(build_data, (str(cuad), str(cache)), (str(cuad), str(cache)))
    assert first == second
    folder = Path(first["folder"])
    assert sorted(p.name for p in folder.iterdir()) == ["data_card.json", "data_card.md", "dev.jsonl", "few_shot_pool.jsonl",
                                                         "test.jsonl", "train.jsonl"]
    assert json.loads((folder / "data_card.json").read_text())["hashes"] == {k: v for k, v in first.items() if k != "folder"}
    assert leftovers(cache) == []


def test_a_data_build_killed_midway_is_not_trusted_and_the_next_run_builds_it(tmp_path: Path) -> None:
    cuad, cache = write_cuad(tmp_path / "cuad", range(24)), tmp_path / "cache"
    child = SPAWN.Process(target=build_data, args=(None, str(cuad), str(cache), 40))
    child.start()
    child.join()
    assert child.exitcode == -signal.SIGKILL
    assert [p.name for p in (cache / "data" / "contract_extraction").iterdir() if not p.name.startswith(".")] == []
    rebuilt = build_data(None, str(cuad), str(cache))
    assert (Path(rebuilt["folder"]) / "data_card.md").is_file()


# --- the baseline cache ------------------------------------------------------------------------------------------


WALLS = {"a1": 1.0, "a2": 2.0, "b1": 3.0, "b2": 4.0}


def fill_store(run_dir: Path, origin: str) -> BatchStore:
    """A run's baseline batches whose every text and wall time says which run (`origin`) measured them."""
    store = BatchStore(run_dir)
    for label, split in BATCHES:
        for i in range(100):
            append_prediction(store.log_path(label, split),
                              Prediction(f"r{i}", label, split, f"{origin}:{label}/{split}/{i}", 5, 2, None, 0.1, "stop", 1))
        store.add_wall_seconds(label, split, WALLS[origin])
    return store


def save_baseline(barrier: Any, cache: str, run_dir: str, tag: str) -> None:
    """Save two different measurements in turn, so every save replaces the entry."""
    stores = [fill_store(Path(run_dir) / variant, tag + variant) for variant in "12"]
    barrier.wait()
    for turn in range(10):
        save(Path(cache), stores[turn % 2], BATCHES, {"origin": tag + "12"[turn % 2]}, tag + "12"[turn % 2])


def restore_baseline(barrier: Any, cache: str, run_dir: str) -> list[str]:
    """Restore over and over while the others save; each restore's batches must come from one measurement."""
    barrier.wait()
    origins = []
    for attempt in range(40):
        store = BatchStore(Path(run_dir) / f"r{attempt}")
        restored, measured_by = restore(Path(cache), store, BATCHES)
        if restored:
            assert restored == BATCHES
            found = {p.text.split(":")[0] for label, split in BATCHES for p in store.predictions(label, split).values()}
            assert len(found) == 1
            origin = found.pop()
            assert measured_by == origin, "the entry names the run whose batches it holds"
            assert {store.wall_seconds(label, split) for label, split in BATCHES} == {WALLS[origin]}
            origins.append(origin)
    return origins


def test_two_baseline_saves_and_a_reader_at_once(tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "baselines" / "contract_extraction" / "k16"
    with SPAWN.Manager() as manager:
        barrier = manager.Barrier(3)
        with ProcessPoolExecutor(3, mp_context=SPAWN) as pool:
            writers = [pool.submit(save_baseline, barrier, str(cache), str(tmp_path / f"run_{tag}"), tag) for tag in "ab"]
            reader = pool.submit(restore_baseline, barrier, str(cache), str(tmp_path / "reader"))
            [w.result(timeout=600) for w in writers]
            assert set(reader.result(timeout=600)) <= set(WALLS)
    final = BatchStore(tmp_path / "final")
    assert restore(cache, final, BATCHES)[0] == BATCHES
    origin = json.loads((cache / "key_parts.json").read_text())["origin"]
    assert {p.text.split(":")[0] for label, split in BATCHES for p in final.predictions(label, split).values()} == {origin}
    assert final.wall_seconds(*BATCHES[0]) == WALLS[origin]
    assert leftovers(tmp_path / "cache") == []


# --- the prompt choice -------------------------------------------------------------------------------------------


def save_choices(barrier: Any, cache: str, winner: str) -> None:
    from test_data_build import small_task

    task = small_task()
    barrier.wait()
    for _ in range(100):
        save_choice(Path(cache), task, PromptChoice(winner, 2, "field_f1", {winner: 0.5, "other": 0.25}, "k16"))


def test_two_prompt_choice_saves_at_once_leave_one_whole_choice(tmp_path: Path) -> None:
    from test_data_build import small_task

    race(save_choices, (str(tmp_path), "extract_plain"), (str(tmp_path), "extract_strict"))
    choice = load_choice(tmp_path, small_task(), "k16")
    assert choice is not None and choice.winner in {"extract_plain", "extract_strict"}
    assert choice.dev_scores == {choice.winner: 0.5, "other": 0.25}
    assert [p.name for p in choice_path(tmp_path, small_task(), "k16").parent.iterdir()] == ["k16.json"]


def test_an_incomplete_build_left_in_place_by_an_older_version_is_an_error_not_trusted(tmp_path: Path) -> None:
    from harness.pipeline.data_stage import data_key
    from harness.errors import HarnessError
    from test_data_build import small_task

    cuad, cache = write_cuad(tmp_path / "cuad", range(24)), tmp_path / "cache"
    options = DataOptions(cuad)
    stale = cache / "data" / "contract_extraction" / data_key(small_task(), options, WordTokenizer.name_or_path)
    stale.mkdir(parents=True)
    (stale / "train.jsonl").write_text('{"id": "half')
    with pytest.raises(HarnessError, match="incomplete data build"):
        build_data(None, str(cuad), str(cache))


# --- an adapter in use is not replaced under the run serving it ---------------------------------------------------


def fake_adapter(folder: Path, key: str, note: str) -> Path:
    """A folder with every file a published adapter has; its manifest says which one it is (`note`)."""
    from harness.training.adapter_store import ADAPTER_FILES

    folder.mkdir(parents=True)
    for name in ADAPTER_FILES:
        (folder / name).write_text("{}")
    (folder / "manifest.json").write_text(json.dumps({"key": key, "note": note}))
    return folder


def serve_for(store: str, key: str, seconds: float) -> str:
    """Hold the adapter as a serving run does, and say which adapter was on disk at the end of the hold."""
    from harness.adapter.adapter_source import AdapterInfo, serving_adapter
    from harness.training.adapter_store import read_manifest

    folder = Path(store) / key
    with serving_adapter(AdapterInfo(folder, key, read_manifest(folder), True)):
        (Path(store) / "serving").write_text("")
        time.sleep(seconds)
        return read_manifest(folder)["note"]


def test_a_retrain_waits_for_the_run_serving_the_adapter_then_replaces_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.training.adapter_store import publish, read_manifest

    key = "f" * 64
    fake_adapter(tmp_path / key, key, "first")
    with ProcessPoolExecutor(1, mp_context=SPAWN) as pool:
        server = pool.submit(serve_for, str(tmp_path), key, 3.0)
        deadline = time.monotonic() + 120
        while not (tmp_path / "serving").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        publish(fake_adapter(tmp_path / ".staging" / key, key, "retrained"), tmp_path, key)
        assert server.result(timeout=120) == "first", "the serving run saw its adapter replaced under it"
    assert read_manifest(tmp_path / key)["note"] == "retrained"
    assert capsys.readouterr().out.startswith(f"[cache] waiting for another run's use of adapter {key[:12]}")
    assert leftovers(tmp_path) == []


def test_an_adapter_replaced_before_its_run_holds_it_is_refused(tmp_path: Path) -> None:
    from harness.adapter.adapter_source import AdapterInfo, serving_adapter
    from harness.errors import HarnessError

    key = "e" * 64
    folder = fake_adapter(tmp_path / key, key, "retrained meanwhile")
    with pytest.raises(HarnessError, match="replaced by another run"), serving_adapter(AdapterInfo(folder, key, {"key": key, "note": "chosen"}, True)):
        pass
