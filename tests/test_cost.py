"""Table tests for harness.score.cost with hand-computed dollars."""

from __future__ import annotations

import pytest

from harness.score.cost import (
    DEFAULT_PRICE_USD_PER_HOUR,
    BreakEven,
    TokenPrice,
    api_cost_per_1k,
    break_even_requests,
    self_hosted_cost_per_1k,
    training_cost_usd,
)


@pytest.mark.parametrize(("wall_seconds", "n_requests", "price", "expected"), [
    (3600.0, 1000, 2.0, 2.0),          # one hour for 1000 requests at 2 USD/h
    (36.0, 10, 2.0, 2.0),              # 3.6 s per request is 1 hour per 1000
    (36.0, 100, 4.0, 0.4),
    (0.0, 5, 2.0, 0.0),
])
def test_self_hosted_cost_per_1k(wall_seconds: float, n_requests: int, price: float,
                                 expected: float) -> None:
    assert self_hosted_cost_per_1k(wall_seconds, n_requests, price) == pytest.approx(expected)


def test_default_price_is_the_stated_assumption() -> None:
    assert DEFAULT_PRICE_USD_PER_HOUR == 2.0
    assert self_hosted_cost_per_1k(36.0, 10) == pytest.approx(2.0)


@pytest.mark.parametrize(("args", "message"), [
    ((10.0, 0), "n_requests must be positive"),
    ((-1.0, 10), "must not be negative"),
    ((1.0, 10, -2.0), "must not be negative"),
])
def test_self_hosted_cost_refuses_bad_inputs(args: tuple[float, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        self_hosted_cost_per_1k(*args)  # type: ignore[arg-type]


@pytest.mark.parametrize(("tokens_in", "tokens_out", "price", "expected"), [
    (1000.0, 100.0, TokenPrice(3.0, 15.0), 4.5),   # (1000*3 + 100*15) / 1e6 * 1000
    (0.0, 0.0, TokenPrice(3.0, 15.0), 0.0),
    (500.0, 500.0, TokenPrice(0.0, 2.0), 1.0),
])
def test_api_cost_per_1k(tokens_in: float, tokens_out: float, price: TokenPrice,
                         expected: float) -> None:
    assert api_cost_per_1k(tokens_in, tokens_out, price) == pytest.approx(expected)


def test_api_cost_refuses_negative_price() -> None:
    with pytest.raises(ValueError, match="output_price"):
        api_cost_per_1k(10.0, 10.0, TokenPrice(1.0, -1.0))


@pytest.mark.parametrize(("seconds", "price", "expected"), [
    (1800.0, 2.0, 1.0),
    (90.0, 4.0, 0.1),
    (0.0, 2.0, 0.0),
])
def test_training_cost_usd(seconds: float, price: float, expected: float) -> None:
    assert training_cost_usd(seconds, price) == pytest.approx(expected)


@pytest.mark.parametrize(("training", "adapter", "baseline", "expected"), [
    (2.0, 0.0009, 0.001, 20_000),   # saving 0.0001 per request
    (0.5, 0.2, 0.3, 5),             # 0.5 / (0.3 - 0.2) is 5.000000000000001 in floats, not 6
    (1.0, 0.0, 0.3, 4),             # 3.33 requests round up to 4
    (0.0, 0.1, 0.2, 0),
    (1.0, 0.002, 0.002, None),      # equal cost: never repays
    (1.0, 0.003, 0.002, None),      # dearer: never repays
])
def test_break_even_requests(training: float, adapter: float, baseline: float,
                             expected: int | None) -> None:
    result = break_even_requests(training, adapter, baseline)
    assert result.requests == expected
    if expected is None:
        assert "never repays" in result.reason
    else:
        assert f"= {expected} requests" in result.reason


def test_break_even_to_dict() -> None:
    assert BreakEven(None, "why").to_dict() == {"requests": None, "reason": "why"}
