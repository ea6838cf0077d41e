"""The report's second half: the evidence behind the verdict and the run's provenance.

Sections for the adapter (manifest highlights, adapter checks, dynamic vs merged serving), cost
(the price assumption and break-even, stated as recorded, `cost.api_comparison` when the run
priced a hosted API, and the memory and throughput of serving each candidate beside training's), the guided-decoding audit, the data (splits with their origin labelled real
or synthetic, and the data card embedded whole) and the environment, all read from the typed
`RunSummary`. A section the run did not record (None in the summary) gets a sentence saying so,
never invented values. This module computes no numbers and knows nothing about output formats.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.record.run_summary import RunSummary
from harness.sinks.report.blocks import Block, Bullets, Embedded, Section, Table, Text
from harness.sinks.report.formatting import format_metric, format_number, format_value

ORIGIN_LABELS = {"cuad": "real (CUAD contracts)", "synthetic": "synthetic (generated)",
                 "none": "no records"}
MEASURED_ONLY = "measured"
RESOURCE_METRICS = ("latency_p95_s", "throughput_rps", "throughput_tokens_out_per_s", "peak_memory_bytes", "kv_cache_usage_peak")
MANIFEST_HIGHLIGHTS = ("key", "base_model", "base_model_hash", "dataset_hash", "settings",
                       "train_seconds", "tokens_per_second", "peak_memory_bytes", "train_loss",
                       "dev_loss", "versions")


def _pairs(header: tuple[str, str], items: Mapping[str, Any]) -> Table:
    return Table(header, tuple((str(key), format_value(value)) for key, value in items.items()))


def manifest_blocks(summary: RunSummary) -> tuple[Block, ...]:
    """The adapter's identity and training record; what the manifest lacks is said, not filled."""
    adapter = summary.adapter
    if adapter is None:
        return (Text("This run recorded no adapter manifest."),)
    manifest = adapter["manifest"]
    highlights = {"path": adapter["path"],
                  **{name: manifest[name] for name in MANIFEST_HIGHLIGHTS if name in manifest}}
    absent = [name for name in MANIFEST_HIGHLIGHTS if name not in manifest]
    if not absent:
        return (_pairs(("manifest", "value"), highlights),)
    return (_pairs(("manifest", "value"), highlights),
            Text(f"The adapter's manifest does not record {', '.join(absent)} (an adapter given "
                 "from outside the harness may have no manifest.json)."))


def adapter_check_blocks(summary: RunSummary) -> tuple[Block, ...]:
    """Base-model match, liveness and dynamic/merged parity, as recorded."""
    checks = summary.adapter_checks
    if checks is None:
        return (Text("This run recorded no adapter checks."),)
    rows = []
    for name, check in checks.items():
        if check is None:
            rows.append((name, "not run", ""))
            continue
        passed = check.get("passed")
        details = {key: value for key, value in check.items() if key != "passed"}
        rows.append((name, MEASURED_ONLY if passed is None else "pass" if passed else "FAIL",
                     format_value(details)))
    return (Table(("check", "result", "details"), tuple(rows),
                  note=f"{MEASURED_ONLY}: the check records a measurement, not a pass/fail."),)


def serving_blocks(summary: RunSummary) -> tuple[Block, ...]:
    """Adapter cold load and the dynamic vs merged serving measurements side by side."""
    modes = summary.engine["adapter_serving"]
    if not modes:
        return (Text("No candidate of this run uses an adapter."),)
    cold_seconds = summary.engine["adapter_cold_load_s"]
    if cold_seconds is not None:
        cold_load = f"{format_number(cold_seconds, 's')} s"
    elif "dynamic" not in modes:
        cold_load = "not measured (the adapter was served merged only, so the base engine ran without LoRA support)"
    else:
        cold_load = "not measured (no base engine was started: every batch it serves was already complete)"
    names = list(dict.fromkeys(name for measured in modes.values() for name in measured))
    rows = tuple((name, *(_serving_value(summary, name, modes[mode].get(name)) for mode in modes))
                 for name in names)
    return (Text(f"The verdict judged the adapter served {summary.verdict.adapter_serving}. Adapter "
                 f"cold load: {cold_load}."),
            Table(("measurement", *modes), rows))


def _serving_value(summary: RunSummary, name: str, value: Any) -> str:
    """A declared metric at its unit's precision; any other measurement written plain."""
    declared = name in summary.metric_defs
    return format_metric(summary.metric_defs, name, value) if declared else format_value(value)


def cost_items(summary: RunSummary) -> tuple[str, ...]:
    """The price assumption, training cost, break-even and ceiling, in words."""
    cost = summary.cost
    break_even, ceiling, api = cost.break_even_requests, summary.gate.cost_ceiling_usd_per_1k, cost.api_comparison
    return (
        f"Price assumption: {format_value(cost.price_usd_per_hour)} USD per "
        f"accelerator-hour ({cost.price_note}). Costs scale linearly with this price.",
        "Training cost: " + ("not recorded" if cost.training_cost_usd is None else
                             f"{format_number(cost.training_cost_usd, 'USD')} USD"),
        "Break-even: " + ("no request count" if break_even is None else
                          f"{format_number(break_even)} requests") + f" ({cost.break_even_note})",
        "Gate cost ceiling: " + ("none set" if ceiling is None else
                                 f"{format_value(ceiling)} USD per 1000 requests"),
        *(() if api is None else (
            f"Hosted-API comparison at {format_value(api['input_usd_per_1m'])} USD per million "
            f"input tokens and {format_value(api['output_usd_per_1m'])} USD per million output "
            "tokens, from each candidate's measured mean token counts.",)),
    )


def cost_table(summary: RunSummary) -> Table:
    """Cost per 1000 requests per candidate, self-hosted and (when recorded) on a hosted API."""
    defs, api = summary.metric_defs, summary.cost.api_comparison
    name = "cost_usd_per_1k_requests"
    header = ("candidate", f"self-hosted {name}", *(() if api is None else (f"hosted API {name}",)))
    rows = tuple((cid, format_metric(defs, name, candidate.metrics.get(name)),
                  *(() if api is None else (format_metric(defs, name, api[name].get(cid)),)))
                 for cid, candidate in summary.candidates.items())
    return Table(header, rows)


def resources_table(summary: RunSummary) -> Table:
    """Per candidate: what serving it held (peak memory, KV cache) beside its latency and throughput."""
    defs = summary.metric_defs
    rows = tuple((cid, *(format_metric(defs, name, candidate.metrics.get(name)) for name in RESOURCE_METRICS))
                 for cid, candidate in summary.candidates.items())
    return Table(("candidate", *RESOURCE_METRICS), rows, note=resources_note(summary))


def resources_note(summary: RunSummary) -> str:
    """What the memory column measured (or why it is empty), and what training held, as recorded."""
    measures = {"not recorded" if candidate.memory_measure is None else candidate.memory_measure
                for candidate in summary.candidates.values()}
    manifest = summary.adapter["manifest"] if summary.adapter else {}
    training = ("no adapter was trained by this run's manifest" if "peak_memory_bytes" not in manifest else
                f"{format_number(manifest['peak_memory_bytes'], 'bytes')} ({manifest.get('peak_memory_measure', 'measure not recorded')})")
    load = summary.engine["load_profile"]
    return (f"Memory: {'; '.join(sorted(measures))}. Training peak memory: {training}. Throughput under the load "
            f"profile {format_value(load)}.")


def cost_section(summary: RunSummary) -> Section:
    """The price assumption, training cost and break-even, cost per candidate, then the resources serving held."""
    return Section("Cost", (Bullets(cost_items(summary)), cost_table(summary), resources_table(summary)))


def guided_section(summary: RunSummary) -> Section:
    """How often guided decoding produced schema-compliant output, and what it ignored."""
    audit = summary.guided_audit
    if audit is None:
        return Section("Guided decoding audit", (Text("This run has no guided-decoding audit."),))
    ignored = audit["ignored_schema_features"]
    return Section("Guided decoding audit", (Bullets((
        f"Candidate: {audit['candidate']}",
        f"Compliance rate: {format_number(audit['compliance_rate'], 'ratio')} of "
        f"{format_number(audit['n'])} outputs",
        "Schema features the decoder ignores: " + (", ".join(ignored) if ignored else "none"),
    )),))


def origin_label(origin: str) -> str:
    """Real or synthetic, per part of a mixed origin (`cuad+synthetic`); unknown parts say so."""
    return " + ".join(ORIGIN_LABELS.get(part, f"unclassified origin {part!r}")
                      for part in origin.split("+"))


def data_section(summary: RunSummary, data_card: str) -> Section:
    """Every split with its size, origin (real or synthetic) and hash, then the data card."""
    rows = tuple((name, format_number(split["n"]), split["origin"], origin_label(split["origin"]),
                  format_value(split["hash"])) for name, split in summary.data.splits.items())
    return Section("Data", (Table(("split", "n", "origin", "real or synthetic", "hash"), rows),
                            Embedded(data_card)))


def environment_section(summary: RunSummary) -> Section:
    """Machine, CPU, precision decision, commit, engine settings and package versions."""
    environment, engine = summary.environment, summary.engine
    return Section("Environment", (
        _pairs(("run", "value"), {"machine": environment["machine"],
                                  "device": environment["device"],
                                  **precision_rows(environment),
                                  "git commit": environment["git_commit"],
                                  "created at": summary.created_at,
                                  "engine mode": engine["mode"],
                                  **engine["load_profile"]}),
        engine_args_block(summary),
        _pairs(("package", "version"), environment["versions"]),
    ))


def precision_rows(environment: Mapping[str, Any]) -> dict[str, Any]:
    """The CPU, its precision-relevant flags, the dtypes used and why, and the matmul probe's figures."""
    cpu, precision = environment.get("cpu") or {}, environment.get("precision") or {}
    probe = precision.get("probe") or {}
    flags = ", ".join(name for name, present in (cpu.get("flags") or {}).items() if present) or "none of the relevant ones"
    return {"CPU": cpu.get("model", "not recorded"), "CPU flags": flags,
            "torch CPU capability": environment.get("torch_cpu_capability", "not recorded"),
            "engine dtype": (environment.get("dtype") or {}).get("engine", "not recorded"),
            "training dtype": (environment.get("dtype") or {}).get("training") or "not recorded (adapter given without a manifest)",
            "precision decision": precision.get("reason", "not recorded"),
            "matmul probe (GFLOP/s)": f"float32 {probe['float32_gflops']}, bfloat16 {probe['bfloat16_gflops']}" if probe else "not recorded"}


def engine_args_block(summary: RunSummary) -> Block:
    """The engine's arguments; a server the user runs has none the harness knows, which is said."""
    arguments = summary.engine["engine_args"]
    if arguments is None:
        url = summary.engine.get("url", "the given URL")
        return Text(f"The engine was a server the harness did not start ({url}); its arguments are not known to the run.")
    return _pairs(("engine argument", "value"), arguments)


def evidence_sections(summary: RunSummary, data_card: str) -> list[Section]:
    """Adapter, cost, guided decoding, data and environment sections."""
    return [
        Section("Adapter", (*manifest_blocks(summary), *adapter_check_blocks(summary),
                            *serving_blocks(summary))),
        cost_section(summary),
        guided_section(summary),
        data_section(summary, data_card),
        environment_section(summary),
    ]
