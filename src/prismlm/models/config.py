"""Config plumbing shared by every model: validation helpers, JSON round-trip, fingerprints."""

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


def fingerprint(obj: Any) -> str:
    """Stable 16-hex-digit hash of a config (dataclass or JSON-able structure).

    Used as the key of every cached or resumed result, so two configs that differ in any field
    never share a key.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = config_to_dict(obj)
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def require_lm_shape(config: Any) -> None:
    """Checks every language-model config shares: vocab_size, d_model, n_layers, n_heads
    (dividing d_model), d_ff (None or ≥ 1) and max_len."""
    for name, low in (("vocab_size", 2), ("d_model", 1), ("n_layers", 1), ("n_heads", 1), ("max_len", 1)):
        value = getattr(config, name)
        require(value >= low, name, f"must be >= {low}, got {value}")
    require(
        config.d_model % config.n_heads == 0, "n_heads",
        f"d_model {config.d_model} is not divisible by n_heads {config.n_heads}",
    )
    require(config.d_ff is None or config.d_ff >= 1, "d_ff", f"must be >= 1, got {config.d_ff}")
