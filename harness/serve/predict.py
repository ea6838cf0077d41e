"""Send candidates' requests to an engine under a fixed load profile and log each result.

The same `LoadProfile` (concurrency, warm-up requests, timeout, attempts) applies to every
candidate, so latencies compare like with like. Batches whose latency nobody reads (the prompt
search, dev, slices, probes) may be sent together as one stream (`run_batches`), which keeps the
engine's batch full instead of serving a few requests at a time. Warm-up requests are sent first and not recorded;
each generates at most `WARMUP_MAX_TOKENS`, enough to run the engine's prefill and decode paths once
without paying for a whole answer before every batch.
Each finished request is appended to the candidate's prediction log at once; requests already in
the log are skipped (resume). A request the engine fails (`RequestFailed`) or that times out is
retried up to the profile's attempts and then recorded as a failure with its reason; a timed-out
one keeps the time it took as its latency. Any other exception is a harness bug and propagates.
This module knows nothing of prompts, tasks or scoring, and never imports vLLM.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from tqdm import tqdm

from harness.engine.types import Engine, EngineSettings, GenerationRequest, GenerationResult, RequestFailed
from harness.errors import HarnessError
from harness.engine.prediction_log import Prediction, append_prediction, read_predictions


WARMUP_MAX_TOKENS = 8


@dataclass(frozen=True)
class LoadProfile:
    """How requests are sent: at most `concurrency` in flight, after `warmup_requests` unrecorded ones.

    The default keeps the engine's batch full (its `max_num_seqs`): on a 2-core CPU `make bench`
    measured 1.58x the output tokens per second with all 16 requests in flight as with 8."""

    concurrency: int = EngineSettings.max_num_seqs
    warmup_requests: int = 2
    timeout_s: float = 600.0
    max_attempts: int = 2


@dataclass(frozen=True)
class Batch:
    """One candidate's requests on one split, keyed by record id, with where to log them."""

    candidate: str
    split: str
    requests: dict[str, GenerationRequest]
    log_path: Path


async def run_batch(engine: Engine, batch: Batch, profile: LoadProfile,
                    on_wall: Callable[[float], None] = lambda seconds: None) -> list[Prediction]:
    """Run one batch's pending requests and return every logged prediction, in request order.

    `on_wall` receives the wall seconds this call spent sending (warm-up excluded) as soon as the
    sending ends, also when it ends by an interruption, so a resumed batch keeps its earlier time.
    """
    [predictions] = await run_batches(engine, [batch], profile, lambda _, seconds: on_wall(seconds))
    return predictions


async def run_batches(engine: Engine, batches: Sequence[Batch], profile: LoadProfile,
                      on_wall: Callable[[Batch, float], None] = lambda batch, seconds: None) -> list[list[Prediction]]:
    """Run several batches' pending requests as one stream; return each batch's logged predictions, in request order.

    At most `concurrency` requests are in flight across all of them, as for one batch (more would wait
    in the engine's queue, where their latency and time-out would count the wait), after one warm-up for
    the stream. `on_wall` receives, per batch that had pending requests, the seconds from the stream's
    start until its last request landed, or until an interruption. A batch whose every request failed
    raises once all are done.
    """
    logged = [read_predictions(batch.log_path) for batch in batches]
    pending = [(batch, rid) for batch, done in zip(batches, logged) for rid in batch.requests if rid not in done]
    if pending:
        await warm_up(engine, [batch.requests[rid] for batch, rid in pending][: profile.warmup_requests], profile.timeout_s)
        await send_pending(engine, batches, profile, pending, on_wall)
    results = []
    for batch in batches:
        final = read_predictions(batch.log_path)
        if all(final[rid].error for rid in batch.requests):
            first = final[next(iter(batch.requests))].error
            raise HarnessError(f"every request failed ({first})", f"candidate {batch.candidate} on {batch.split}", "check the engine")
        results.append([final[rid] for rid in batch.requests])
    return results


async def send_pending(engine: Engine, batches: Sequence[Batch], profile: LoadProfile, pending: Sequence[tuple[Batch, str]],
                       on_wall: Callable[[Batch, float], None]) -> None:
    """Send pending requests, at most `concurrency` in flight, appending each result as it lands; report
    each batch's wall seconds when its last request lands (the rest when the sending ends)."""
    gate = asyncio.Semaphore(profile.concurrency)
    left = Counter(id(batch) for batch, _ in pending)
    total = sum(len(batch.requests) for batch in batches)
    label = f"{batches[0].candidate}/{batches[0].split}" + (f" and {len(batches) - 1} more" if len(batches) > 1 else "")
    bar = tqdm(total=total, initial=total - len(pending), desc=label, unit="req")
    started = time.perf_counter()

    def done(batch: Batch) -> None:
        del left[id(batch)]
        on_wall(batch, time.perf_counter() - started)

    async def one(batch: Batch, record_id: str) -> None:
        async with gate:
            prediction = await attempt(engine, batch, record_id, profile)
        append_prediction(batch.log_path, prediction)
        bar.update(1)
        left[id(batch)] -= 1
        if not left[id(batch)]:
            done(batch)

    try:
        await asyncio.gather(*(one(batch, rid) for batch, rid in pending))
    finally:
        for batch in [b for b in batches if id(b) in left]:
            done(batch)
        bar.close()


async def warm_up(engine: Engine, requests: Sequence[GenerationRequest], timeout_s: float) -> None:
    """Send warm-up copies of the first requests, cut to `WARMUP_MAX_TOKENS`; their results are discarded.
    A failed warm-up is printed, not raised: the real requests that follow are retried and recorded with
    their errors. Only a failed request or a time-out counts as a failed warm-up; anything else is a bug
    and raises."""
    copies = [dataclasses.replace(r, request_id=f"warmup:{r.request_id}", max_tokens=min(r.max_tokens, WARMUP_MAX_TOKENS))
              for r in requests]
    outcomes = await asyncio.gather(*(asyncio.wait_for(engine.generate(r), timeout_s) for r in copies), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, (asyncio.TimeoutError, RequestFailed)):
            reason = str(outcome) if isinstance(outcome, RequestFailed) else f"{type(outcome).__name__}: {outcome}"
            print(f"[engine] warm-up request failed: {reason}", flush=True)
        elif isinstance(outcome, BaseException):
            raise outcome


async def attempt(engine: Engine, batch: Batch, record_id: str, profile: LoadProfile) -> Prediction:
    """Send one request, retrying failures; return its prediction or its recorded failure.

    A request whose last attempt timed out keeps as its latency the seconds spent on all its
    attempts (at least the timeout): a user waited that long, so latency percentiles must see it.
    Other failures have no latency (they are counted in the failure rate instead)."""
    request, error, timed_out = batch.requests[record_id], "not attempted", False
    started = time.perf_counter()
    for number in range(1, profile.max_attempts + 1):
        tagged = dataclasses.replace(request, request_id=f"{request.request_id}:try{number}")
        try:
            result = await asyncio.wait_for(engine.generate(tagged), timeout=profile.timeout_s)
        except asyncio.TimeoutError:
            error, timed_out = f"timed out after {profile.timeout_s:g} s", True
            continue
        except RequestFailed as exc:  # data about this request, recorded below; any other exception is a bug and propagates
            error, timed_out = str(exc)[:500], False
            continue
        return to_prediction(batch, record_id, result, number)
    waited = max(time.perf_counter() - started, profile.timeout_s) if timed_out else None
    return Prediction(record_id, batch.candidate, batch.split, "", 0, 0, None, waited, None, profile.max_attempts, error)


def to_prediction(batch: Batch, record_id: str, result: GenerationResult, attempts: int) -> Prediction:
    return Prediction(
        record_id=record_id,
        candidate=batch.candidate,
        split=batch.split,
        text=result.text,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        ttft_s=result.ttft_s,
        latency_s=result.latency_s,
        finish_reason=result.finish_reason,
        attempts=attempts,
    )
