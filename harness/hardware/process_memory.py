"""Resident memory of a process and all its descendants, read from /proc.

vLLM's engine core and workers, where it starts them as processes (a server; an engine on CUDA), are
child processes of whoever started them, so a process's own RSS undercounts what serving or a whole command holds; `tree_rss_bytes` sums the tree. Pages
shared between processes of the tree are counted in each (an upper bound). Standard library only:
the benchmark's `tests/benchmark/wall.py` uses it before `.venv` exists. It knows nothing of engines or commands.
"""

from __future__ import annotations

import os
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


def children_of() -> dict[int, list[int]]:
    """Every live process's children, by parent pid."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(parent, []).append(int(entry))
    return tree


def tree_rss_bytes(root: int) -> int:
    """Resident memory of a process and all its descendants now (0 when it has exited)."""
    tree, total, stack = children_of(), 0, [root]
    while stack:
        pid = stack.pop()
        stack.extend(tree.get(pid, []))
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total
