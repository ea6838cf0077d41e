"""Decide, once per run, the device and the floating-point precision every stage computes in.

bfloat16 only where the hardware computes it natively: a CUDA device that supports it, or a CPU
that torch reports with AVX512-BF16 or AMX tiles *and* whose bfloat16 matmul is confirmed fast by
a short probe (a small matmul in each dtype, best of three interleaved rounds, about half a
second; one round where torch already reports no native bf16, since there is nothing to confirm and
the figures are only recorded). Otherwise float32 on the CPU and float16 on a CUDA device without bf16. Given a cache
folder, the hardware verdict (native or not, and the probe behind it) is remembered per machine
(host, CPU model and flags, torch version and capability, GPU) in `<cache>/precision/`, so every
run and every resume on one machine computes in the same dtype even when a probe taken under load
would have read differently; deleting the file makes the next run probe again. An explicit `--dtype` overrides the choice: bfloat16 where it is not
native runs (the user asked) with one warning line quoting the probe; float16 on the CPU and
unknown names are user errors. The decision carries the CPU's model and relevant flags and the
probe's figures so that summary.json, the adapter manifest and the report can state them. This
module knows torch, /proc/cpuinfo and its memo file; it knows nothing of models, engines or training.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.cache_files import content_key, host_name, write_text
from harness.errors import HarnessError

DTYPES = ("auto", "float32", "bfloat16", "float16")
DEVICES = ("auto", "cpu", "cuda")
RELEVANT_CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile", "fma")
PROBE_SHAPE = (256, 576, 768)  # rows x inner x columns: one decoder-projection-sized matmul
PROBE_SECONDS = 0.08
PROBE_ROUNDS = 3  # interleaved float32/bfloat16 rounds confirming native bf16; each dtype's best round counts (load only slows a round)
PRECISION_MEMO = "precision"
# bf16 counts as native only when its matmul is at least this fraction of float32's speed.
NATIVE_BF16_MIN_RATIO = 0.5


@dataclass(frozen=True)
class MatmulProbe:
    """GFLOP/s of a float32 and a bfloat16 matmul of `shape` on the decided device."""

    shape: tuple[int, int, int]
    float32_gflops: float
    bfloat16_gflops: float
    seconds: float
    rounds: int = PROBE_ROUNDS  # memos written before rounds were recorded had three

    @property
    def bf16_ratio(self) -> float:
        return self.bfloat16_gflops / self.float32_gflops if self.float32_gflops else 0.0

    def describe(self) -> str:
        return (f"matmul probe {self.shape[0]}x{self.shape[1]}@{self.shape[1]}x{self.shape[2]}: float32 "
                f"{self.float32_gflops:.1f} GFLOP/s, bfloat16 {self.bfloat16_gflops:.1f} GFLOP/s")


@dataclass(frozen=True)
class PrecisionDecision:
    """The device and dtype of a run, why, and the hardware facts behind it (recorded whole)."""

    device: str
    dtype: str
    requested: str
    native_bf16: bool
    reason: str
    cpu: dict[str, Any] = field(default_factory=dict)
    torch_capability: str = ""
    gpu: str | None = None
    probe: MatmulProbe | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def hardware(self) -> dict[str, Any]:
        """What a latency measured on this machine depends on: the CPU model, its core count and the GPU (None on the CPU)."""
        return {"cpu": self.cpu.get("model"), "cores": self.cpu.get("cores"), "gpu": self.gpu}


def decide_precision(device: str = "auto", requested: str = "auto", warn: Any = None, memo_dir: Path | None = None) -> PrecisionDecision:
    """The run's device and dtype from the hardware (auto) or the user's override, checked.

    With `memo_dir` (the cache), the hardware verdict is read from this machine's memo when there is
    one and written there when it was probed.
    """
    if requested not in DTYPES:
        raise HarnessError(f"unknown dtype '{requested}'", "--dtype", f"use one of {', '.join(DTYPES)}")
    device = resolve_device(device)
    if requested == "float16" and device == "cpu":
        raise HarnessError("float16 is not a CPU precision here (no native fp16 kernels in torch or vLLM's CPU backend)", "--dtype",
                           "use --dtype auto, float32 or bfloat16")
    import torch

    cpu, capability = cpu_description(), torch.backends.cpu.get_cpu_capability()
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else None
    native, why, probe = hardware_verdict(device, {"cpu": cpu, "capability": capability, "gpu": gpu}, memo_dir)
    if requested == "auto":
        dtype = "bfloat16" if native else ("float16" if device == "cuda" else "float32")
        reason = f"auto: {why}"
    else:
        dtype, reason = requested, f"--dtype {requested} (auto would say: {why})"
        if requested == "bfloat16" and not native:
            print(f"warning: --dtype bfloat16 on hardware without native bfloat16 will be slow ({probe.describe()})", file=warn or sys.stderr, flush=True)
    return PrecisionDecision(device, dtype, requested, native, reason, cpu, capability, gpu, probe)


def hardware_verdict(device: str, machine: dict[str, Any], memo_dir: Path | None) -> tuple[bool, str, MatmulProbe]:
    """Whether `device` computes bfloat16 natively, why, and the probe: this machine's memo, or probed now."""
    import torch

    memo = None
    if memo_dir is not None:
        key = content_key({"host": host_name(), "device": device, "torch": torch.__version__, **machine})
        memo = memo_dir / PRECISION_MEMO / f"{key}.json"
        remembered = _read_memo(memo)
        if remembered is not None:
            return remembered
    # Three rounds confirm what torch reports; where it reports no native bf16 one round records the figures.
    probe = probe_matmul(device, PROBE_ROUNDS if device == "cuda" or native_cpu_flags() else 1)
    native, why = native_bf16(device, probe)
    if memo is not None:
        write_text(memo, json.dumps({"native_bf16": native, "why": why, "probe": asdict(probe), "probed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=2))
    return native, why, probe


def _read_memo(memo: Path) -> tuple[bool, str, MatmulProbe] | None:
    """A remembered verdict, or None when there is none or it cannot be read (then the probe runs again)."""
    try:
        recorded = json.loads(memo.read_text())
        probe = MatmulProbe(**{**recorded["probe"], "shape": tuple(recorded["probe"]["shape"])})
        why = f"{recorded['why']}; probed {recorded['probed_at']}, remembered in {memo}"
        return bool(recorded["native_bf16"]), why, probe
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"warning: ignoring an unreadable precision memo {memo} ({error}); probing again", file=sys.stderr, flush=True)
        return None


def resolve_device(device: str) -> str:
    """'cuda' when torch sees a GPU (or it was asked for and is there), else 'cpu'."""
    if device not in DEVICES:
        raise HarnessError(f"unknown device '{device}'", "--device", "use auto, cpu or cuda")
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise HarnessError("CUDA was asked for but torch sees no GPU", "--device", "drop --device (or pass --device cpu)")
    return device


def native_bf16(device: str, probe: MatmulProbe) -> tuple[bool, str]:
    """Whether `device` computes bfloat16 natively, by torch's capability query confirmed by the probe."""
    import torch

    if device == "cuda":
        supported = torch.cuda.is_bf16_supported()
        return supported, f"CUDA device {'supports' if supported else 'lacks'} bfloat16"
    flags = native_cpu_flags()
    if not flags:
        return False, "torch reports neither AVX512-BF16 nor AMX on this CPU, so bfloat16 is emulated; float32 is used"
    if probe.bf16_ratio < NATIVE_BF16_MIN_RATIO:
        return False, f"torch reports {'+'.join(flags)} but the probe's bfloat16 matmul is {probe.bf16_ratio:.2f}x float32"
    return True, f"torch reports {'+'.join(flags)} and the probe's bfloat16 matmul is {probe.bf16_ratio:.2f}x float32"


def native_cpu_flags() -> list[str]:
    """The native-bf16 features torch reports for this CPU (AVX512-BF16, AMX tiles); empty when none."""
    import torch

    return [name for name, query in (("avx512_bf16", "_is_avx512_bf16_supported"), ("amx_tile", "_is_amx_tile_supported"))
            if getattr(torch.cpu, query, lambda: False)()]


def probe_matmul(device: str, rounds: int = PROBE_ROUNDS) -> MatmulProbe:
    """Time a small float32 and bfloat16 matmul on `device`, `rounds` interleaved rounds of about
    PROBE_SECONDS each; each dtype's fastest round is its rate, so a busy moment cannot flip the ratio."""
    import torch

    started = time.perf_counter()
    rates: dict[str, float] = {"float32": 0.0, "bfloat16": 0.0}
    for _ in range(rounds):
        for name, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
            rates[name] = max(rates[name], _gflops(torch, dtype, device))
    return MatmulProbe(PROBE_SHAPE, round(rates["float32"], 2), round(rates["bfloat16"], 2), round(time.perf_counter() - started, 3), rounds)


def _gflops(torch: Any, dtype: Any, device: str) -> float:
    rows, inner, columns = PROBE_SHAPE
    generator = torch.Generator(device="cpu").manual_seed(0)
    left = torch.randn(rows, inner, generator=generator).to(device=device, dtype=dtype)
    right = torch.randn(inner, columns, generator=generator).to(device=device, dtype=dtype)
    left @ right  # warm-up: kernel selection and first-touch allocation
    runs, started = 0, time.perf_counter()
    while True:
        left @ right
        runs += 1
        if device == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - started
        if elapsed >= PROBE_SECONDS:
            return 2 * rows * inner * columns * runs / elapsed / 1e9


def cpu_description(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, Any]:
    """The CPU's model name, logical core count and which of the precision-relevant flags it has."""
    import os
    import platform

    model, flags = platform.processor() or platform.machine(), set()
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    return {"model": model, "cores": os.cpu_count(), "flags": {name: name in flags for name in RELEVANT_CPU_FLAGS}}


def torch_dtype(name: str) -> Any:
    """The torch dtype named by a decision's `dtype`."""
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]
