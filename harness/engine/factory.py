"""Open the engine a comparison asked for, as an async context that always closes it.

`inprocess` starts vLLM's LLMEngine on a thread of this process; `server` starts an OpenAI-compatible vLLM
server on 127.0.0.1 (or attaches to a URL the user gives). Callers only see the `Engine` protocol.
This module knows nothing of tasks or candidates.
"""

from __future__ import annotations

import contextlib
from typing import AsyncIterator

from harness.engine.types import Engine, EngineSettings


@contextlib.asynccontextmanager
async def open_engine(settings: EngineSettings, mode: str = "inprocess", server_url: str | None = None,
                      adapters: dict[str, str] | None = None) -> AsyncIterator[Engine]:
    """Start (or attach to) an engine; `adapters` (name -> folder) are served by server mode from start."""
    if mode == "inprocess":
        from harness.engine.inprocess import InProcessEngine

        engine: Engine = InProcessEngine(settings)
    elif mode == "server":
        from harness.engine.server import ServerEngine

        engine = await ServerEngine.start(settings, server_url, adapters or {})
    else:
        raise ValueError(f"unknown engine mode {mode!r}")
    try:
        yield engine
    finally:
        engine.close()
