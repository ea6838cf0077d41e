"""`make bench` (`python tests/benchmark/bench.py`): measure this machine and write reports/benchmarks/bench-<time>.json.

A development tool beside the tests, not part of the library: nothing in `harness/` imports it.

Records the CPU (model, precision-relevant flags), torch's CPU capability, the precision decision and
its matmul probe (on an AVX-512 machine also the decision, the training throughput and base generation
under wall.avx2_view(), which approximates the slow kind: torch's kernels and vLLM's kernel library are
the AVX2 ones and the dtype float32, while the CPU's clock, caches and memory stay this machine's); the training throughput
and peak RSS of a short real LoRA training; then, each in a process of its own, engine start and
generation throughput for the engine runtime variants (preloads, thread binding, the model in vLLM's own
engine-core and worker processes instead of the harness's process, spinning OpenMP waits, a short spin
before OpenMP threads sleep, KV-cache size, vLLM's LoRA support on with no adapter, 8 requests in flight
instead of all 16 at once), for base, dynamic LoRA and merged serving, and raw vLLM `LLM.generate` on
the same token-id prompts, with the harness/raw ratio and the all-at-once/8-in-flight throughput ratio;
then two engines at once (as two comparisons on one machine run) for the runtime variants that decide
how the engine shares the cores. `--wall` adds the wall time and peak memory of whole commands (make
test, a first and a second make compare), each from a fresh clone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from wall import AVX2_VIEW, avx2_view, machine, measure
from harness.engine.runtime import engine_runtime, find_iomp
from harness.training.model_prep import prepare_default_model
from harness.hardware.precision import decide_precision

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# The runtime variants measured two at once: those that decide how an engine shares the cores with another.
TWO_AT_ONCE = ("default", "model_in_vllm_processes", "omp_wait_spinning", "omp_wait_short_spin")
WALL_COMMANDS = {"make-test": ["make", "test"], "first-compare": ["make", "compare"], "second-compare": ["make", "compare"]}


def run_json(command: list[str], env: dict[str, str] | None = None, marker: str = "BENCH-RESULT ") -> dict[str, Any]:
    """Run a measuring subprocess and return the JSON it prints after `marker` (its exit code otherwise)."""
    done = subprocess.run(command, cwd=ROOT, env=os.environ | (env or {}), capture_output=True, text=True)
    for line in done.stdout.splitlines():
        if line.startswith(marker):
            return json.loads(line[len(marker):])
    return {"error": f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ''}"}


def torch_side() -> dict[str, Any]:
    """The precision decision here, and (with AVX-512) the decision under the AVX2 view."""
    decision = decide_precision("cpu").to_dict()
    result: dict[str, Any] = {"decision": decision}
    if decision["cpu"]["flags"].get("avx512f"):
        code = ("import json; from harness.hardware.precision import decide_precision as d; "
                "print('BENCH-RESULT ' + json.dumps(d('cpu').to_dict()))")
        result["emulated_avx2"] = run_json([sys.executable, "-c", code], avx2_view())
    return result


def avx2_view_side(model: Path, cache: Path) -> dict[str, Any]:
    """The short training and the base generation under the AVX2 view, each in a process of its own."""
    print("[bench] training and generation under the AVX2 view", flush=True)
    trained, _ = training(cache, avx2_view())
    command = [sys.executable, str(HERE / "generation.py"), "--model", str(model), "--dtype", "float32"]
    environment = engine_runtime("cpu").environment({}) | avx2_view()
    return {"view": AVX2_VIEW, "training": trained, "generation": run_json(command, environment) | {"environment": environment}}


def training(cache: Path, env: dict[str, str] | None = None) -> tuple[dict[str, Any], Path | None]:
    """A short real LoRA training on synthetic excerpts: its throughput, peak RSS and adapter folder."""
    command = [sys.executable, "-m", "harness.cli", "train", "contract_extraction", "--synthetic", "--cache-dir", str(cache),
               "--train-size", "16", "--few-shot-pool-size", "4", "--dev-size", "4", "--test-size", "4", "--excerpt-tokens", "192",
               "--max-steps", "4", "--no-mlflow"]
    done = subprocess.run(command, cwd=ROOT, env=os.environ | (env or {}), capture_output=True, text=True)
    line = next((l for l in done.stdout.splitlines() if l.startswith("adapter: ")), None)
    if line is None:
        return {"error": done.stderr.strip()[-500:]}, None
    folder = Path(line.split("adapter: ", 1)[1])
    manifest = json.loads((folder / "manifest.json").read_text())
    keep = ("tokens_per_second", "tokens_seen", "train_seconds", "peak_memory_bytes", "peak_memory_measure", "steps", "train_precision")
    return {name: manifest[name] for name in keep}, folder


def variants(model: Path, adapter: Path | None, merged: Path | None) -> dict[str, tuple[Path, list[str], dict[str, str]]]:
    """Each generation variant: the model it serves, its extra arguments and the environment its process starts with.

    `default` is the harness's own runtime (harness.engine.runtime); each other variant changes one knob of it."""
    default = engine_runtime("cpu").environment({})

    def without(name: str) -> dict[str, str]:
        return {k: v for k, v in default.items() if k != name}

    table = {"default": (model, [], default),
             "preload_off": (model, [], without("LD_PRELOAD")),
             "thread_bind_vllm_auto": (model, [], without("VLLM_CPU_OMP_THREADS_BIND")),
             # vLLM's own process layout: an engine-core process and, on the CPU, a worker process for the model
             "model_in_vllm_processes": (model, [], without("VLLM_ENABLE_V1_MULTIPROCESSING")),
             "omp_wait_spinning": (model, [], without("OMP_WAIT_POLICY")),
             # libgomp spins 1000 rounds before it sleeps (passive: none; its default: 300000)
             "omp_wait_short_spin": (model, [], without("OMP_WAIT_POLICY") | {"GOMP_SPINCOUNT": "1000"}),
             "kv_cache_2gib": (model, ["--kv-cache-gib", "2"], default),
             "lora_enabled_unused": (model, ["--enable-lora"], default),
             "concurrency_8": (model, ["--concurrency", "8"], default),
             "raw_vllm": (model, ["--engine", "raw"], default)}
    if find_iomp() and "LD_PRELOAD" in default:
        table["preload_iomp_on"] = (model, [], default | {"LD_PRELOAD": f"{default['LD_PRELOAD']}:{find_iomp()}"})
    if adapter is not None:
        table["dynamic_lora"] = (model, ["--adapter", str(adapter)], default)
    if merged is not None:
        table["merged"] = (merged, [], default)
    return table


def generation(model: Path, dtype: str, adapter: Path | None, merged: Path | None, only: set[str] | None) -> dict[str, Any]:
    """Run every generation variant (or those in `only`), each in its own process, then the core-sharing ones two
    at once; add the ratios between them."""
    results: dict[str, Any] = {}
    table = variants(model, adapter, merged)
    for name, (served, extra, env) in table.items():
        if only and name not in only:
            continue
        print(f"[bench] generation: {name}", flush=True)
        command = [sys.executable, str(HERE / "generation.py"), "--model", str(served), "--dtype", dtype, *extra]
        results[name] = run_json(command, env) | {"environment": env}
    pairs = {}
    for name in (n for n in TWO_AT_ONCE if not only or n in only):
        print(f"[bench] generation, two engines at once: {name}", flush=True)
        served, extra, env = table[name]
        pairs[name] = two_at_once([sys.executable, str(HERE / "generation.py"), "--model", str(served), "--dtype", dtype, *extra], env)
    return results | ({"two_engines_at_once": pairs} if pairs else {}) | variant_ratios(results, pairs)


def two_at_once(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Two measuring processes started together on this machine: each one's result and their summed base throughput."""
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: run_json(command, env), range(2)))
    rates = [run["base"]["output_tokens_per_s"] for run in runs if "base" in run]
    return {"runs": runs, "environment": env} | ({"output_tokens_per_s_sum": round(sum(rates), 2)} if len(rates) == 2 else {})


def variant_ratios(results: dict[str, Any], pairs: dict[str, Any]) -> dict[str, float]:
    """Base-serving ratios between variants measured in this run (name, numerator, denominator, field), and of
    the summed throughput of two engines at once."""
    ratios = (("harness_over_raw_seconds_ratio", "default", "raw_vllm", "seconds"),
              ("all_in_flight_over_8_in_flight_tokens_per_s_ratio", "default", "concurrency_8", "output_tokens_per_s"),
              ("in_process_over_vllm_processes_tokens_per_s_ratio", "default", "model_in_vllm_processes", "output_tokens_per_s"),
              ("vllm_processes_over_in_process_engine_start_ratio", "model_in_vllm_processes", "default", "engine_start_s"),
              ("passive_over_spinning_waits_tokens_per_s_ratio", "default", "omp_wait_spinning", "output_tokens_per_s"),
              ("passive_over_short_spin_waits_tokens_per_s_ratio", "default", "omp_wait_short_spin", "output_tokens_per_s"),
              ("lora_off_over_lora_enabled_tokens_per_s_ratio", "default", "lora_enabled_unused", "output_tokens_per_s"))
    measured = {name: entry["base"] | {"engine_start_s": entry.get("engine_start_s")} for name, entry in results.items() if "base" in entry}
    found = {name: round(measured[top][field] / measured[bottom][field], 3) for name, top, bottom, field in ratios
             if top in measured and bottom in measured and measured[bottom][field]}
    sums = {name: pair["output_tokens_per_s_sum"] for name, pair in pairs.items() if "output_tokens_per_s_sum" in pair}
    for other in (n for n in sums if n != "default" and "default" in sums):
        found[f"two_at_once_default_over_{other}_tokens_per_s_ratio"] = round(sums["default"] / sums[other], 3)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "benchmarks")
    parser.add_argument("--only", help="comma-separated generation variants to run (default: all)")
    parser.add_argument("--wall", default="", help=f"comma-separated whole commands to time: {', '.join(WALL_COMMANDS)}")
    args = parser.parse_args()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    result: dict[str, Any] = {"machine": machine(), "started_at": started, "wall": {}}
    path = args.out / f"bench-{started.replace(':', '')}.json"
    walls = list(filter(None, args.wall.split(",")))
    for name in (w for w in walls if w == "make-test"):  # first: the CI rehearsal
        result["wall"][name] = wall_in_fresh_clone(name)
        save(path, result)
    result["torch"] = torch_side()
    model = prepare_default_model(ROOT / ".cache")
    with tempfile.TemporaryDirectory() as folder:
        print("[bench] training", flush=True)
        result["training"], adapter = training(Path(folder) / "cache")
        save(path, result)
        merged = None
        if adapter is not None:
            from harness.adapter.merge import merged_model

            merged = merged_model(model, adapter, Path(folder) / "cache", result["torch"]["decision"]["dtype"])
        only = set(args.only.split(",")) if args.only else None
        result["generation"] = generation(model, result["torch"]["decision"]["dtype"], adapter, merged, only)
        save(path, result)
        if "emulated_avx2" in result["torch"]:
            result["avx2_view"] = avx2_view_side(model, Path(folder) / "avx2-view-cache")
            save(path, result)
    for name in (w for w in walls if w != "make-test"):
        result["wall"][name] = wall_in_fresh_clone(name)
        save(path, result)
    result["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    save(path, result)
    print(json.dumps(result, indent=2) + f"\nwritten to {path}")
    return 0


def save(path: Path, result: dict[str, Any]) -> None:
    """Write what has been measured so far (a bench cut short keeps its finished parts)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")


def wall_in_fresh_clone(name: str) -> dict[str, Any]:
    """Time one whole command in a fresh clone of this checkout's HEAD (second-compare reuses first-compare's clone)."""
    clone = Path(tempfile.gettempdir()) / "harness-bench-clone"
    if name != "second-compare":
        subprocess.run(["rm", "-rf", str(clone)], check=True)
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    shared = ROOT.parent / "shared"
    if shared.is_dir() and not (clone.parent / "shared").exists():
        (clone.parent / "shared").symlink_to(shared)
    return measure(WALL_COMMANDS[name], cwd=clone, env={"PIP_NO_CACHE_DIR": "1"} if name != "second-compare" else {})


if __name__ == "__main__":
    sys.exit(main())
