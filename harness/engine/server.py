"""vLLM as an OpenAI-compatible server: started on 127.0.0.1 by the harness, or any URL given.

Requests go to `/v1/completions` with the prompt as token ids (the same ids the in-process engine
receives) and `stream: true`, so time to first token is measured at the first streamed text and
token counts come from the server's usage report. Adapters are served by name: passed with
`--lora-modules` when the harness starts the server, or loaded through `/v1/load_lora_adapter` on
a server the user runs. KV-cache usage is read from the server's Prometheus `/metrics`. This module knows HTTP and vLLM's server arguments, nothing of tasks.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import asdict
from typing import Any, Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families

from harness.engine.inprocess import engine_kwargs
from harness.engine.lifetime import release, spawn
from harness.engine.types import EngineSettings, GenerationRequest, GenerationResult, RequestFailed
from harness.errors import HarnessError
from harness.redaction import redact_uri

STARTUP_TIMEOUT_S = 600.0
KV_CACHE_GAUGE = "vllm:kv_cache_usage_perc"


def server_command(settings: EngineSettings, port: int, adapters: Mapping[str, str]) -> list[str]:
    """The command line that starts vLLM's OpenAI-compatible server for these settings."""
    args = engine_kwargs(settings)
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", args["model"], "--host", "127.0.0.1",
               "--port", str(port), "--dtype", args["dtype"], "--max-model-len", str(args["max_model_len"]),
               "--max-num-seqs", str(args["max_num_seqs"]), "--kv-cache-memory-bytes", str(args["kv_cache_memory_bytes"]),
               "--gpu-memory-utilization", str(args["gpu_memory_utilization"]), "--seed", str(args["seed"])]
    if args["enable_lora"]:
        command += ["--enable-lora", "--max-lora-rank", str(args["max_lora_rank"]), "--max-loras", str(args["max_loras"])]
    if args["enforce_eager"]:
        command.append("--enforce-eager")
    if adapters:
        command += ["--lora-modules", *(f"{name}={path}" for name, path in adapters.items())]
    return command


def base_model_id(models: list[Mapping[str, Any]]) -> str:
    """The served base model: the listed model without a parent (adapters have one)."""
    bases = [m["id"] for m in models if not m.get("parent")]
    if not bases:
        raise HarnessError(f"the server lists no base model ({[m['id'] for m in models]})", "--server-url", "start it with a --model")
    return bases[0]


def stream_chunk(line: str, url: str) -> Mapping[str, Any]:
    """One `data:` line of a completion stream as a mapping whose choices are mappings."""
    try:
        chunk = json.loads(line[6:])
    except ValueError:
        chunk = None
    if not isinstance(chunk, dict) or not isinstance(chunk.get("choices", []), list) or \
            not all(isinstance(c, dict) for c in chunk.get("choices", [])):
        raise RuntimeError(f"{url} sent a stream line that is not a vLLM completion chunk: {line[:120]!r}")
    return chunk


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerEngine:
    """Talks to a vLLM server; owns the server process when it started it."""

    def __init__(self, settings: EngineSettings, url: str, process: subprocess.Popen | None, command: list[str] | None) -> None:
        self.settings, self.url, self._process, self._command = settings, url.rstrip("/"), process, command
        self._client = httpx.AsyncClient(base_url=self.url, timeout=httpx.Timeout(None, connect=10.0))
        self._base_model: str | None = None

    @classmethod
    async def start(cls, settings: EngineSettings, url: str | None, adapters: Mapping[str, str]) -> ServerEngine:
        if url:
            engine = cls(settings, url, None, None)
        else:
            port = free_port()
            command = server_command(settings, port, adapters)
            print(f"[engine] starting vLLM server on 127.0.0.1:{port}", flush=True)
            engine = cls(settings, f"http://127.0.0.1:{port}", spawn(command, env=os.environ | settings.runtime.environment(os.environ)), command)
        try:
            await engine.wait_ready()
        except BaseException:
            engine.close()
            raise
        return engine

    async def wait_ready(self) -> None:
        """Wait for /v1/models; a server that answers but not like vLLM is an error naming what it sent."""
        deadline = time.monotonic() + (STARTUP_TIMEOUT_S if self._process else 10.0)
        last = "no answer"
        while time.monotonic() < deadline:
            if self._process and self._process.poll() is not None:
                raise HarnessError(f"the vLLM server exited with code {self._process.returncode} while starting", self.shown_url, "see its log above")
            try:
                response = await self._client.get("/v1/models")
            except httpx.HTTPError as exc:
                last = f"no answer ({type(exc).__name__})"
                await asyncio.sleep(1.0)
                continue
            if response.status_code == 200:
                self._base_model = base_model_id(self.models(response))
                return
            last = f"HTTP {response.status_code} {response.text[:120]!r}"
            await asyncio.sleep(1.0)
        raise HarnessError(f"the engine is not ready: /v1/models gave {last}", self.shown_url, "check the URL or the server's log")

    @property
    def shown_url(self) -> str:
        return redact_uri(self.url) or self.url

    def models(self, response: httpx.Response) -> list[Mapping[str, Any]]:
        """The model list of a /v1/models answer, or a HarnessError saying what the server sent instead."""
        try:
            models = response.json()["data"]
            if isinstance(models, list) and all(isinstance(m, dict) and isinstance(m.get("id"), str) for m in models):
                return models
        except (ValueError, KeyError, TypeError):
            pass
        raise HarnessError(f"not a vLLM/OpenAI server: /v1/models sent {response.text[:120]!r}", self.shown_url,
                           "point --server-url at a vLLM OpenAI-compatible server")

    async def load_adapter(self, name: str, path: str) -> float:
        """Make the adapter servable and time its cold load (the first request that uses it)."""
        listed = {m["id"] for m in self.models(await self._client.get("/v1/models"))}
        started = time.perf_counter()
        if name not in listed:
            response = await self._client.post("/v1/load_lora_adapter", json={"lora_name": name, "lora_path": path})
            if response.status_code != 200:
                raise HarnessError(f"the server refused to load the adapter: {response.text[:200]!r}", self.shown_url,
                                   "start it with --enable-lora and VLLM_ALLOW_RUNTIME_LORA_UPDATING=1, or let the harness start it")
        probe = GenerationRequest("adapter-cold-load", (1,), 1, adapter=name)
        await self.generate(probe)
        return time.perf_counter() - started

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        body: dict[str, Any] = {
            "model": request.adapter or self._base_model, "prompt": list(request.prompt_token_ids), "max_tokens": request.max_tokens,
            "temperature": request.temperature, "stream": True, "stream_options": {"include_usage": True},
        }
        if request.stop:
            body["stop"] = list(request.stop)
        if request.json_schema is not None:
            body["structured_outputs"] = {"json": dict(request.json_schema)}
        try:
            return await self._stream(request.request_id, body)
        except (httpx.HTTPError, RuntimeError) as exc:  # transport, or an answer that is not a completion (`_stream`)
            raise RequestFailed(exc) from exc

    async def _stream(self, request_id: str, body: Mapping[str, Any]) -> GenerationResult:
        """Send one streamed completion; an answer not shaped like vLLM's raises, naming what was sent (a per-request failure)."""
        started, first, parts, usage, finish = time.perf_counter(), None, [], None, None
        async with self._client.stream("POST", "/v1/completions", json=body) as response:
            if response.status_code != 200:
                raise RuntimeError(f"{self.shown_url} answered HTTP {response.status_code}: {(await response.aread())[:300]!r}")
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = stream_chunk(line, self.shown_url)
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices") or []:
                    if choice.get("text") and first is None:
                        first = time.perf_counter()
                    parts.append(choice.get("text") or "")
                    finish = choice.get("finish_reason") or finish
        if finish is None or not isinstance(usage, dict):
            raise RuntimeError(f"{self.shown_url}: the stream ended without a finish_reason and usage report (cut short?)")
        return GenerationResult(request_id, "".join(parts), int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)),
                                None if first is None else first - started, time.perf_counter() - started, finish)

    def describe(self) -> Mapping[str, Any]:
        return {"mode": "server", "url": self.shown_url, "engine_args": engine_kwargs(self.settings) if self._process else None,
                "server_command": self._command, "runtime": asdict(self.settings.runtime) if self._process else None}

    def memory_root(self) -> int | None:
        return self._process.pid if self._process else None

    async def kv_cache_usage(self) -> float | None:
        """The KV-cache usage gauge of the server's Prometheus `/metrics` now; None when it exports none (no
        page, or a page that is not Prometheus text: the batch then records that no usage was reported)."""
        try:
            response = await self._client.get("/metrics")
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        try:
            families = list(text_string_to_metric_families(response.text))
        except ValueError:
            return None
        values = [sample.value for family in families if family.name == KV_CACHE_GAUGE for sample in family.samples]
        return max(values) if values else None

    def close(self) -> None:
        if self._process:
            release(self._process, grace_s=30.0)
