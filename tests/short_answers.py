"""A project root whose candidates stop after a few tokens, for tests that prove mechanics, not quality.

The crash-resume and concurrency tests run whole `harness compare` processes to prove that runs
resume, share a cache and leave nothing behind; the answers' quality is not what they check. The
shipped candidates allow 200 new tokens, and the embedded model given a bare prompt rambles up to
that bound, so most of those tests' serving time was spent on text nobody reads. This root keeps
the real tasks (a symlink) and copies each shipped candidate with only `decoding.max_tokens`
lowered; `--root` is the product's own option for a project folder of tasks and candidates.
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def short_answer_root(folder: Path, max_tokens: int) -> Path:
    """A root under `folder` with the project's tasks and its candidates capped at `max_tokens` new tokens."""
    folder.mkdir(parents=True)
    (folder / "tasks").symlink_to(ROOT / "tasks")
    (folder / "candidates").mkdir()
    for shipped in sorted((ROOT / "candidates").glob("*.yaml")):
        spec = yaml.safe_load(shipped.read_text())
        spec["decoding"]["max_tokens"] = max_tokens
        (folder / "candidates" / shipped.name).write_text(yaml.safe_dump(spec, sort_keys=False))
    return folder
