"""harness.serve.predict.run_batch and run_batches against a fake engine (its one collaborator): warm-up, logging, resume,
retries, timeouts and failures as data."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Callable, Mapping

import pytest

from harness.engine.types import GenerationRequest, GenerationResult, RequestFailed
from harness.errors import HarnessError
from harness.engine.prediction_log import Prediction, append_prediction, read_predictions
from harness.serve.predict import WARMUP_MAX_TOKENS, Batch, LoadProfile, run_batch, run_batches

Behaviour = Callable[[str, int], Any]  # (record id, call number for that record) -> text, or raises / sleeps


class FakeEngine:
    """Answers `answer:<record id>` after `delay_s`; `behaviour` may override per record (by call count)."""

    def __init__(self, behaviour: Mapping[str, Behaviour] | None = None, delay_s: float = 0.0) -> None:
        self.behaviour = dict(behaviour or {})
        self.delay_s = delay_s
        self.seen: list[str] = []  # request ids, in the order received
        self.max_tokens: dict[str, int] = {}  # request id -> the max_tokens it was sent with
        self.calls: dict[str, int] = {}

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        self.seen.append(request.request_id)
        self.max_tokens[request.request_id] = request.max_tokens
        record_id = request.request_id.split(":")[-2] if ":try" in request.request_id else request.request_id.split(":")[-1]
        self.calls[record_id] = self.calls.get(record_id, 0) + 1
        await asyncio.sleep(self.delay_s)
        text = f"answer:{record_id}"
        if record_id in self.behaviour and not request.request_id.startswith("warmup:"):
            text = await self.behaviour[record_id](record_id, self.calls[record_id])
        return GenerationResult(request.request_id, text, len(request.prompt_token_ids), 2, 0.001, 0.002, "stop")

    async def load_adapter(self, name: str, path: str) -> float:
        return 0.0

    def describe(self) -> Mapping[str, Any]:
        return {"mode": "fake"}

    def close(self) -> None:
        pass

    def real_calls(self) -> list[str]:
        return [rid for rid in self.seen if not rid.startswith("warmup:")]


def batch(tmp_path: Path, ids: list[str]) -> Batch:
    requests = {rid: GenerationRequest(f"cand:test:{rid}", (1, 2, 3), 16) for rid in ids}
    return Batch("cand", "test", requests, tmp_path / "raw" / "cand.test.jsonl")


def profile(**changes: Any) -> LoadProfile:
    return LoadProfile(**({"concurrency": 2, "warmup_requests": 0, "timeout_s": 5.0, "max_attempts": 2} | changes))


def logged_ids(path: Path) -> list[str]:
    return [json.loads(line)["record_id"] for line in path.read_text().splitlines()]


def test_runs_every_request_and_returns_request_order(tmp_path: Path) -> None:
    engine = FakeEngine()
    work = batch(tmp_path, ["r1", "r2", "r3"])
    walls: list[float] = []
    predictions = asyncio.run(run_batch(engine, work, profile(), walls.append))
    wall = sum(walls)
    assert [p.record_id for p in predictions] == ["r1", "r2", "r3"]
    assert predictions[1] == Prediction("r2", "cand", "test", "answer:r2", 3, 2, 0.001, 0.002, "stop", 1, None)
    assert wall > 0
    assert sorted(logged_ids(work.log_path)) == ["r1", "r2", "r3"]


def test_warmup_is_sent_first_and_not_logged(tmp_path: Path) -> None:
    engine = FakeEngine()
    work = batch(tmp_path, ["r1", "r2", "r3"])
    asyncio.run(run_batch(engine, work, profile(warmup_requests=2)))
    assert engine.seen[:2] == ["warmup:cand:test:r1", "warmup:cand:test:r2"]
    assert sorted(engine.real_calls()) == ["cand:test:r1:try1", "cand:test:r2:try1", "cand:test:r3:try1"]
    assert len(logged_ids(work.log_path)) == 3  # three predictions, no warm-up lines


def test_warmup_requests_generate_a_few_tokens_and_real_ones_their_full_budget(tmp_path: Path) -> None:
    engine = FakeEngine()
    requests = {"r1": GenerationRequest("cand:test:r1", (1, 2, 3), 200), "r2": GenerationRequest("cand:test:r2", (1, 2), 4)}
    asyncio.run(run_batch(engine, Batch("cand", "test", requests, tmp_path / "cand.test.jsonl"), profile(warmup_requests=2)))
    assert engine.max_tokens == {"warmup:cand:test:r1": WARMUP_MAX_TOKENS, "warmup:cand:test:r2": 4,
                                 "cand:test:r1:try1": 200, "cand:test:r2:try1": 4}


def test_results_are_logged_as_they_complete(tmp_path: Path) -> None:
    work = batch(tmp_path, ["slow", "fast"])
    saw_fast_logged: list[bool] = []

    async def wait_for_fast(record_id: str, call: int) -> str:
        for _ in range(200):
            if "fast" in read_predictions(work.log_path):
                saw_fast_logged.append(True)
                break
            await asyncio.sleep(0.005)
        return "slow done"

    engine = FakeEngine({"slow": wait_for_fast})
    asyncio.run(run_batch(engine, work, profile(concurrency=2)))
    assert saw_fast_logged == [True]  # "fast" was on disk while "slow" was still running
    assert logged_ids(work.log_path) == ["fast", "slow"]


class InFlight:
    """A behaviour for every record that counts the requests in flight and keeps the peak."""

    def __init__(self, hold_s: float) -> None:
        self.now, self.peak, self.hold_s = 0, 0, hold_s

    async def __call__(self, record_id: str, call: int) -> str:
        self.now += 1
        self.peak = max(self.peak, self.now)
        await asyncio.sleep(self.hold_s)
        self.now -= 1
        return "ok"


def test_concurrency_is_bounded(tmp_path: Path) -> None:
    ids, track = [f"r{i}" for i in range(8)], InFlight(0.05)
    engine = FakeEngine({rid: track for rid in ids})
    asyncio.run(run_batch(engine, batch(tmp_path, ids), profile(concurrency=3)))
    assert track.peak == 3


def test_resume_skips_logged_ids(tmp_path: Path) -> None:
    work = batch(tmp_path, ["r1", "r2", "r3"])
    append_prediction(work.log_path, Prediction("r2", "cand", "test", "from before", 3, 1, None, 0.5, "stop", 1))
    engine = FakeEngine()
    walls: list[float] = []
    predictions = asyncio.run(run_batch(engine, work, profile(warmup_requests=5), walls.append))
    wall = sum(walls)
    assert not any("r2" in rid for rid in engine.seen)  # neither warm-up nor real request
    assert [p.text for p in predictions] == ["answer:r1", "from before", "answer:r3"]
    assert wall > 0


def test_nothing_pending_sends_nothing_and_reports_zero_wall(tmp_path: Path) -> None:
    work = batch(tmp_path, ["r1", "r2"])
    asyncio.run(run_batch(FakeEngine(), work, profile()))
    engine = FakeEngine()
    walls: list[float] = []
    predictions = asyncio.run(run_batch(engine, work, profile(warmup_requests=2), walls.append))
    assert walls == []
    wall = sum(walls)
    assert engine.seen == []
    assert wall == 0.0
    assert [p.text for p in predictions] == ["answer:r1", "answer:r2"]
    assert len(logged_ids(work.log_path)) == 2


def test_failure_then_success_is_retried(tmp_path: Path) -> None:
    async def flaky(record_id: str, call: int) -> str:
        if call == 1:
            raise RequestFailed(RuntimeError("engine hiccup"))
        return "recovered"

    engine = FakeEngine({"r1": flaky})
    predictions = asyncio.run(run_batch(engine, batch(tmp_path, ["r1", "r2"]), profile()))
    assert (predictions[0].text, predictions[0].attempts, predictions[0].error) == ("recovered", 2, None)
    assert predictions[1].attempts == 1
    assert [rid for rid in engine.real_calls() if ":r1:" in rid] == ["cand:test:r1:try1", "cand:test:r1:try2"]


def test_persistent_failure_is_recorded_after_max_attempts(tmp_path: Path) -> None:
    async def broken(record_id: str, call: int) -> str:
        raise RequestFailed(RuntimeError(f"bad request {call}"))

    engine = FakeEngine({"r1": broken})
    work = batch(tmp_path, ["r1", "r2"])
    predictions = asyncio.run(run_batch(engine, work, profile(max_attempts=3)))
    failed = predictions[0]
    assert (failed.text, failed.attempts, failed.error) == ("", 3, "RuntimeError: bad request 3")
    assert (failed.latency_s, failed.ttft_s, failed.finish_reason) == (None, None, None)
    assert engine.calls["r1"] == 3
    assert read_predictions(work.log_path)["r1"].error == "RuntimeError: bad request 3"
    assert predictions[1].error is None


def test_timeout_is_recorded(tmp_path: Path) -> None:
    async def hang(record_id: str, call: int) -> str:
        await asyncio.sleep(5)
        return "too late"

    engine = FakeEngine({"r1": hang})
    predictions = asyncio.run(run_batch(engine, batch(tmp_path, ["r1", "r2"]), profile(timeout_s=0.05, max_attempts=2)))
    assert predictions[0].text == ""
    assert predictions[0].attempts == 2
    assert predictions[0].error.startswith("timed out")
    assert predictions[0].latency_s >= 2 * 0.05  # both attempts were waited for: latency sees them
    assert predictions[1].text == "answer:r2"


def test_every_request_failing_raises(tmp_path: Path) -> None:
    async def broken(record_id: str, call: int) -> str:
        raise RequestFailed(ConnectionError("engine is down"))

    engine = FakeEngine({"r1": broken, "r2": broken})
    work = batch(tmp_path, ["r1", "r2"])
    with pytest.raises(HarnessError, match="every request failed") as caught:
        asyncio.run(run_batch(engine, work, profile()))
    assert "ConnectionError: engine is down" in caught.value.what
    assert caught.value.where == "candidate cand on test"
    assert len(read_predictions(work.log_path)) == 2  # the failures are still on disk


def test_failing_warmup_does_not_abort_the_batch(tmp_path: Path) -> None:
    class WarmupFails(FakeEngine):
        async def generate(self, request: GenerationRequest) -> GenerationResult:
            if request.request_id == "warmup:cand:test:r1":
                raise RequestFailed(RuntimeError("first request after start-up failed"))
            return await super().generate(request)

    predictions = asyncio.run(run_batch(WarmupFails(), batch(tmp_path, ["r1", "r2"]), profile(warmup_requests=1)))
    assert [p.text for p in predictions] == ["answer:r1", "answer:r2"]


def test_resume_after_torn_line_keeps_the_log_readable(tmp_path: Path) -> None:
    work = batch(tmp_path, ["r1", "r2", "r3"])
    append_prediction(work.log_path, Prediction("r1", "cand", "test", "before crash", 3, 1, None, 0.5, "stop", 1))
    with work.log_path.open("a") as handle:
        handle.write('{"record_id": "r2", "candid')  # the crash tore this line
    predictions = asyncio.run(run_batch(FakeEngine(), work, profile(concurrency=1)))
    assert [p.text for p in predictions] == ["before crash", "answer:r2", "answer:r3"]
    assert set(read_predictions(work.log_path)) == {"r1", "r2", "r3"}


@pytest.mark.parametrize("bug", [KeyError("adapter"), TypeError("'NoneType' object is not subscriptable"), RuntimeError("not a request failure")])
def test_an_exception_that_is_not_a_request_failure_propagates(tmp_path: Path, bug: Exception) -> None:
    async def buggy(record_id: str, call: int) -> str:
        raise bug

    work = batch(tmp_path, ["r1", "r2"])
    with pytest.raises(type(bug)):
        asyncio.run(run_batch(FakeEngine({"r1": buggy}), work, profile()))
    assert "r1" not in read_predictions(work.log_path)  # never recorded as a failed request


def test_a_result_the_harness_cannot_convert_propagates(tmp_path: Path) -> None:
    class Malformed(FakeEngine):
        async def generate(self, request: GenerationRequest) -> GenerationResult:
            return None  # type: ignore[return-value]  # a harness bug: conversion must raise, not record a failure

    work = batch(tmp_path, ["r1"])
    with pytest.raises(AttributeError):
        asyncio.run(run_batch(Malformed(), work, profile()))
    assert read_predictions(work.log_path) == {}


def test_a_warmup_bug_propagates(tmp_path: Path) -> None:
    class WarmupBug(FakeEngine):
        async def generate(self, request: GenerationRequest) -> GenerationResult:
            if request.request_id.startswith("warmup:"):
                raise KeyError("warm-up bug")
            return await super().generate(request)

    with pytest.raises(KeyError):
        asyncio.run(run_batch(WarmupBug(), batch(tmp_path, ["r1"]), profile(warmup_requests=1)))


def two_batches(tmp_path: Path, first: list[str], second: list[str]) -> list[Batch]:
    return [Batch(name, "dev", {rid: GenerationRequest(f"{name}:dev:{rid}", (1, 2, 3), 16) for rid in ids}, tmp_path / f"{name}.dev.jsonl")
            for name, ids in (("a", first), ("b", second))]


def test_batches_run_together_share_one_bound_and_one_warmup(tmp_path: Path) -> None:
    track = InFlight(0.02)
    batches = two_batches(tmp_path, ["a1", "a2"], ["b1", "b2", "b3"])
    engine = FakeEngine({rid: track for rid in ("a1", "a2", "b1", "b2", "b3")})
    walls: dict[str, float] = {}
    results = asyncio.run(run_batches(engine, batches, profile(concurrency=3, warmup_requests=1),
                                      lambda done, seconds: walls.__setitem__(done.candidate, seconds)))
    assert track.peak == 3  # one bound across both batches, and both were in flight at once (2 + 1)
    assert [rid for rid in engine.seen if rid.startswith("warmup:")] == ["warmup:a:dev:a1"]
    assert [[p.record_id for p in predictions] for predictions in results] == [["a1", "a2"], ["b1", "b2", "b3"]]
    assert set(walls) == {"a", "b"} and 0 < walls["a"] <= walls["b"]  # each batch's wall ends when its last request lands
    assert sorted(logged_ids(batches[1].log_path)) == ["b1", "b2", "b3"]


def test_a_complete_batch_in_a_stream_sends_nothing_and_reports_no_wall(tmp_path: Path) -> None:
    batches = two_batches(tmp_path, ["a1"], ["b1"])
    asyncio.run(run_batch(FakeEngine(), batches[0], profile()))
    engine = FakeEngine()
    walls: list[str] = []
    asyncio.run(run_batches(engine, batches, profile(warmup_requests=2), lambda done, seconds: walls.append(done.candidate)))
    assert engine.seen == ["warmup:b:dev:b1", "b:dev:b1:try1"] and walls == ["b"]


def test_a_batch_whose_every_request_failed_raises_after_the_others_are_logged(tmp_path: Path) -> None:
    async def broken(record_id: str, call: int) -> str:
        raise RequestFailed(ConnectionError("adapter not loaded"))

    batches = two_batches(tmp_path, ["a1"], ["b1", "b2"])
    with pytest.raises(HarnessError, match="every request failed") as caught:
        asyncio.run(run_batches(FakeEngine({"a1": broken}), batches, profile()))
    assert caught.value.where == "candidate a on dev"
    assert sorted(logged_ids(batches[1].log_path)) == ["b1", "b2"]
