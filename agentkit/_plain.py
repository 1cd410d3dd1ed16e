"""Dataclasses as plain dicts, as `dataclasses.asdict` makes them, at a fraction of its cost.

Transcripts turn several events a step into JSON. `dataclasses.asdict` looks up each
object's fields anew and deep-copies every string and number it meets; this reads each
class's field names once and takes immutable scalars as they are. The result is the same:
new dicts for dataclasses and dicts, new lists and tuples, copies of anything else.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

__all__ = ["as_plain"]

_SCALARS = frozenset({str, int, float, bool, type(None)})


_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _field_names(kind: type) -> tuple[str, ...] | None:
    """The fields of a dataclass, in order (None: not a dataclass)."""
    try:
        return _FIELDS[kind]
    except KeyError:
        names = tuple(f.name for f in dataclasses.fields(kind)) if dataclasses.is_dataclass(kind) else None
        _FIELDS[kind] = names
        return names


def as_plain(value: Any) -> Any:
    """`value` as `dataclasses.asdict` would turn it (a dataclass instance into a dict, its
    fields recursively; any other value the same way `asdict` treats a field's value)."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    names = _field_names(kind)
    if names is not None:
        return {name: as_plain(getattr(value, name)) for name in names}
    if kind is list or kind is tuple:
        return kind([as_plain(item) for item in value])
    if kind is dict:
        return {as_plain(key): as_plain(item) for key, item in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple
        return kind(*[as_plain(item) for item in value])
    if isinstance(value, (list, tuple)):
        return kind(as_plain(item) for item in value)
    if isinstance(value, dict):
        if hasattr(kind, "default_factory"):  # a defaultdict keeps its factory
            out = kind(value.default_factory)  # type: ignore[attr-defined]
            for key, item in value.items():
                out[as_plain(key)] = as_plain(item)
            return out
        return kind((as_plain(key), as_plain(item)) for key, item in value.items())
    return copy.deepcopy(value)
