"""The data card: what a task's built data is, as a dict (stored) and as Markdown (printed).

It shows, per split: records requested and built, source documents, origins (real or synthetic,
loudly), per-field presence rates, and excerpt lengths in tokens; then answers flagged as not
normalizable (with examples), excerpts and records filtered out by reason, leakage between the
training side and dev/test, and content hashes. This module describes; it decides nothing.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Mapping, Sequence

from harness.data.excerpts import TokenCounter
from harness.data.harvest import Harvest
from harness.data.leakage import leakage
from harness.task.records import Record, records_hash
from harness.task.specs import TaskSpec

SYNTHETIC = "synthetic"


def percentile(values: Sequence[int], q: float) -> int:
    """Nearest-rank percentile of integers (0 for none)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))] if ordered else 0


def length_summary(lengths: Sequence[int]) -> dict[str, Any]:
    """min / p50 / p90 / max / mean of token lengths."""
    mean = round(sum(lengths) / len(lengths), 1) if lengths else 0.0
    return {"min": min(lengths, default=0), "p50": percentile(lengths, 0.5), "p90": percentile(lengths, 0.9),
            "max": max(lengths, default=0), "mean": mean}


def split_summary(task: TaskSpec, name: str, records: Sequence[Record], count_tokens: TokenCounter) -> dict[str, Any]:
    """Counts, origins, field presence and token lengths of one split."""
    origins = dict(sorted(Counter(r.origin for r in records).items()))
    presence = {f: round(sum(r.gold.get(f) is not None for r in records) / len(records), 3) if records else 0.0 for f in task.fields}
    summary = {"requested": task.data.splits[name], "records": len(records),
               "documents": len({r.source_id for r in records}), "origins": origins,
               "real": bool(records) and SYNTHETIC not in origins, "synthetic_records": origins.get(SYNTHETIC, 0),
               "field_presence": presence, "tokens": length_summary([count_tokens(r.text) for r in records])}
    enums = [f for f, kind in task.fields.items() if kind == "enum"]
    if enums:
        summary["values"] = {f: dict(sorted(Counter(str(r.gold.get(f)) for r in records).items())) for f in enums}
    return summary


def leakage_summary(task: TaskSpec, splits: Mapping[str, Sequence[Record]]) -> dict[str, Any]:
    """Exact and near duplicates of training-side records in dev and test, and the threshold."""
    training = list(splits["train"]) + list(splits["few_shot_pool"])
    result: dict[str, Any] = {"max_fraction": task.data.leakage_max_fraction}
    for name in ("dev", "test"):
        matches = leakage(training, splits[name])
        kinds = Counter(m.kind for m in matches)
        fraction = round(len(matches) / len(splits[name]), 4) if splits[name] else 0.0
        result[name] = {"exact": kinds["exact"], "near": kinds["near"], "fraction": fraction,
                        "examples": [f"{m.record_id} ~ {m.training_id} ({m.kind}, {m.jaccard})" for m in matches[:3]]}
    return result


def data_card(task: TaskSpec, splits: Mapping[str, Sequence[Record]], harvests: Mapping[str, Harvest],
              filtered: Mapping[str, Counter[str]], sources: Mapping[str, Any], count_tokens: TokenCounter) -> dict[str, Any]:
    """The card of built data, JSON-ready and deterministic."""
    flagged: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    dropped: Counter[str] = Counter()
    for harvest in harvests.values():
        flagged.update(harvest.flagged)
        dropped.update(harvest.dropped)
        for reason, kept in harvest.examples.items():
            examples.setdefault(reason, []).extend(e for e in kept if e not in examples.get(reason, []))
    summaries = {name: split_summary(task, name, records, count_tokens) for name, records in splits.items()}
    warnings = [f"{name}: {s['records']} of {s['requested']} requested records built" for name, s in summaries.items()
                if s["records"] < s["requested"]]
    warnings += [f"{name}: contains {s['synthetic_records']} SYNTHETIC records" for name, s in summaries.items() if s["synthetic_records"]]
    return {
        "task": task.id, "recipe": task.data.recipe, "seed": task.data.seed, "excerpt_tokens": task.data.excerpt_tokens,
        "sources": dict(sources), "splits": summaries, "warnings": warnings,
        "flagged_answers": {r: {"count": n, "examples": examples.get(r, [])[:3]} for r, n in sorted(flagged.items())},
        "dropped_excerpts": dict(sorted(dropped.items())),
        "filtered_records": {name: dict(sorted(c.items())) for name, c in filtered.items()},
        "leakage": leakage_summary(task, splits),
        "hashes": {name: records_hash(records) for name, records in splits.items()},
    }


def card_markdown(card: Mapping[str, Any]) -> str:
    """The card as Markdown, for `harness data card` and the comparison report."""
    lines = [f"# Data card: {card['task']}", "",
             f"Recipe `{card['recipe']}`, seed {card['seed']}, excerpts of at most {card['excerpt_tokens']} tokens.", ""]
    lines += [f"- {key}: {value}" for key, value in card["sources"].items()]
    lines += ["", *[f"> **WARNING** {w}" for w in card["warnings"]], ""]
    lines += ["| split | requested | records | documents | origin | tokens min/p50/p90/max |", "|---|---|---|---|---|---|"]
    for name, s in card["splits"].items():
        kind = "REAL" if s["real"] else "SYNTHETIC" if s["origins"] == {SYNTHETIC: s["records"]} else "MIXED"
        origin = f"{kind} ({', '.join(f'{o}: {n}' for o, n in s['origins'].items())})"
        t = s["tokens"]
        lines.append(f"| {name} | {s['requested']} | {s['records']} | {s['documents']} | {origin} | {t['min']}/{t['p50']}/{t['p90']}/{t['max']} |")
    fields = list(next(iter(card["splits"].values()))["field_presence"])
    lines += ["", "Field presence (share of records with a non-null gold value):", "",
              "| field | " + " | ".join(card["splits"]) + " |", "|---" * (len(card["splits"]) + 1) + "|"]
    lines += [f"| {f} | " + " | ".join(f"{s['field_presence'][f]:.2f}" for s in card["splits"].values()) + " |" for f in fields]
    for s_name, s in card["splits"].items():
        lines += [f"- {s_name} {f}: " + ", ".join(f"{v} {n}" for v, n in counts.items()) for f, counts in s.get("values", {}).items()]
    lines += ["", "Flagged answers (not normalizable; never guessed, never gold):", ""]
    lines += [f"- {r}: {v['count']} (e.g. {'; '.join(repr(e) for e in v['examples'])})" for r, v in card["flagged_answers"].items()] or ["- none"]
    lines += ["", "Excerpts dropped while building (uncertain gold):", ""]
    lines += [f"- {r}: {n}" for r, n in card["dropped_excerpts"].items()] or ["- none"]
    lines += ["", "Records filtered (noise filter, leakage):", ""]
    lines += [f"- {name}: {r}: {n}" for name, c in card["filtered_records"].items() for r, n in c.items()] or ["- none"]
    leak = card["leakage"]
    lines += ["", f"Leakage against train + few-shot pool (max fraction {leak['max_fraction']}):", ""]
    lines += [f"- {name}: exact {leak[name]['exact']}, near {leak[name]['near']}, fraction {leak[name]['fraction']}" for name in ("dev", "test")]
    lines += ["", "Hashes (sha256 of each split's records):", ""]
    lines += [f"- {name}: `{h}`" for name, h in card["hashes"].items()]
    return "\n".join(lines) + "\n"
