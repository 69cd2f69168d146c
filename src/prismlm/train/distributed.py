"""Process-group plumbing so one training loop runs alone or under `torchrun`.

Under torchrun (WORLD_SIZE > 1) every rank draws the same global batch from the same seeded
generator and trains on its own contiguous slice (rank r: rows [r·B/W, (r+1)·B/W)), so no two
ranks see the same rows and together they see the whole batch; DDP or FSDP2 (parallel.py)
averages gradients. Each rank scales its masked loss by W / (global mask count), so the averaged
gradient is exactly the single-process gradient of the global batch, whatever the micro-batching.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup_distributed(device: torch.device) -> DistInfo:
    """Join the process group torchrun describes in the environment (no-op when alone)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def shard_rows(n: int, info: DistInfo) -> slice:
    """This rank's contiguous slice of a global batch of n rows."""
    if n % info.world_size:
        raise ValueError(
            f"invalid config field 'batch_size': {n} is not divisible by the world size {info.world_size}"
        )
    per = n // info.world_size
    return slice(info.rank * per, (info.rank + 1) * per)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()
