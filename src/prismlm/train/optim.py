"""The trainer's AdamW: one group, or decay on weight matrices only.

decay_scope="all" (spec §5's diagnostic trainer): weight decay on every parameter.
decay_scope="matrices" (the scaled recipe): decay only on parameters with ndim >= 2 that are not
an embedding table and do not belong to a normalisation layer; norms' gains, biases, scalars and
embeddings (the tied output head included, since it is the embedding) get weight decay 0.

On CUDA the fused AdamW kernel is used (one launch per step instead of one per tensor); on CPU
the default implementation, so CPU runs are reproducible across machines.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import TrainConfig


def _is_norm(module: nn.Module) -> bool:
    return isinstance(module, nn.LayerNorm | nn.GroupNorm | nn.RMSNorm) or "Norm" in type(module).__name__


def no_decay_names(model: nn.Module) -> set[str]:
    """Names (as in `named_parameters`) of the parameters exempt from decay under "matrices"."""
    exempt: set[str] = set()
    for mod_name, module in model.named_modules():
        special = isinstance(module, nn.Embedding) or _is_norm(module)
        for p_name, p in module.named_parameters(recurse=False):
            if special or p.ndim < 2:
                exempt.add(f"{mod_name}.{p_name}" if mod_name else p_name)
    return exempt


def param_groups(model: nn.Module, config: TrainConfig) -> list[dict]:
    """AdamW parameter groups for `config.decay_scope` (empty groups left out)."""
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if config.decay_scope == "all":
        return [{"params": [p for _, p in params], "weight_decay": config.weight_decay}]
    exempt = no_decay_names(model)
    decay = [p for n, p in params if n not in exempt]
    keep = [p for n, p in params if n in exempt]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": keep, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def build_optimizer(model: nn.Module, config: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW(lr, betas) over `param_groups`, fused on CUDA. Build it after any FSDP wrapping."""
    extra = {"fused": True} if device.type == "cuda" else {}
    return torch.optim.AdamW(param_groups(model, config), lr=config.lr, betas=config.betas, **extra)
