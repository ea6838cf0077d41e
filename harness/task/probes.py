"""The base-model regression probe: general-capability prompts, each with a checker in code (no judge model).

A fine-tuned adapter can lose what the base model could do (catastrophic forgetting). These items
ask for things a team still needs from the model whatever the task: follow a length limit, answer
in exactly N words, produce a JSON object with given keys, simple arithmetic and reasoning, a
one-sentence summary that keeps a keyword, a tool-call shaped JSON, an exact format. They are sent
as plain user messages through the model's chat template, never through the task's prompt, to the
base model and to the adapter (harness.serve.serving); `passes` says whether an output meets its item.
This module knows text only, nothing of engines, tasks or statistics.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

MAX_TOKENS = 64
SPLIT = "regression"  # the probe's batches: <label>.regression.jsonl
BASE_LABEL = "regression.base"
ADAPTER_LABEL = "regression.adapter"  # served as a LoRA; merged_label() of it when served merged


@dataclass(frozen=True)
class Probe:
    """One item: what it tests, the user message, and the check its output must pass."""

    id: str
    skill: str
    prompt: str
    check: Callable[[str], bool]


def words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9'’-]+", text)


def final_number(text: str) -> float | None:
    """The last number of the output: the answer a worked solution ends on."""
    found = re.findall(r"-?\d+(?:\.\d+)?", text.replace(",", ""))
    return float(found[-1]) if found else None


def json_object(text: str) -> dict[str, Any] | None:
    """The output's JSON object: the whole text, else its first {...} span (a fence or a lead-in allowed)."""
    for candidate in (text.strip(), *(m.group() for m in re.finditer(r"\{.*\}", text, re.DOTALL))):
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()]


def calls_weather_for_paris(text: str) -> bool:
    call = json_object(text) or {}
    arguments = call.get("arguments")
    return call.get("tool") == "get_weather" and isinstance(arguments, dict) and str(arguments.get("city", "")).strip().lower() == "paris"


PROBES: tuple[Probe, ...] = (
    Probe("exact_five_words", "exact word count", "Answer in exactly five words: what colour is a clear daytime sky?",
          lambda out: len(words(out)) == 5),
    Probe("at_most_twelve_words", "length limit", "In at most twelve words, say why people sign written contracts.",
          lambda out: 0 < len(words(out)) <= 12),
    Probe("json_keys", "JSON with given keys",
          'Return only a JSON object with the keys "name" and "age" for a person called Ana who is 31 years old.',
          lambda out: set(json_object(out) or {}) == {"name", "age"}),
    Probe("addition", "arithmetic", "What is 17 + 25? Answer with the number only.", lambda out: final_number(out) == 42),
    Probe("multiplication", "arithmetic", "What is 9 times 6? Answer with the number only.", lambda out: final_number(out) == 54),
    Probe("apples", "simple reasoning", "Tom has 3 apples and buys 4 more. How many apples does he have now? Answer with the number only.",
          lambda out: final_number(out) == 7),
    Probe("older", "simple reasoning", "Mia is older than Leo. Leo is older than Sam. Who is the youngest? Answer with the name only.",
          lambda out: words(out)[:1] == ["Sam"]),
    Probe("summary_keyword", "one-sentence summary with a keyword",
          "Summarize in one sentence that contains the word 'deadline': The team moved the product launch from May to June "
          "because testing took longer than planned, and marketing agreed to the new date.",
          lambda out: len(sentences(out)) == 1 and "deadline" in out.lower()),
    Probe("tool_call", "tool-call format",
          'You can call one tool, get_weather(city). Reply only with a JSON object of the form '
          '{"tool": "<name>", "arguments": {"city": "<city>"}} that asks for the weather in Paris.', calls_weather_for_paris),
    Probe("capital", "short factual answer", "What is the capital of France? Answer with one word.",
          lambda out: "paris" in [w.lower() for w in words(out)] and len(words(out)) <= 8),
    Probe("upper_yes", "exact format", "Write the word yes in capital letters and nothing else.", lambda out: out.strip().strip(".") == "YES"),
    Probe("three_fruits", "list format", "Name three fruits as a comma-separated list and nothing else.",
          lambda out: len([p for p in out.strip().strip(".").split(",") if p.strip()]) == 3 and "\n" not in out.strip()),
)


def passes(probe: Probe, text: str) -> bool:
    return bool(probe.check(text))


def probe_set_fingerprint() -> dict[str, str]:
    """What identifies the probe set in a cache key: each item's prompt (its checker is code, versioned with the harness)."""
    return {probe.id: probe.prompt for probe in PROBES}
