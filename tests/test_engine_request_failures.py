"""Which engine exceptions are failed requests: each engine turns a transport, server-answer or vLLM
error into `RequestFailed` (recorded as data by harness.serve.predict) and lets anything else, a harness
bug, propagate. The server engine talks to an httpx mock transport (its one collaborator); the
in-process engine's vLLM call is replaced by one that raises."""

from __future__ import annotations

import asyncio
from typing import Callable

import httpx
import pytest

from harness.engine.inprocess import InProcessEngine
from harness.engine.server import ServerEngine
from harness.engine.types import EngineSettings, GenerationRequest, RequestFailed

REQUEST = GenerationRequest("r1", (1, 2), 4)
FINISHED = 'data: {"choices": [{"text": "hi", "finish_reason": "stop"}], "usage": {"prompt_tokens": 2, "completion_tokens": 1}}\n\ndata: [DONE]\n\n'


def server_answering(handler: Callable[[httpx.Request], httpx.Response]) -> ServerEngine:
    engine = ServerEngine(EngineSettings(model_dir="m"), "http://engine.test", None, None)
    engine._client = httpx.AsyncClient(base_url=engine.url, transport=httpx.MockTransport(handler))
    engine._base_model = "m"
    return engine


def refuse_connection(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


@pytest.mark.parametrize("handler, recorded", [
    (lambda r: httpx.Response(500, text="boom"), "RuntimeError: http://engine.test answered HTTP 500"),
    (lambda r: httpx.Response(200, text='data: {"choices": "no"}\n\n'), "RuntimeError: http://engine.test sent a stream line"),
    (lambda r: httpx.Response(200, text='data: {"choices": [{"text": "cut"}]}\n\n'), "RuntimeError: http://engine.test: the stream ended"),
    (refuse_connection, "ConnectError: connection refused"),
])
def test_server_request_failures_are_request_failed(handler: Callable, recorded: str) -> None:
    with pytest.raises(RequestFailed) as caught:
        asyncio.run(server_answering(handler).generate(REQUEST))
    assert str(caught.value).startswith(recorded)


def test_server_completion_is_a_result() -> None:
    result = asyncio.run(server_answering(lambda r: httpx.Response(200, text=FINISHED)).generate(REQUEST))
    assert (result.text, result.prompt_tokens, result.completion_tokens, result.finish_reason) == ("hi", 2, 1, "stop")


def inprocess_raising(error: Exception) -> InProcessEngine:
    engine = object.__new__(InProcessEngine)  # no vLLM engine: only the translation around its call is under test

    async def failing(request: GenerationRequest) -> None:
        raise error

    engine._generate = failing
    return engine


def test_inprocess_vllm_errors_are_request_failed() -> None:
    from vllm.exceptions import VLLMValidationError
    from vllm.v1.engine.exceptions import EngineGenerateError

    for error, recorded in ((VLLMValidationError("prompt too long"), "VLLMValidationError: prompt too long"),
                            (EngineGenerateError("boom"), "EngineGenerateError: boom")):
        with pytest.raises(RequestFailed, match=recorded):
            asyncio.run(inprocess_raising(error).generate(REQUEST))


@pytest.mark.parametrize("bug", [KeyError("no such adapter"), TypeError("'NoneType' object is not subscriptable")])
def test_inprocess_harness_bugs_propagate(bug: Exception) -> None:
    with pytest.raises(type(bug)):
        asyncio.run(inprocess_raising(bug).generate(REQUEST))
