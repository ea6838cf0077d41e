"""The one error type for user mistakes and broken inputs.

A `HarnessError` says what went wrong, where (a file and field, or a command option) and how to fix
it; the CLI prints it on one line without a traceback and exits 2. Per-example failures (an
unparseable output, a timed-out request) are data, not errors, and never raise this. This module
knows nothing about tasks, engines or the CLI.
"""

from __future__ import annotations


class HarnessError(Exception):
    """A user-facing failure: `what` happened at `where`; `fix` says what to do about it."""

    def __init__(self, what: str, where: str = "", fix: str = "") -> None:
        self.what, self.where, self.fix = what, where, fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        place = f"{self.where}: " if self.where else ""
        hint = f" ({self.fix})" if self.fix else ""
        return f"{place}{self.what}{hint}"
