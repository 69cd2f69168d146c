"""`TrainConfig`: every knob of the training loop, validated on construction.

Defaults follow the Prizma-Seq diagnostic trainer (spec §5): AdamW(0.9, 0.95), weight decay 0.01,
clip 1.0, warmup + cosine to 0.1·lr, frozen eval set drawn with seed 12345, plateau early stop
that never fires before step 4000 or while the best accuracy is below 0.5.

Scale options (all off by default, so a toy run is unchanged): `batch_size` is the GLOBAL batch
(rows per optimizer step over all ranks) and `micro_batch_size` the rows one rank pushes through
the model at once, so gradient accumulation = batch_size / (micro_batch_size * world size);
`decay_scope="matrices"` exempts norms, biases and embeddings from weight decay (the scaled
recipe); `activation_checkpointing` recomputes each block in backward; `compile` wraps the model
in `torch.compile`; `parallel` picks DistributedDataParallel or FSDP2 (`fully_shard`) under
torchrun; `init_from` starts from another run's weights.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import require, require_field_types

MONITORS = {"acc": "max", "loss": "min", "bpc": "min"}
DECAY_SCOPES = ("all", "matrices")  # "matrices": no decay on ndim < 2, norms or embeddings
PARALLEL = ("ddp", "fsdp")


@dataclass
class TrainConfig:
    steps: int = 2000
    batch_size: int = 64
    lr: float = 3e-3
    warmup: int = 600
    warmup_frac: float = 0.15
    min_lr_frac: float = 0.1
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0  # 0 disables clipping
    eval_every: int = 500
    eval_batches: int = 32
    eval_batch_size: int = 0  # 0: same as batch_size
    eval_seed: int = 12345
    seed: int = 0
    monitor: str = "acc"  # "acc" (higher is better) | "loss" | "bpc" (lower is better)
    # plateau early stop: stop when step >= plateau_min_step AND best acc >= plateau_floor AND
    # plateau_patience evals in a row improved the best by no more than plateau_delta
    plateau_patience: int = 5  # 0 disables the plateau rule
    plateau_min_step: int = 4000
    plateau_floor: float = 0.5
    plateau_delta: float = 0.003
    solve_threshold: float = 0.0  # > 0: stop at the first eval whose monitor reaches it
    checkpoint_every: int = 0  # 0: no checkpoints (only with a run_dir)
    keep_checkpoints: int = 1
    log_every: int = 50
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:N"
    amp: bool = True  # bf16 autocast, used only on CUDA (never on CPU: far slower there)
    progress: bool = False
    tensorboard: bool = False
    wandb: bool = False  # log to Weights & Biases when it is installed (project: wandb_project)
    wandb_project: str = "prismlm"
    micro_batch_size: int = 0  # rows per forward on one rank; 0: the whole per-rank share
    decay_scope: str = "all"  # "all" (spec §5 diagnostic trainer) | "matrices"
    activation_checkpointing: bool = False
    compile: bool = False  # torch.compile the model (off by default)
    parallel: str = "ddp"  # under torchrun: "ddp" | "fsdp" (FSDP2 fully_shard per block)
    init_from: str = ""  # a run folder or checkpoints folder whose committed weights start this run
    peak_flops: float = 0.0  # device peak FLOP/s for MFU; 0: looked up for known GPUs, else no MFU

    def __post_init__(self) -> None:
        self.betas = (float(self.betas[0]), float(self.betas[1]))
        require_field_types(self)  # steps=5.5, lr=inf, progress=1 are errors, not silent surprises
        require(self.steps >= 1, "steps", f"must be >= 1, got {self.steps}")
        require(self.batch_size >= 1, "batch_size", f"must be >= 1, got {self.batch_size}")
        require(self.lr > 0, "lr", f"must be > 0, got {self.lr}")
        require(self.warmup >= 0, "warmup", f"must be >= 0, got {self.warmup}")
        require(0 <= self.warmup_frac < 1, "warmup_frac", f"must be in [0, 1), got {self.warmup_frac}")
        require(0 <= self.min_lr_frac <= 1, "min_lr_frac", f"must be in [0, 1], got {self.min_lr_frac}")
        require(self.weight_decay >= 0, "weight_decay", "must be >= 0")
        require(all(0 <= b < 1 for b in self.betas), "betas", f"must lie in [0, 1), got {self.betas}")
        require(self.grad_clip >= 0, "grad_clip", "must be >= 0 (0 disables clipping)")
        require(self.eval_every >= 1, "eval_every", f"must be >= 1, got {self.eval_every}")
        require(self.eval_batches >= 1, "eval_batches", f"must be >= 1, got {self.eval_batches}")
        require(self.eval_batch_size >= 0, "eval_batch_size", "must be >= 0 (0: batch_size)")
        require(self.monitor in MONITORS, "monitor", f"must be one of {sorted(MONITORS)}")
        require(self.plateau_patience >= 0, "plateau_patience", "must be >= 0 (0 disables)")
        require(self.plateau_min_step >= 0, "plateau_min_step", "must be >= 0")
        require(self.solve_threshold >= 0, "solve_threshold", "must be >= 0 (0 disables)")
        require(self.checkpoint_every >= 0, "checkpoint_every", "must be >= 0 (0 disables)")
        require(self.keep_checkpoints >= 1, "keep_checkpoints", "must be >= 1")
        require(self.log_every >= 1, "log_every", "must be >= 1")
        require(self.micro_batch_size >= 0, "micro_batch_size", "must be >= 0 (0: no accumulation)")
        require(
            self.micro_batch_size == 0 or self.batch_size % self.micro_batch_size == 0,
            "micro_batch_size",
            f"must divide batch_size {self.batch_size}, got {self.micro_batch_size}",
        )
        require(self.decay_scope in DECAY_SCOPES, "decay_scope", f"must be one of {DECAY_SCOPES}")
        require(self.parallel in PARALLEL, "parallel", f"must be one of {PARALLEL}")
        require(self.peak_flops >= 0, "peak_flops", "must be >= 0 (0: look it up)")
        require(isinstance(self.init_from, str), "init_from", "must be a path string ('' for none)")
        require(
            self.device == "auto" or self.device == "cpu" or self.device.startswith("cuda"),
            "device",
            f"must be 'auto', 'cpu' or 'cuda[:N]', got {self.device!r}",
        )

    @property
    def higher_is_better(self) -> bool:
        return MONITORS[self.monitor] == "max"

    @property
    def eval_bs(self) -> int:
        return self.eval_batch_size or self.batch_size

    def accumulation(self, world_size: int) -> int:
        """Micro-batches per optimizer step on each rank: batch / (micro * world)."""
        per_rank = self.batch_size // world_size
        require(
            self.batch_size % world_size == 0,
            "batch_size",
            f"{self.batch_size} is not divisible by the world size {world_size}",
        )
        if self.micro_batch_size == 0:
            return 1
        require(
            per_rank % self.micro_batch_size == 0,
            "micro_batch_size",
            f"must divide the per-rank batch {per_rank} (batch_size {self.batch_size} / world "
            f"{world_size}), got {self.micro_batch_size}",
        )
        return per_rank // self.micro_batch_size

