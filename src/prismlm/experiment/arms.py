"""Model arms by name: an arm is plain data that resolves to a model config.

    config = resolve_arm({"model": "prizma-quad2", "d_model": 64, "n_layers": 2, "n_heads": 2},
                         vocab_size=512, max_len=392)      # a PrizmaSeqConfig, every field set
    model = build_model(config)                            # prismlm.models.build_model

Names:
- "prizma-quad2", "prizma-none", "prizma-rand_linear": Prizma-Seq with that feature map;
- "prism", "ssm": PrismLM and SSMLM (PrismConfig / SSMConfig fields);
- "transformer": by default parameter-matched (models.matching.match_transformer) to another arm:
  `"match_to"` is that arm (a dict with "model"), or, without "model", extra Prizma-Seq fields of
  the prizma-quad2 model of the same d_model/n_layers/n_heads (spec §3, e.g. learned_pos). With
  `"match": false` it uses the default FFN ratio (the parameter-efficiency grid sizes it so).

Every other key goes to the model config; a key the config does not have is an error naming it.
The resolved config, not the arm dict, is what a sweep hashes and records, so a changed default
in a config class changes the cache key. Other areas add arms with `register_arm`.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

from ..config import require
from ..models import PrismConfig, PrizmaSeqConfig, SSMConfig, TransformerConfig, build_model
from ..models.base import SequenceLM
from ..models.matching import match_transformer

ArmResolver = Callable[[dict[str, Any], int, int], Any]  # (fields, vocab_size, max_len) -> config
ARMS: dict[str, ArmResolver] = {}


def register_arm(name: str) -> Callable[[ArmResolver], ArmResolver]:
    """Decorator: `fn(fields, vocab_size, max_len) -> model config` becomes the arm `name`."""

    def deco(fn: ArmResolver) -> ArmResolver:
        ARMS[name] = fn
        return fn

    return deco


def _config(cls: type, fields: dict[str, Any], **fixed: Any) -> Any:
    known = {f.name for f in dataclasses.fields(cls)}
    for key in fields:
        require(key in known, f"arm.{key}", f"{cls.__name__} has no such field")
    return cls(**{**fields, **fixed})


def _prizma(feat_map: str) -> ArmResolver:
    def resolve(fields: dict[str, Any], vocab_size: int, max_len: int) -> PrizmaSeqConfig:
        require("feat_map" not in fields, "arm.feat_map", "is set by the arm name")
        return _config(
            PrizmaSeqConfig, {"max_len": max_len, **fields}, vocab_size=vocab_size, feat_map=feat_map
        )

    return resolve


for _fm in ("quad2", "none", "rand_linear"):
    register_arm(f"prizma-{_fm}")(_prizma(_fm))


def _plain(cls: type) -> ArmResolver:
    def resolve(fields: dict[str, Any], vocab_size: int, max_len: int) -> Any:
        return _config(cls, {"max_len": max_len, **fields}, vocab_size=vocab_size)

    return resolve


register_arm("prism")(_plain(PrismConfig))
register_arm("ssm")(_plain(SSMConfig))


@register_arm("transformer")
def _transformer(fields: dict[str, Any], vocab_size: int, max_len: int) -> TransformerConfig:
    fields = dict(fields)
    match = fields.pop("match", True)
    match_to = dict(fields.pop("match_to", {}))
    cfg = _config(TransformerConfig, {"max_len": max_len, **fields}, vocab_size=vocab_size)
    if not match or "d_ff" in fields:
        return cfg
    if "model" not in match_to:  # Prizma-Seq fields: match the quad2 model of the same dims
        dims = {k: fields[k] for k in ("d_model", "n_layers", "n_heads") if k in fields}
        match_to = {"model": "prizma-quad2", **dims, **match_to}
    target = resolve_arm(match_to, vocab_size, max_len)
    if not hasattr(target, "n_heads"):
        # match_transformer reads the head count off the target; a headless target (PRISM, SSM)
        # gets this Transformer's, on a copy so the target config itself is left as it was.
        target = copy.copy(target)
        target.n_heads = cfg.n_heads
    matched = match_transformer(target, max_len)
    for dim in ("d_model", "n_layers", "n_heads"):  # only the FFN width is matched
        require(
            getattr(matched, dim) == getattr(cfg, dim), "arm.match_to", f"must have this Transformer's {dim}"
        )
    return dataclasses.replace(cfg, d_ff=matched.d_ff)


def resolve_arm(arm: dict[str, Any], vocab_size: int, max_len: int) -> Any:
    """The model config an arm describes, sized for a task's vocabulary and longest sequence."""
    require(isinstance(arm, dict), "arm", f"must be a dict, got {type(arm).__name__}")
    fields = dict(arm)
    name = fields.pop("model", None)
    fields.pop("label", None)
    require(name in ARMS, "model", f"unknown model {name!r}; known: {sorted(ARMS)}")
    return ARMS[name](fields, vocab_size, max_len)


def build_arm(arm: dict[str, Any], vocab_size: int, max_len: int) -> SequenceLM:
    """`build_model(resolve_arm(arm, vocab_size, max_len))`."""
    return build_model(resolve_arm(arm, vocab_size, max_len))


def arm_label(arm: dict[str, Any]) -> str:
    """Short display name: the explicit label, else model + dims."""
    if "label" in arm:
        return str(arm["label"])
    dims = "".join(
        f"{p}{arm[k]}" for k, p in (("d_model", "d"), ("n_layers", "L"), ("n_heads", "H")) if k in arm
    )
    return f"{arm['model']}" + (f" {dims}" if dims else "")
