"""Config plumbing every layer shares: field validation, JSON round-trip, fingerprints.

A leaf module: it imports nothing from prismlm, so data tasks, the NumPy continual learner and
the knowledge base can validate their configs without loading the model zoo.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any, TypeVar

C = TypeVar("C")


def require(condition: bool, field: str, message: str) -> None:
    """Raise a ValueError naming the offending config field unless `condition` holds."""
    if not condition:
        raise ValueError(f"invalid config field '{field}': {message}")


def config_to_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as a plain JSON-ready dict, tagged with its class name."""
    return {"config_class": type(config).__name__, **dataclasses.asdict(config)}


def config_from_dict(cls: type[C], data: dict[str, Any]) -> C:
    """Rebuild a dataclass config from `config_to_dict` output; unknown fields are an error."""
    data = dict(data)
    tag = data.pop("config_class", cls.__name__)
    if tag != cls.__name__:
        raise ValueError(f"config was saved as {tag}, cannot load it as {cls.__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown fields for {cls.__name__}: {unknown}")
    return cls(**data)


def to_jsonable(obj: Any) -> Any:
    """Dataclasses (tagged with their class), tuples, sets and NumPy scalars/arrays as plain JSON data."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(config_to_dict(obj))
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, set | frozenset):
        return sorted(to_jsonable(v) for v in obj)
    if hasattr(obj, "tolist") and type(obj).__module__ == "numpy":
        return obj.tolist()  # np.ndarray and np.generic alike
    return obj


def fingerprint(obj: Any) -> str:
    """Stable 16-hex-digit hash of a config (dataclass or JSON-able structure).

    Used as the key of every cached or resumed result, so two configs that differ in any field
    never share a key. Pass *resolved* configs (every default filled in), never a name or a seed.
    """
    blob = json.dumps(to_jsonable(obj), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _accepts(kind: Any, value: Any) -> bool | None:
    """Whether `value` fits annotation `kind`; None when the annotation is not checked here."""
    import math
    import types
    import typing

    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        verdicts = [_accepts(k, value) for k in typing.get_args(kind)]
        return None if None in verdicts and not any(verdicts) else any(v for v in verdicts if v)
    if kind is type(None):
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:  # bool is an int subclass, and 5.5 steps is not a step count
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if kind is str:
        return isinstance(value, str)
    return None


def require_field_types(config: Any) -> None:
    """Check every int / float / bool / str (or `X | None`) field of a dataclass config against its
    annotation: no bools for ints, no 5.5 for an int, no NaN or inf for a float. Raises a ValueError
    naming the field; fields of other types are left to the config's own checks."""
    import typing

    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if _accepts(hints.get(f.name), value) is False:
            raise ValueError(
                f"invalid config field '{f.name}': expected {hints[f.name]}, got {value!r} "
                f"({type(value).__name__})"
            )
