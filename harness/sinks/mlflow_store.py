"""Writing to an MLflow store: where artifacts go, experiments, safe keys and values, runs, and
failures of the store itself.

`artifact_location` and `experiment_id` place a new experiment; `flatten`, `mlflow_key`,
`param_text` and `unique_keys` make run-record values fit MLflow's limits (a value longer than its
6000 characters is cut with a marker; refused key characters become `_`; two keys that would
collide raise); `log_values` logs them in the batches MLflow accepts; `mlflow_run` ends a run
FINISHED or FAILED. `require_reachable` probes an http(s) tracking server quickly and
`store_errors` turns a store that fails mid-way into one HarnessError line. `open_client` opens a
sqlite store under a file lock, so two runs that finish together cannot both create its tables.
This module knows MLflow's client, not what a run record means.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mlflow.entities import Metric, Param, RunStatus, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from requests.exceptions import RequestException

from harness.cache_files import key_lock
from harness.errors import HarnessError

PARAM_VALUE_LIMIT = 6000  # MLflow's limit on one param value, in characters
KEY_LIMIT = 250  # MLflow's limit on a param or metric key
TRUNCATION_MARKER = "…[truncated; {} characters in all]"
PROBE_TIMEOUT_S = 5.0
NOTHING: Mapping[str, Any] = MappingProxyType({})
BATCH_LIMITS = {"params": 100, "metrics": 1000, "tags": 100}
_REFUSED_KEY_CHARS = re.compile(r"[^\w./ -]")


def sqlite_database(tracking_uri: str) -> Path | None:
    """The database file of a `sqlite:///<path>` tracking URI; None for any other store."""
    return Path(tracking_uri.removeprefix("sqlite:///")) if tracking_uri.startswith("sqlite:///") else None


def open_client(tracking_uri: str) -> MlflowClient:
    """A client whose store is ready. A sqlite store is opened first under the project's inter-process
    lock (harness.cache_files.key_lock, `.locks/` beside the file): two processes opening one new store
    at once would both run MLflow's table migrations, and one would fail (seen with two comparisons
    finishing within a second)."""
    database = sqlite_database(tracking_uri)
    if database is None or not database.parent.is_dir():
        return MlflowClient(tracking_uri)  # a server, or a folder that is not there: MLflow's own error, as before
    with key_lock(database, f"opening of the MLflow store {database.name}"):
        client = MlflowClient(tracking_uri)
        client.search_experiments(max_results=1)  # the store creates its tables on first use
    return client


def artifact_location(tracking_uri: str, artifact_root: str | None = None) -> str | None:
    """Where a new experiment keeps artifacts: `artifact_root` when given; for `sqlite:///x/m.db`,
    x/mlartifacts; for an http(s) tracking server, None (the server's own artifact store)."""
    if artifact_root is not None:
        return Path(artifact_root).resolve().as_uri()
    database = sqlite_database(tracking_uri)
    if database is not None:
        return (database.resolve().parent / "mlartifacts").as_uri()
    if tracking_uri.startswith(("http://", "https://")):
        return None
    raise HarnessError(f"no artifact location for tracking URI {tracking_uri!r}", "tracking_uri",
                       "use sqlite:///<path>.db or an http(s) server, or pass artifact_root")


def experiment_id(client: MlflowClient, name: str, location: str | None) -> str:
    """The experiment's id, creating it with `location` as its artifact root when it is new."""
    existing = client.get_experiment_by_name(name)
    if existing is None:
        return client.create_experiment(name, artifact_location=location)
    if existing.lifecycle_stage == "deleted":
        raise HarnessError(f"MLflow experiment {name!r} is deleted", "experiment",
                           "restore it in the MLflow UI or choose another experiment name")
    return existing.experiment_id


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys; lists and scalars stay leaves."""
    if not isinstance(value, Mapping):
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, item in value.items():
        out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return out


def mlflow_key(key: str) -> str:
    """`key` with characters MLflow refuses replaced by `_`; ValueError if it is too long."""
    cleaned = _REFUSED_KEY_CHARS.sub("_", key)
    if len(cleaned) > KEY_LIMIT:
        raise ValueError(f"key {key!r} is longer than MLflow's {KEY_LIMIT} characters")
    return cleaned


def param_text(value: Any) -> str:
    """A param value as text (lists as JSON), cut to PARAM_VALUE_LIMIT with a marker."""
    text = value if isinstance(value, str) else json.dumps(value) if isinstance(
        value, (list, tuple)) else str(value)
    if len(text) <= PARAM_VALUE_LIMIT:
        return text
    marker = TRUNCATION_MARKER.format(len(text))
    return text[:PARAM_VALUE_LIMIT - len(marker)] + marker


def unique_keys(entries: Mapping[str, Any]) -> dict[str, Any]:
    """Entries under MLflow-safe keys; ValueError when two keys collide with different values."""
    out: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for key, value in entries.items():
        safe = mlflow_key(key)
        if safe in out and out[safe] != value:
            raise ValueError(f"{key!r} and {origin[safe]!r} would both be logged as {safe!r} "
                             "with different values")
        out[safe], origin[safe] = value, key
    return out


def log_values(client: MlflowClient, run_id: str, params: Mapping[str, Any] = NOTHING,
               metrics: Mapping[str, float | None] = NOTHING,
               tags: Mapping[str, str] = NOTHING) -> None:
    """Params (as text), metrics (null values left out) and tags, in batches MLflow accepts."""
    now = int(time.time() * 1000)
    entries = {
        "params": [Param(k, param_text(v)) for k, v in unique_keys(params).items()],
        "metrics": [Metric(k, float(v), now, 0) for k, v in unique_keys(metrics).items()
                    if v is not None],
        "tags": [RunTag(k, str(v)) for k, v in tags.items()],
    }
    for kind, items in entries.items():
        for start in range(0, len(items), BATCH_LIMITS[kind]):
            client.log_batch(run_id, **{kind: items[start:start + BATCH_LIMITS[kind]]})


@contextmanager
def mlflow_run(client: MlflowClient, exp_id: str, name: str,
               tags: Mapping[str, str]) -> Iterator[str]:
    """A run that ends FINISHED, or FAILED when the body raises."""
    run_id = client.create_run(exp_id, tags=dict(tags), run_name=name).info.run_id
    try:
        yield run_id
    except BaseException:
        client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))
        raise
    client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))


def require_reachable(tracking_uri: str, then: str) -> None:
    """Nothing for a local store; for an http(s) server, a HarnessError within seconds when its
    /health does not answer. `then` tells the user what to do next."""
    if not tracking_uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(f"{tracking_uri.rstrip('/')}/health", timeout=PROBE_TIMEOUT_S):
            return
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise HarnessError(f"MLflow tracking server {tracking_uri} is unreachable ({reason})",
                           "--tracking-uri", then) from None


@contextmanager
def store_errors(tracking_uri: str, then: str) -> Iterator[None]:
    """Turns a failing MLflow store (refused request, lost server) into one HarnessError line."""
    try:
        yield
    except (MlflowException, RequestException) as error:
        first = str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
        raise HarnessError(f"MLflow store {tracking_uri} failed: {first}", "--tracking-uri",
                           then) from None
