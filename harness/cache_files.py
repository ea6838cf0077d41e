"""Files and folders in a cache that several processes share: one key hash, atomic writes, publishes, locks.

Two comparisons may run at once on one `--cache-dir`. Every cache entry is therefore made where no
reader looks and appears whole or not at all: a file is written to a unique temporary name in its
own folder, flushed to disk and renamed over the target (`write_text`); a folder is built under a
unique temporary name beside its target and renamed into place (`building`, `publish`), and when
another process published the same entry meanwhile, the existing one is kept and ours discarded
(or, where asked, ours replaces it). A crash leaves only a temporary name that no reader trusts;
each temporary name carries its owner (pid@host), and the next publish beside it removes the
remains of owners on this host that are no longer running (`sweep_abandoned`).
Work too expensive to do twice for one key (training an adapter, merging it) runs under an
inter-process lock (`key_lock`, fcntl.flock on a lock file beside the entry): the second process
says it waits, then finds the first one's result. `content_key` is the one hash of a cache key's
parts; `write_text` is also the one atomic writer of run folders and record files. This module
knows nothing of what the entries hold.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

from harness.errors import HarnessError

LOCKS = ".locks"
# `.<name>.<pid>@<host>-<8 hex>.<kind>`: a write, build or retired entry in progress, and who made it
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)@(?P<host>[A-Za-z0-9-]+)-[0-9a-f]{8}\.(?:tmp|building|retired)$")


def content_key(parts: Mapping[str, Any], digits: int = 16, compact: bool = False) -> str:
    """The first `digits` hex digits of the sha256 of the parts' canonical JSON (keys sorted).

    Two spellings exist because recorded keys must keep their values: the run caches (data, baseline,
    prompt choice) hash `json.dumps(sort_keys=True, default=str)`; adapters (`compact`) hash the
    compact, non-ASCII-preserving form over all 64 digits.
    """
    if compact:
        canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    else:
        canonical = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:digits]


def write_text(path: Path, text: str) -> None:
    """Write `text` to `path` atomically: a unique temporary file in the same folder, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(temporary_name(path.name, "tmp"))
    try:
        with temporary.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def temporary_folder(target: Path) -> Path:
    """A new, empty folder beside `target` under a unique name that no reader of `target` trusts."""
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_abandoned(target.parent)
    folder = target.with_name(temporary_name(target.name, "building"))
    folder.mkdir()
    return folder


def temporary_name(name: str, kind: str) -> str:
    """A unique hidden name for work in progress on `name`, naming its owner: `.<name>.<pid>@<host>-<hex>.<kind>`."""
    return f".{name}.{os.getpid()}@{host_name()}-{secrets.token_hex(4)}.{kind}"


def sweep_abandoned(folder: Path) -> list[Path]:
    """Remove the temporary files and folders in `folder` whose owner ran on this host and is gone (killed mid-write);
    return what was removed. Names of live owners, of other hosts sharing the folder, or of no known form are left alone."""
    removed = []
    for path in folder.glob(".*"):
        match = _TEMPORARY.match(path.name)
        if match is None or match["host"] != host_name() or process_running(int(match["pid"])):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


@functools.cache
def host_name() -> str:
    """This host's name as it appears in temporary names (letters, digits and dashes; read once per process)."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "localhost"


def process_running(pid: int) -> bool:
    """Whether a process with this pid exists here (a reused pid counts as running: its remains are kept)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def publish(built: Path, target: Path, replace: bool = False) -> bool:
    """Rename the finished folder `built` to `target`; True when ours is now the entry.

    When `target` already exists, the existing entry is kept and `built` discarded (False), unless
    `replace`: then the existing one is moved aside and removed, and ours takes its place.
    """
    _sync_folder(built)
    if replace and target.exists():
        retired = target.with_name(temporary_name(target.name, "retired"))
        try:
            target.rename(retired)
        except FileNotFoundError:
            pass  # another process retired it first
        else:
            shutil.rmtree(retired, ignore_errors=True)
    try:
        built.rename(target)
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
        shutil.rmtree(built, ignore_errors=True)
        return False
    return True


@contextmanager
def building(target: Path, replace: bool = False) -> Iterator[Path]:
    """Yield a temporary folder to fill; on success publish it as `target`, on error remove it. A link at
    `target` to something that does not exist is refused before any work: nothing could replace it."""
    if target.is_symlink() and not target.exists():
        raise HarnessError(f"{target} is a link to {os.readlink(target)}, which does not exist", "cache",
                           "remove the link, or point it at the folder")
    folder = temporary_folder(target)
    try:
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    publish(folder, target, replace)


def lock_path(target: Path) -> Path:
    """The lock file guarding `target`: `<parent>/.locks/<name>.lock` (never removed: removal would race)."""
    return target.parent / LOCKS / f"{target.name}.lock"


@contextmanager
def key_lock(target: Path, what: str, shared: bool = False) -> Iterator[bool]:
    """Hold the inter-process lock of `target` (exclusive, or `shared` among readers); yield whether we waited.

    When another process holds it, one line says so (`what` names the work, e.g. "training of
    adapter ab12") before blocking; the lock is released on exit, and by the OS if the process dies.
    """
    path = lock_path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    with path.open("a") as handle:
        waited = False
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"[cache] waiting for another run's {what} ({path})", flush=True)
            fcntl.flock(handle, mode)
            waited = True
        try:
            yield waited
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sync_folder(folder: Path) -> None:
    """Flush every file under `folder` to disk, so a published entry survives a power cut whole."""
    for path in folder.rglob("*"):
        if path.is_file():
            descriptor = os.open(path, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
