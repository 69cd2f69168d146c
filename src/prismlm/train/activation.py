"""Activation checkpointing for any SequenceLM that keeps its layers in `model.blocks`.

    checkpoint_blocks(model)          # every block's forward now runs under torch.utils.checkpoint
    saved = saved_tensor_bytes(lambda: loss_fn(model).backward())

Every prismlm model stores its layers as an `nn.ModuleList` named `blocks` (PrismLM, PrizmaSeqLM,
TransformerLM, SSMLM). `checkpoint_blocks` replaces each block's *instance* `forward` by a call to
`torch.utils.checkpoint.checkpoint(original_forward, ..., use_reentrant=False)`: the block keeps
its class, its parameters and its state-dict keys (so checkpoints and FSDP wrapping are
unaffected), nothing inside it is saved for backward, and its forward is recomputed during
backward instead. The non-reentrant variant accepts any arguments and outputs (PrismLM's blocks
take and return tape threads and states) and restores the RNG state, so the recomputation matches
the first pass and gradients are unchanged. Outside training (eval, decoding, no_grad) the
original forward runs directly.

`saved_tensor_bytes` measures what autograd keeps for backward (the activation memory) with
`torch.autograd.graph.saved_tensors_hooks`: deterministic on any device, unlike timing or RSS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

_ORIGINAL = "_prismlm_unchecked_forward"


def model_blocks(model: nn.Module) -> nn.ModuleList:
    """The model's `blocks` ModuleList; TypeError naming the model when it has none."""
    blocks = getattr(model, "blocks", None)
    if not isinstance(blocks, nn.ModuleList) or len(blocks) == 0:
        raise TypeError(
            f"invalid config field 'activation_checkpointing': {type(model).__name__} has no "
            "non-empty `blocks` ModuleList to checkpoint"
        )
    return blocks


def _checkpointed(block: nn.Module, forward: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        if block.training and torch.is_grad_enabled():
            return checkpoint(forward, *args, use_reentrant=False, **kwargs)
        return forward(*args, **kwargs)

    return run


def checkpoint_blocks(model: nn.Module) -> nn.Module:
    """Run every block of `model` under activation checkpointing (idempotent); returns model."""
    for block in model_blocks(model):
        if _ORIGINAL in block.__dict__:
            continue
        forward = block.forward
        object.__setattr__(block, _ORIGINAL, forward)
        object.__setattr__(block, "forward", _checkpointed(block, forward))
    return model


def uncheckpoint_blocks(model: nn.Module) -> nn.Module:
    """Undo `checkpoint_blocks`; returns model."""
    for block in model_blocks(model):
        if _ORIGINAL in block.__dict__:
            object.__delattr__(block, "forward")
            object.__delattr__(block, _ORIGINAL)
    return model


def is_checkpointed(model: nn.Module) -> bool:
    blocks = getattr(model, "blocks", None)
    return isinstance(blocks, nn.ModuleList) and any(_ORIGINAL in b.__dict__ for b in blocks)


def saved_tensor_bytes(fn: Callable[[], Any]) -> int:
    """Bytes of the distinct tensor storages autograd saves for backward while `fn` runs.

    Tensors that share a storage (views, the same weight saved twice) are counted once, so the
    figure is the activation memory a forward holds until its backward, excluding the tensors
    that checkpointing's own hooks hold (its inputs, which the caller holds anyway).
    """
    seen: dict[tuple[str, int], int] = {}
    alive: list[torch.Tensor] = []  # held until the end, so no address is reused and recounted

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        seen[(str(t.device), storage.data_ptr())] = storage.nbytes()
        alive.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    alive.clear()
    return sum(seen.values())
