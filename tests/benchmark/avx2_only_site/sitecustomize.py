"""Make torch report an AVX2-only CPU, for the benchmark's approximation of the slow CPU kind (tests/benchmark/wall.py).

Python imports this file at start-up when its folder is on PYTHONPATH. It changes nothing until
`torch.cpu` is imported; then `torch.cpu.get_capabilities()` reports every AVX-512 and AMX feature
absent. vLLM reads that report (`torch.cpu._is_avx512_supported()` and its kin) to load its AVX2
kernel library instead of the AVX-512 one, and the harness's precision decision reads it to choose
float32. ATEN_CPU_CAPABILITY=avx2 and ONEDNN_MAX_CPU_ISA=AVX2, set beside it, restrict torch's own
kernels. Development tooling only: nothing in `harness/` imports it.
"""

import importlib.abc
import sys
from types import MappingProxyType


class _AVX2OnlyTorchCPU(importlib.abc.MetaPathFinder):
    """Finds `torch.cpu` with the other finders, then wraps its loading so the capability report is filtered."""

    def find_spec(self, name, path, target=None):
        if name != "torch.cpu":
            return None
        for finder in sys.meta_path:
            spec = None if finder is self else finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            reported = module.get_capabilities

            def avx2_only():
                return MappingProxyType({key: False if key.startswith(("avx512", "amx")) and value is True else value
                                         for key, value in reported().items()})

            module.get_capabilities = avx2_only

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _AVX2OnlyTorchCPU())
