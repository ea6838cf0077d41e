"""The cost model: what 1000 requests, a training run and an adapter's pay-back cost in USD.

Self-hosted serving is priced by the accelerator-hour: the measured wall seconds of a batch,
spread over its requests, times an hourly price. The price is an assumption, not a measurement —
DEFAULT_PRICE_USD_PER_HOUR stands for "one accelerator-hour" and every report must state the price
it used. A hosted API is priced per token instead (TokenPrice), from mean tokens per request.
This module deliberately knows nothing about engines, hardware, metrics or the verdict: it turns
seconds, token counts and prices into dollars.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_PRICE_USD_PER_HOUR = 2.0
"""Assumed on-demand price of one accelerator-hour (a single data-centre GPU), in USD."""
SECONDS_PER_HOUR = 3600.0
REQUESTS_PER_COST_UNIT = 1000
TOKENS_PER_PRICE_UNIT = 1_000_000
_ROUNDING_NOISE = 1e-9  # relative: a request count this close to an integer is that integer


@dataclass(frozen=True)
class TokenPrice:
    """A hosted API's list price in USD per million input and output tokens."""

    input_usd_per_1m: float
    output_usd_per_1m: float


@dataclass(frozen=True)
class BreakEven:
    """Requests after which an adapter's per-request saving repays its training cost; None
    (with the reason) when it never does."""

    requests: int | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _require_non_negative(**values: float) -> None:
    bad = {name: value for name, value in values.items() if value < 0}
    if bad:
        raise ValueError(f"cost inputs must not be negative: {bad}")


def self_hosted_cost_per_1k(wall_seconds: float, n_requests: int,
                            price_usd_per_hour: float = DEFAULT_PRICE_USD_PER_HOUR) -> float:
    """USD per 1000 requests = price/hour x (wall seconds / requests) x 1000 / 3600."""
    _require_non_negative(wall_seconds=wall_seconds, price_usd_per_hour=price_usd_per_hour)
    if n_requests <= 0:
        raise ValueError(f"n_requests must be positive, got {n_requests}")
    seconds_per_request = wall_seconds / n_requests
    return price_usd_per_hour * seconds_per_request * REQUESTS_PER_COST_UNIT / SECONDS_PER_HOUR


def api_cost_per_1k(tokens_in_mean: float, tokens_out_mean: float, price: TokenPrice) -> float:
    """USD per 1000 requests at a per-token price, from the mean tokens of one request."""
    _require_non_negative(tokens_in_mean=tokens_in_mean, tokens_out_mean=tokens_out_mean,
                          input_price=price.input_usd_per_1m, output_price=price.output_usd_per_1m)
    per_request = (tokens_in_mean * price.input_usd_per_1m
                   + tokens_out_mean * price.output_usd_per_1m) / TOKENS_PER_PRICE_UNIT
    return per_request * REQUESTS_PER_COST_UNIT


def training_cost_usd(training_wall_seconds: float,
                      price_usd_per_hour: float = DEFAULT_PRICE_USD_PER_HOUR) -> float:
    """USD of a training run: its wall seconds at the same accelerator-hour price."""
    _require_non_negative(training_wall_seconds=training_wall_seconds,
                          price_usd_per_hour=price_usd_per_hour)
    return training_wall_seconds * price_usd_per_hour / SECONDS_PER_HOUR


def break_even_requests(training_cost_usd: float, adapter_cost_per_request: float,
                        baseline_cost_per_request: float) -> BreakEven:
    """Smallest request count whose saving (baseline - adapter, per request) covers training."""
    _require_non_negative(training_cost_usd=training_cost_usd,
                          adapter_cost_per_request=adapter_cost_per_request,
                          baseline_cost_per_request=baseline_cost_per_request)
    saving = baseline_cost_per_request - adapter_cost_per_request
    if saving <= 0:
        return BreakEven(None, f"the adapter costs {adapter_cost_per_request:.6g} USD per request, "
                               f"not less than the baseline's {baseline_cost_per_request:.6g}, "
                               "so it never repays its training cost")
    exact = training_cost_usd / saving
    requests = round(exact) if math.isclose(exact, round(exact), rel_tol=_ROUNDING_NOISE) \
        else math.ceil(exact)
    return BreakEven(requests, f"{training_cost_usd:.6g} USD of training / {saving:.6g} USD saved "
                               f"per request = {requests} requests")
