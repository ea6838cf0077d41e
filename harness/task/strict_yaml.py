"""Strict YAML into frozen dataclasses, and back to JSON-ready values.

`read_yaml` parses a file and names the file and line in any error; `build` turns a mapping into a
dataclass by its type hints, rejecting unknown keys, missing keys and wrong types with a
`HarnessError` that names `file: field.path`; `to_dict` is the inverse for the run record. It knows
no spec in particular: `harness.task.specs` declares them.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml

from harness.errors import HarnessError


def build(cls: type, raw: Any, where: str) -> Any:
    """Build dataclass `cls` from a mapping, rejecting unknown keys and wrong types."""
    if not isinstance(raw, Mapping):
        raise HarnessError(f"expected a mapping, got {type(raw).__name__}", where)
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise HarnessError(f"unknown key(s) {unknown}", where, f"allowed keys: {sorted(known)}")
    values = {key: coerce(hints[key], value, child(where, key)) for key, value in raw.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise HarnessError(f"missing required key: {exc}", where) from None


def child(where: str, key: str) -> str:
    """`file: field.path` — the first key after a file name follows ': ', deeper ones a dot."""
    return f"{where}.{key}" if ": " in where else f"{where}: {key}"


def coerce(hint: Any, value: Any, where: str) -> Any:
    """Check `value` against a type hint, converting lists to tuples and mappings to dataclasses."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return coerce(next(a for a in args if a is not type(None)), value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise HarnessError(f"expected a list, got {value!r}", where)
        return tuple(coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (collections.abc.Mapping, dict) or hint is Mapping:
        if not isinstance(value, Mapping):
            raise HarnessError(f"expected a mapping, got {value!r}", where)
        return {str(k): coerce(args[1], v, child(where, str(k))) if args else v for k, v in value.items()}
    if hint is Any:
        return value
    if origin is Literal:
        if value not in args:
            raise HarnessError(f"expected one of {list(args)}, got {value!r}", where)
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise HarnessError(f"expected {hint.__name__}, got {value!r}", where)
    return value


def read_yaml(path: Path) -> Any:
    """Parse a YAML file, naming the file in any error."""
    if not path.is_file():
        raise HarnessError("file not found", str(path))
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise HarnessError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", str(path), "save the file as UTF-8") from None
    except yaml.YAMLError as exc:
        raise HarnessError(yaml_problem(exc), yaml_place(path, exc), "fix the YAML syntax there") from None


def yaml_place(path: Path, exc: yaml.YAMLError) -> str:
    """`file:line` of a YAML error (the file alone when the parser gave no position)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return f"{path}:{mark.line + 1}" if mark is not None else str(path)


def yaml_problem(exc: yaml.YAMLError) -> str:
    """The parser's complaint in one line, without its multi-line excerpt and caret."""
    parts = [getattr(exc, "context", None), getattr(exc, "problem", None)]
    words = "; ".join(p for p in parts if p) or str(exc).splitlines()[0]
    return f"not valid YAML: {words}"


def to_dict(spec: Any) -> Any:
    """A JSON-ready copy of a spec (paths as strings), for the run record; a field whose metadata says
    `absent_when_none` is left out while it is None (a section a run did not record)."""
    if dataclasses.is_dataclass(spec):
        return {f.name: to_dict(getattr(spec, f.name)) for f in dataclasses.fields(spec)
                if not (f.metadata.get("absent_when_none") and getattr(spec, f.name) is None)}
    if isinstance(spec, Mapping):
        return {str(k): to_dict(v) for k, v in spec.items()}
    if isinstance(spec, (list, tuple)):
        return [to_dict(v) for v in spec]
    return str(spec) if isinstance(spec, Path) else spec
