"""Model arms by name, so a sweep can list models as plain data.

    build_arm({"model": "prizma-quad2", "d_model": 64, "n_layers": 2, "n_heads": 2},
              vocab_size=512, max_len=392)

Names: "prizma-quad2", "prizma-none", "prizma-rand_linear" (Prizma-Seq with that feature map)
and "transformer" — by default parameter-matched to the Prizma-Seq model of the same
d_model/n_layers/n_heads (plus any Prizma fields in "match_to", e.g. learned_pos; spec §3);
with "match": false it uses the default FFN ratio, which is how the parameter-efficiency grid
sizes it. Other keys go to the model config; a key the config
does not have is an error naming it. Other areas add arms with `register_arm`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ..config import require
from ..models.base import SequenceLM

ArmBuilder = Callable[[dict[str, Any], int, int], SequenceLM]
ARMS: dict[str, ArmBuilder] = {}


def register_arm(name: str) -> Callable[[ArmBuilder], ArmBuilder]:
    def deco(fn: ArmBuilder) -> ArmBuilder:
        ARMS[name] = fn
        return fn

    return deco


def _config(cls: type, fields: dict[str, Any], **fixed: Any) -> Any:
    known = {f.name for f in dataclasses.fields(cls)}
    for key in fields:
        require(key in known, f"arm.{key}", f"{cls.__name__} has no such field")
    return cls(**{**fields, **fixed})


def _prizma_config(fields: dict[str, Any], vocab_size: int, max_len: int, feat_map: str):
    from ..models.prizma_seq import PrizmaSeqConfig

    require("feat_map" not in fields, "arm.feat_map", "is set by the arm name")
    fields = {"max_len": max_len, **fields}
    return _config(PrizmaSeqConfig, fields, vocab_size=vocab_size, feat_map=feat_map)


def _prizma(feat_map: str) -> ArmBuilder:
    def build(fields: dict[str, Any], vocab_size: int, max_len: int) -> SequenceLM:
        from ..models.prizma_seq import PrizmaSeqLM

        return PrizmaSeqLM(_prizma_config(fields, vocab_size, max_len, feat_map))

    return build


for _fm in ("quad2", "none", "rand_linear"):
    register_arm(f"prizma-{_fm}")(_prizma(_fm))


@register_arm("transformer")
def _transformer(fields: dict[str, Any], vocab_size: int, max_len: int) -> SequenceLM:
    from ..models.matching import match_transformer
    from ..models.transformer import TransformerConfig, TransformerLM

    fields = dict(fields)
    match = fields.pop("match", True)
    match_to = fields.pop("match_to", {})  # extra Prizma-Seq fields of the model to match
    cfg = _config(TransformerConfig, {"max_len": max_len, **fields}, vocab_size=vocab_size)
    if match and "d_ff" not in fields:
        dims = {k: fields[k] for k in ("d_model", "n_layers", "n_heads") if k in fields}
        prizma = _prizma_config({**dims, **match_to}, vocab_size, max_len, "quad2")
        matched = match_transformer(prizma, max_len)
        cfg = dataclasses.replace(cfg, d_ff=matched.d_ff)
    return TransformerLM(cfg)


def build_arm(arm: dict[str, Any], vocab_size: int, max_len: int) -> SequenceLM:
    """The model an arm describes, sized for a task's vocabulary and longest sequence."""
    fields = dict(arm)
    name = fields.pop("model", None)
    fields.pop("label", None)
    require(name in ARMS, "model", f"unknown model {name!r}; known: {sorted(ARMS)}")
    return ARMS[name](fields, vocab_size, max_len)


def arm_label(arm: dict[str, Any]) -> str:
    """Short display name: the explicit label, else model + dims."""
    if "label" in arm:
        return str(arm["label"])
    dims = "".join(
        f"{p}{arm[k]}" for k, p in (("d_model", "d"), ("n_layers", "L"), ("n_heads", "H")) if k in arm
    )
    return f"{arm['model']}" + (f" {dims}" if dims else "")
