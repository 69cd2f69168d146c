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

Checkpoints under FSDP2 are `torch.distributed.checkpoint` folders (sharded_checkpoint.py):
every rank writes its own shards of the model and AdamW state, nothing is gathered, and a resume
on any world size reshards them. The trainer state (step, RNG, history) stays in the pickle-free
safetensors + JSON file rank 0 writes. Older FSDP2 checkpoints (one full safetensors file and a
name-keyed optimizer state) still load.
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
from .sharded_checkpoint import dcp_name, load_sharded, save_sharded


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

    return StateDictOptions(full_state_dict=True)


def load_sharded_weights(model: nn.Module, path: Path) -> None:
    """Load a full safetensors weights file into an FSDP2-sharded model (each rank its shard)."""
    from torch.distributed.checkpoint.state_dict import set_model_state_dict

    set_model_state_dict(model, load_file(str(path)), options=_full())


def checkpoint_state(
    model: nn.Module, opt: torch.optim.Optimizer, is_sharded: bool, ckpt_dir: Path, step: int, info: DistInfo
) -> tuple[Path | None, dict]:
    """(the DCP folder already written or None: write the model itself, the optimizer state for
    the trainer-state file). Sharded: collective, call it on every rank; the optimizer state is
    in the folder and the file records only its name."""
    if not is_sharded:
        return None, opt.state_dict()
    return save_sharded(ckpt_dir, step, model, opt, info), {"dcp": dcp_name(step)}


def weights_loader(
    model: nn.Module, opt: torch.optim.Optimizer, info: DistInfo, is_sharded: bool
) -> Callable[[Path], None] | None:
    """How `load_checkpoint` loads a checkpoint's weights: a DCP folder (weights and optimizer)
    or an older full file into the shards, or its plain default (None)."""
    if not is_sharded:
        return None

    def load(path: Path) -> None:
        if path.is_dir():
            load_sharded(path, model, opt, info)
        else:
            load_sharded_weights(model, path)

    return load


def load_optimizer(model: nn.Module, opt: torch.optim.Optimizer, state: dict, is_sharded: bool) -> None:
    """Restore a checkpoint's optimizer state: already loaded with a DCP folder, name-keyed in an
    older sharded checkpoint, positional otherwise."""
    if is_sharded and set(state) == {"dcp"}:
        return
    if is_sharded:
        from torch.distributed.checkpoint.state_dict import set_optimizer_state_dict

        set_optimizer_state_dict(model, opt, state, options=_full())
    else:
        opt.load_state_dict(state)
