"""Modular pretraining: single-kind PRISM models, then one full model assembled from their experts.

    neural = PrismLM(modular_config(full_cfg, "neural"))      # trained on its own mix
    ...
    model = assemble(full_cfg, {"neural": neural, "memory": memory, "symbolic": symbolic})
    freeze_experts(model)                                      # optional: router/MRB/embeddings learn

`assemble` copies, in every block b, the expert of kind k from block b of the kind-k source,
finding both by kind (`block.kinds.index(k)`), never by a global index: the full model's last
block has no memory expert, so its symbolic expert sits at index 1 there, which is where the
reference's index-based copy goes wrong (it leaves the last block's symbolic expert at init).
Everything else (embeddings, MRB, routers, norms, tape_init) keeps the full model's fresh init, as
in the reference; a kind without a source keeps its init too.
"""

from __future__ import annotations

import dataclasses

import torch

from ..models.prism import EXPERT_KINDS, PrismConfig, PrismLM

# the fields a source must share with the full model for its experts to fit
SHAPE_FIELDS = ("d_model", "n_layers", "d_mem", "num_slots", "memory_kind")
PHASES = (*EXPERT_KINDS, "assemble")


def modular_config(base: PrismConfig, kind: str) -> PrismConfig:
    """The single-kind model of one modular phase: only `kind`, top-1 (a memory-only model keeps
    memory in its last block, see `PrismConfig.block_kinds`)."""
    if kind not in EXPERT_KINDS:
        raise ValueError(f"invalid config field 'modular_phase': {kind!r} is not one of {list(EXPERT_KINDS)}")
    return dataclasses.replace(base, expert_types=(kind,), top_k=1)


def expert_of(model: PrismLM, block: int, kind: str) -> torch.nn.Module | None:
    """The expert of `kind` in block `block`, found by kind; None when that block has none."""
    blk = model.blocks[block]
    return blk.experts[blk.kinds.index(kind)] if kind in blk.kinds else None


def assemble(full: PrismConfig, sources: dict[str, PrismLM]) -> PrismLM:
    """A fresh full model whose experts are copied, by kind and block, from the single-kind sources."""
    model = PrismLM(full)
    for kind, src in sources.items():
        if kind not in full.expert_types:
            raise ValueError(f"invalid config field 'expert_types': the full model has no {kind!r} expert")
        for name in SHAPE_FIELDS:
            if getattr(src.config, name) != getattr(full, name):
                raise ValueError(
                    f"invalid config field '{name}': the {kind} source has {getattr(src.config, name)!r}, "
                    f"the full model {getattr(full, name)!r}"
                )
        for b in range(full.n_layers):
            target = expert_of(model, b, kind)
            if target is None:
                continue
            source = expert_of(src, b, kind)
            if source is None:
                raise ValueError(f"the {kind} source has no {kind} expert in block {b}")
            target.load_state_dict(source.state_dict())
    return model


def freeze_experts(model: PrismLM, kinds: tuple[str, ...] = EXPERT_KINDS) -> list[str]:
    """Stop gradients to the experts of `kinds` in every block; returns the frozen parameter names.
    AdamW skips parameters without a gradient, so frozen experts stay bit-identical."""
    frozen = []
    for b, blk in enumerate(model.blocks):
        for kind in kinds:
            expert = expert_of(model, b, kind)
            if expert is None:
                continue
            e = blk.kinds.index(kind)
            for name, p in expert.named_parameters():
                p.requires_grad_(False)
                frozen.append(f"blocks.{b}.experts.{e}.{name}")
    return frozen
