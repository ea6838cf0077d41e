"""How an adapter is served: dynamically (the engine applies the LoRA weights per request) or merged
into a copy of the base model. The one enum for `--serving`/`--verdict-serving`, the run
configuration, the serving plan and the summary; its members are their plain names in JSON and in
text, so run records read the same as before there was an enum.
"""

from __future__ import annotations

from enum import Enum


class AdapterServing(str, Enum):
    DYNAMIC = "dynamic"
    MERGED = "merged"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)
