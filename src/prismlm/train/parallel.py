"""Data-parallel wrapping under torchrun: DDP or FSDP2, and their full-state checkpoints.

    net = wrap_model(model, info, config, device)   # the module the loop calls
    with grad_sync(net, model, info, config, last_micro): loss.backward()

DDP replicates the model and averages gradients in backward. FSDP2 (`fully_shard`) shards every
parameter, gradient and AdamW moment across ranks: each block is its own FSDP unit (all-gathered
just before it runs, freed after) and the root unit holds the rest (embedding, final norm).
Both average gradients over ranks, so with each rank's loss scaled as in distributed.py the update
equals the single-process update of the global batch.

Gradient accumulation: DDP skips the all-reduce on all but the last micro-batch (`no_sync`);
FSDP2 likewise skips the reduce-scatter (`set_requires_gradient_sync(False)`), accumulating
unsharded gradients locally until the last micro-batch.

Checkpoints under FSDP2 use `torch.distributed.checkpoint.state_dict`: every rank takes part in
gathering the full (unsharded) model and optimizer state to rank 0's CPU, which writes the same
safetensors + JSON checkpoint as a single process (so nothing is ever unpickled and a sharded
run's checkpoint loads anywhere); on resume every rank reads that file and keeps its own shard.
The optimizer state is then keyed by parameter name instead of position.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn

from .activation import model_blocks
from .config import TrainConfig
from .distributed import DistInfo


def sharded(info: DistInfo, config: TrainConfig) -> bool:
    """True when the run shards its model with FSDP2."""
    return info.enabled and config.parallel == "fsdp"


def wrap_model(model: nn.Module, info: DistInfo, config: TrainConfig, device: torch.device) -> nn.Module:
    """The module the training loop calls: the model alone, in DDP, or FSDP2-sharded in place."""
    if not info.enabled:
        return model
    if config.parallel == "ddp":
        from torch.nn.parallel import DistributedDataParallel as DDP

        return DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    from torch.distributed.fsdp import fully_shard

    blocks = getattr(model, "blocks", None)
    for block in model_blocks(model) if isinstance(blocks, nn.ModuleList) and len(blocks) else ():
        fully_shard(block)
    fully_shard(model)  # a model without `blocks` is one FSDP unit
    return model


def grad_sync(net: nn.Module, model: nn.Module, info: DistInfo, config: TrainConfig, last: bool) -> Any:
    """Context for one micro-batch's backward: reduce gradients over ranks only when `last`."""
    if not info.enabled:
        return nullcontext()
    if config.parallel == "ddp":
        return nullcontext() if last else net.no_sync()
    model.set_requires_gradient_sync(last)
    return nullcontext()


def _full() -> Any:
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, cpu_offload=True)


def gather_state(model: nn.Module, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Full model weights and optimizer state on rank 0 (empty elsewhere). Collective."""
    from torch.distributed.checkpoint.state_dict import get_state_dict

    weights, optim = get_state_dict(model, opt, options=_full())
    # distinct storages for safetensors (a shared tensor must not be written twice)
    return {k: v.detach().clone().contiguous() for k, v in weights.items()}, optim


def load_sharded_weights(model: nn.Module, path: Path) -> None:
    """Load a full safetensors weights file into an FSDP2-sharded model (each rank its shard)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

    set_model_state_dict(model, load_file(str(path)), options=StateDictOptions(full_state_dict=True))


def load_sharded_optimizer(model: nn.Module, opt: torch.optim.Optimizer, state: dict) -> None:
    """Load a full, name-keyed optimizer state (from `gather_state`) into a sharded optimizer."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    set_optimizer_state_dict(model, opt, state, options=StateDictOptions(full_state_dict=True))


def checkpoint_state(
    model: nn.Module, opt: torch.optim.Optimizer, is_sharded: bool
) -> tuple[dict[str, torch.Tensor] | None, dict]:
    """(full weights or None: write the model itself, optimizer state) for a checkpoint.
    Sharded: collective, call it on every rank."""
    return gather_state(model, opt) if is_sharded else (None, opt.state_dict())


def weights_loader(model: nn.Module, is_sharded: bool) -> Callable[[Path], None] | None:
    """How `load_checkpoint` loads a weights file: into the shards, or its plain default (None)."""
    return (lambda path: load_sharded_weights(model, path)) if is_sharded else None


def load_optimizer(model: nn.Module, opt: torch.optim.Optimizer, state: dict, is_sharded: bool) -> None:
    """Restore a checkpoint's optimizer state (name-keyed when sharded, positional otherwise)."""
    if is_sharded:
        load_sharded_optimizer(model, opt, state)
    else:
        opt.load_state_dict(state)
