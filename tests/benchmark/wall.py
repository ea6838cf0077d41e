"""Measure a command's wall time and peak memory (its whole process tree) and write them to a file.

`PYTHONPATH=. python3 tests/benchmark/wall.py --label NAME -- make compare TASK=contract_extraction` runs the
command, samples the resident memory of the command and every descendant (vLLM's engine runs in
child processes) once a second (harness.hardware.process_memory), and writes
reports/benchmarks/<label>-<time>.json with the machine it ran on. `--avx2-view` runs the command under
`avx2_view()`, an approximation of the slow CPU kind on an AVX-512 machine, and says so in the file.
Standard library only, so it can time a first run before `.venv` exists. It knows nothing of what the command does.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from harness.hardware.process_memory import tree_rss_bytes


AVX2_ONLY_SITE = Path(__file__).resolve().parent / "avx2_only_site"
AVX2_VIEW = ("torch's kernels restricted to AVX2 (ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2) and torch's CPU-capability "
             "report filtered to AVX2 (tests/benchmark/avx2_only_site), so vLLM loads its AVX2 kernel library and the precision "
             "decision picks float32; the CPU itself (clock, caches, memory bandwidth, microarchitecture) is this machine's")


def avx2_view() -> dict[str, str]:
    """The environment that approximates the slow CPU kind (AVX2 only, no native bfloat16) on an AVX-512 machine."""
    path = os.pathsep.join(filter(None, [str(AVX2_ONLY_SITE), os.environ.get("PYTHONPATH")]))
    return {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "PYTHONPATH": path}


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)
    return f"{platform.machine()}, {os.cpu_count()} CPU cores, {memory:.0f} GiB memory, {platform.platform()}"


def measure(command: list[str], interval_s: float = 1.0, cwd: Path | None = None, env: dict[str, str] | None = None) -> dict:
    """Run `command` (in `cwd`, with `env` added) and return its wall time and peak process-tree memory."""
    started, peak = time.monotonic(), 0
    process = subprocess.Popen(command, cwd=cwd, env=os.environ | (env or {}))
    while process.poll() is None:
        peak = max(peak, tree_rss_bytes(process.pid))
        time.sleep(interval_s)
    return {"command": command, "cwd": str(cwd) if cwd else None, "exit_code": process.returncode, "wall_seconds": round(time.monotonic() - started, 1),
            "peak_tree_rss_bytes": peak, "peak_tree_rss_gib": round(peak / (1 << 30), 2), "sample_interval_s": interval_s,
            "machine": machine(), "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True, help="name of the measurement, e.g. first-compare")
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks"), help="folder for the results file")
    parser.add_argument("--avx2-view", action="store_true", help="run the command under the AVX2 approximation of the slow CPU kind")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to measure, after --")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    result = measure(command, env=avx2_view() if args.avx2_view else None) | {"label": args.label}
    if args.avx2_view:
        result["cpu_view"] = AVX2_VIEW
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{args.label}-{result['finished_at'].replace(':', '')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2) + f"\nwritten to {path}")
    return result["exit_code"]


if __name__ == "__main__":
    sys.exit(main())
