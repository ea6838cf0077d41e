"""A realistic run folder built in a temporary directory, shared by the report, tracking and gate
output tests (`write_run_folder`), plus checks that the loader reads it and rejects broken ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.errors import HarnessError
from harness.score.metrics import METRICS
from harness.record.run_summary import read_run_summary
from harness.sinks.report.run_folder import load_run_folder

FIELDS = ("parties", "agreement_date", "effective_date", "expiration_date", "renewal_term",
          "notice_period_days", "governing_law")
CANDIDATES = {  # cid -> (uses_adapter, serving, share of valid outputs, latency scale in s)
    "best_prompt": (False, "base", 0.75, 0.9),
    "few_shot": (False, "base", 0.80, 1.6),
    "guided_json": (False, "base", 1.00, 1.1),
    "lora_short": (True, "dynamic", 0.92, 0.7),
    "lora_short@merged": (True, "merged", 0.92, 0.6),
}
N_RECORDS = 12
FIELD_F1 = {"best_prompt": 0.612, "few_shot": 0.655, "guided_json": 0.598, "lora_short": 0.674,
            "lora_short@merged": 0.671}
OUTPUTS = {"empty": "", "request_failed": "", "not_json": "Parties: Acme <Corp> & Vendor | 2019",
           "schema_invalid": '{"parties": "Acme"}', "valid": '{"parties": ["Acme"]}'}


def _status(rng: np.random.Generator, valid_share: float, index: int) -> str:
    if index == 0 and valid_share < 1.0:
        return "request_failed"
    if index == 1 and valid_share < 0.8:  # best_prompt: an unparseable output among the examples
        return "not_json"
    return "valid" if rng.random() < valid_share else str(rng.choice(["empty", "not_json",
                                                                       "schema_invalid"]))


def _prediction(cid: str, index: int, rng: np.random.Generator) -> dict[str, Any]:
    _, _, valid_share, scale = CANDIDATES[cid]
    status = _status(rng, valid_share, index)
    gold = {"parties": ["Acme Corp", f"Vendor {index}"], "agreement_date": "2019-03-0{}".format(
        1 + index % 9), "governing_law": "Delaware"}
    exact = status == "valid" and rng.random() < 0.5
    fields = {f: {"tp": int(exact or rng.random() < 0.6), "fp": 0, "fn": int(not exact), "tn": 0}
              for f in FIELDS}
    failed = status == "request_failed"
    return {"record_id": f"rec-{index:03d}", "candidate": cid, "split": "test",
            "text": json.dumps(gold) if exact else OUTPUTS[status],
            "prompt_tokens": 310 + index, "completion_tokens": 0 if failed else 60 + index,
            "ttft_s": None if failed else round(0.05 * scale, 4),
            "latency_s": None if failed else round(float(scale * rng.uniform(0.6, 1.6)), 4),
            "finish_reason": None if failed else "stop", "attempts": 3 if failed else 1,
            "error": "timeout after 30 s" if failed else None,
            "score": {"status": status, "extracted": False, "violation_path": None,
                      "record_exact": exact, "fields": fields}, "gold": gold}


def _metrics(rows: list[dict[str, Any]], f1: float, cost: float) -> dict[str, float | int]:
    statuses = [r["score"]["status"] for r in rows]
    latencies = [r["latency_s"] for r in rows if r["latency_s"] is not None]
    exact = float(np.mean([r["score"]["record_exact"] for r in rows]))
    return {"n": len(rows), "json_parse_rate": 1 - (statuses.count("empty") + statuses.count(
        "not_json") + statuses.count("request_failed")) / len(rows),
            "extraction_needed_rate": 0.0, "schema_valid_rate": statuses.count("valid") / len(rows),
            "field_f1": f1, "field_f1_macro": f1 - 0.021,
            "record_exact_rate": exact, "failed_request_rate": statuses.count("request_failed")
            / len(rows), "latency_p50_s": float(np.percentile(latencies, 50)),
            "latency_p95_s": float(np.percentile(latencies, 95)),
            "latency_p99_s": float(np.percentile(latencies, 99)), "ttft_p95_s": 0.0612,
            "tokens_in_mean": float(np.mean([r["prompt_tokens"] for r in rows])),
            "tokens_out_mean": float(np.mean([r["completion_tokens"] for r in rows])),
            "throughput_tokens_out_per_s": 123.456, "cost_usd_per_1k_requests": cost}


def _candidate(cid: str, rows: list[dict[str, Any]], index: int) -> dict[str, Any]:
    uses_adapter, serving, _, _ = CANDIDATES[cid]
    metrics = _metrics(rows, FIELD_F1[cid], cost=0.1234 + 0.01 * index)
    per_field_f1 = {f: round(0.3 + 0.08 * i + 0.02 * index, 4) for i, f in enumerate(FIELDS)}
    metrics |= {f"field_f1.{f}": f1 for f, f1 in per_field_f1.items()}
    missing = {"ttft_p95_s": "no request has this timing"} if cid == "lora_short@merged" else {}
    for name in missing:
        del metrics[name]
    statuses = [r["score"]["status"] for r in rows]
    intervals = {"latency_p95_s": [metrics["latency_p95_s"] * 0.8, metrics["latency_p95_s"] * 1.1]}
    if cid != "guided_json":  # one candidate without a CI on the primary metric
        intervals["field_f1"] = [metrics["field_f1"] - 0.08, metrics["field_f1"] + 0.07]
    return {"description": f"{cid} recipe", "spec": {
                "prompt": "adapter" if uses_adapter else "best", "shots": 3 if cid == "few_shot"
                else 0, "adapter": uses_adapter, "decoding": {"temperature": 0.0,
                "max_tokens": 256, "guided_json": cid == "guided_json"}},
            "prompt_template": "short" if uses_adapter else "extract_rules",
            "uses_adapter": uses_adapter, "serving": serving, "metrics": metrics,
            "intervals": intervals, "missing_metrics": missing, "per_field_f1": per_field_f1,
            "failures": {kind: statuses.count(kind) for kind in
                         ("empty", "not_json", "schema_invalid", "request_failed")},
            "predictions_file": f"predictions/{cid}.jsonl"}


POWER_METHOD = "normal approximation from the paired bootstrap SE"


def _verdict(decision: str, candidates: dict[str, Any]) -> dict[str, Any]:
    wins = decision == "adapter_wins"
    adapter, baseline = (candidates[cid]["metrics"] for cid in ("lora_short", "best_prompt"))
    return {"decision": decision, "reasons": [
                "field_f1 improved by +0.062 (95% CI -0.010 to +0.130), below the 0.05 margin"
                if not wins else "field_f1 improved by +0.162, above the 0.05 margin",
                "Holm-adjusted p = 0.0810 is not below alpha 0.05" if not wins else "p < alpha"],
            "checks": {"primary_effect": {"passed": True, "value": 0.0621, "threshold": 0.05,
                                          "reason": "improvement vs min_effect"},
                       "primary_significance": {"passed": wins, "value": 0.081 if not wins
                                                else 0.001, "threshold": 0.05},
                       "schema_valid_rate": {"passed": True, "value": adapter["schema_valid_rate"]
                                             - baseline["schema_valid_rate"], "threshold": -0.05},
                       "latency_p95_s": {"passed": True, "value": adapter["latency_p95_s"]
                                         / baseline["latency_p95_s"], "threshold": 10.0}},
            "power": {"mde": 0.094, "records_needed": 110, "method": POWER_METHOD,
                      "note": "records for +0.062 to pass at 80% power"},
            "min_records": 20,
            "adapter_candidate": "lora_short", "baseline_candidate": "best_prompt",
            "adapter_serving": "dynamic"}


def _comparisons() -> list[dict[str, Any]]:
    rows = []
    for cid in ("lora_short", "lora_short@merged", "few_shot", "guided_json"):
        rows.append({"candidate": cid, "baseline": "best_prompt", "metric": "field_f1",
                     "test": "paired_bootstrap", "diff": 0.0621, "ci_low": -0.0102,
                     "ci_high": 0.1304, "p_value": 0.027, "p_holm": 0.081, "effect_size": 0.41,
                     "n": N_RECORDS})
        rows.append({"candidate": cid, "baseline": "best_prompt", "metric": "record_exact_rate",
                     "test": "mcnemar_exact", "diff": 0.0833, "ci_low": None, "ci_high": None,
                     "p_value": 0.00004, "p_holm": 0.00016, "effect_size": None, "n": N_RECORDS,
                     "b01": 1, "b10": 2})
    return rows


EVIDENCE: dict[str, Any] = {  # the sections a view shows but does not compute from
    "engine": {"mode": "inprocess", "engine_args": {
        "model": "/cache/smollm2-135m", "dtype": "bfloat16", "max_model_len": 4096,
        "enable_lora": True, "max_lora_rank": 16, "seed": 0},
        "load_profile": {"concurrency": 8, "warmup_requests": 4}, "adapter_cold_load_s": 0.412,
        "adapter_serving": {"dynamic": {"latency_p95_s": 1.02, "tokens_out_mean": 61.5},
                            "merged": {"latency_p95_s": 0.88, "tokens_out_mean": 61.5}}},
    "adapter_checks": {"base_model_match": {"passed": True, "adapter_base": "smollm2-135m",
                                            "served_base": "smollm2-135m"},
                       "liveness": {"passed": True, "canaries": 8, "differing": 7},
                       "parity": {"agreement_rate": 0.9583, "sample_size": 24}},
    "adapter": {"key": "contract_extraction-3f9a", "path": "/cache/adapters/3f9a", "manifest": {
        "key": "contract_extraction-3f9a", "base_model": "smollm2-135m",
        "base_model_hash": "sha256:aa11", "dataset_hash": "sha256:bb22",
        "settings": {"rank": 16, "alpha": 32, "learning_rate": 0.0003, "epochs": 1.0},
        "train_seconds": 75.0, "tokens_per_second": 1834.2, "peak_memory_bytes": 2147483648,
        "train_loss": 0.8123, "dev_loss": 0.9345, "versions": {"peft": "0.14.0"}}},
    "guided_audit": {"candidate": "guided_json", "compliance_rate": 1.0, "n": N_RECORDS,
                     "ignored_schema_features": ["pattern", "format: date"]},
    "data": {"splits": {"test": {"n": N_RECORDS, "origin": "cuad", "hash": "sha256:cc33"},
                        "train": {"n": 160, "origin": "cuad+synthetic", "hash": "sha256:dd44"},
                        "few_shot_pool": {"n": 8, "origin": "cuad", "hash": "sha256:ee55"}},
             "card_file": "data_card.md", "sources": {"source": "cuad"}, "folder": "/cache/data/contract_extraction/5e6f"},
    "baseline_cache": {"key": "9c1e0f2a4b6d8e10", "reused": True},
    "environment": {"machine": "ci-runner-7", "device": "cpu", "git_commit": "0123abcd",
                    "versions": {"python": "3.12.3", "vllm": "0.32.0", "mlflow": "3.17.2"}},
}


def _summary(candidates: dict[str, Any], decision: str) -> dict[str, Any]:
    return {
        "schema_version": 1, "task": "contract_extraction", "run_id": "20261122T191032Z-ab12cd",
        "created_at": "2026-11-22T19:10:32+00:00", "split": "test",
        "verdict": _verdict(decision, candidates),
        "gate": {"primary_metric": "field_f1", "min_effect": 0.05, "min_effect_on": "ci_low", "alpha": 0.05,
                 "min_records": 20, "schema_valid_margin": 0.05, "failure_rate_margin": 0.02,
                 "latency_p95_ratio_margin": 10.0, "cost_ceiling_usd_per_1k": None, "slice_margin": None,
                 "regression_margin": None},
        "candidates": candidates,
        "metric_defs": {d.name: {"unit": d.unit, "direction": d.direction,
                                 "description": d.description} for d in METRICS},
        "comparisons": _comparisons(),
        "baseline_selection": {"chosen": "best_prompt", "rule": "the primary metric on dev", "tie_break": None,
                               "chosen_on": "dev", "metric": "field_f1",
                               "dev_scores": {"best_prompt": 0.5123, "few_shot": 0.4987}},
        "prompt_search": {"winner": "extract_rules", "variants_tried": 3, "metric": "field_f1", "dev_scores": {
            "extract_plain": 0.4012, "extract_schema": 0.4561, "extract_rules": 0.5123}, "key": "0f" * 8},
        "cost": {"price_usd_per_hour": 2.0, "price_note": "assumed on-demand price of one GPU-hour",
                 "training_cost_usd": 0.0417, "break_even_requests": 2085,
                 "break_even_note": "0.0417 USD of training / 2e-05 USD saved per request",
                 "api_comparison": {"input_usd_per_1m": 0.15, "output_usd_per_1m": 0.6,
                                    "cost_usd_per_1k_requests": {cid: 0.0837 + 0.001 * i for i, cid
                                                                 in enumerate(candidates)}}},
        **json.loads(json.dumps(EVIDENCE)),
    }


def _write_adapter(folder: Path, manifest: dict[str, Any]) -> Path:
    """A stand-in adapter folder: the files a trained one has (the weights are not real)."""
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"r": 16, "peft_type": "LORA"}))
    (folder / "adapter_model.safetensors").write_bytes(b"\0" * 64)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def write_run_folder(root: Path, decision: str = "not_proven") -> Path:
    """Writes reports/<task>/<run_id>/ under `root` (summary, predictions, data card) and the
    adapter folder it names (under adapters/); returns the run folder."""
    rng = np.random.default_rng(7)
    predictions = {cid: [_prediction(cid, i, rng) for i in range(N_RECORDS)] for cid in CANDIDATES}
    candidates = {cid: _candidate(cid, rows, i)
                  for i, (cid, rows) in enumerate(predictions.items())}
    summary = _summary(candidates, decision)
    run_dir = root / "reports" / summary["task"] / summary["run_id"]
    summary["adapter"]["path"] = str(_write_adapter(root / "adapters" / summary["adapter"]["key"],
                                                    summary["adapter"]["manifest"]))
    (run_dir / "predictions").mkdir(parents=True)
    for cid, rows in predictions.items():
        (run_dir / f"predictions/{cid}.jsonl").write_text(
            "".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    (run_dir / "data_card.md").write_text(
        "# Data card: contract_extraction\n\n## Origin\n\nTest excerpts come from CUAD.\n\n"
        "```bash\n# a comment, not a heading\n```\n", encoding="utf-8")
    (run_dir / "data_card.json").write_text(json.dumps({"task": summary["task"]}), encoding="utf-8")
    return run_dir


def test_the_fixture_loads_whole(tmp_path: Path) -> None:
    record = load_run_folder(write_run_folder(tmp_path))
    assert set(record.predictions) == set(CANDIDATES)
    assert all(len(rows) == N_RECORDS for rows in record.predictions.values())
    assert record.data_card.startswith("# Data card")


def test_a_missing_required_section_names_itself(tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text())
    del summary["verdict"]
    (run_dir / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(HarnessError, match="missing required key.*'verdict'"):
        read_run_summary(run_dir)


def test_a_missing_nested_key_names_its_path(tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text())
    del summary["candidates"]["few_shot"]["failures"]
    (run_dir / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(HarnessError, match="candidates.few_shot: missing required key.*'failures'"):
        read_run_summary(run_dir)


def test_an_unknown_key_is_refused(tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["verdict"]["mood"] = "optimistic"
    (run_dir / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(HarnessError, match="verdict: unknown key.*'mood'"):
        read_run_summary(run_dir)


def test_a_missing_prediction_file_is_a_harness_error(tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path)
    (run_dir / "predictions/few_shot.jsonl").unlink()
    with pytest.raises(HarnessError, match="few_shot.jsonl"):
        load_run_folder(run_dir)


def test_another_schema_version_is_refused(tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["schema_version"] = 2
    (run_dir / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(HarnessError, match="schema_version"):
        read_run_summary(run_dir)
