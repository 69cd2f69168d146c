"""`prismlm bench scale`: the trainer's own optimizer step, per model — tokens/s, MFU, memory.

    payload = run_scale_benchmark(Path("results/bench_scale"), ScaleBenchConfig.quick())

For PRISM, Prizma-Seq (quad2) and the Transformer parameter-matched to PRISM (experiment/arms.py),
each with and without activation checkpointing, the benchmark times one optimizer step of the
real trainer (`train.trainer._Run._step`: micro-batches, loss, backward, clip, fused AdamW on
CUDA, bf16 autocast on CUDA only) on uniform random tokens, with bench.timing.time_call
(median of `repeats` after `warmup`), and reports:

    tokens_per_s = batch · seq_len / median step time
    mfu          = tokens_per_s · flops_per_token / peak FLOP/s   (train/flops.py; GPU only)
    peak_mem_mb  = CUDA: torch.cuda.max_memory_allocated over the timed steps
                   CPU:  an exact count, not a reading: parameters + gradients + AdamW moments
                         + the activations autograd saves for backward in one forward
                         (train.activation.saved_tensor_bytes)

The machine's load average sits beside every figure (bench.timing.environment): on a shared CPU
the absolute numbers are inflated, so read ratios measured in the same run.
"""

from __future__ import annotations

import dataclasses
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..config import require
from ..data.task import Batch
from ..experiment.arms import build_arm
from ..experiment.report import markdown_table
from ..io import write_record
from ..train.activation import saved_tensor_bytes
from ..train.config import TrainConfig
from ..train.trainer import _Run, resolve_device
from .timing import environment, time_call

COLUMNS = ["model", "params", "checkpointing", "tokens_per_s", "mfu", "peak_mem_mb", "memory_source"]


@dataclass(frozen=True)
class UniformTokens:
    """A task of uniform random tokens: next-token targets, every position scored."""

    vocab_size: int
    seq_len: int

    @property
    def max_seq_len(self) -> int:
        return self.seq_len

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        ids = torch.randint(0, self.vocab_size, (batch_size, self.seq_len + 1), generator=generator)
        return Batch(ids[:, :-1], ids[:, 1:], torch.ones(batch_size, self.seq_len))

    def eval_sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        return self.sample(batch_size, generator)


@dataclass
class ScaleBenchConfig:
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    vocab_size: int = 512
    seq_len: int = 256
    batch_size: int = 8
    micro_batch_size: int = 0
    repeats: int = 3
    warmup: int = 1
    device: str = "auto"
    checkpointing: tuple[bool, ...] = (False, True)
    models: tuple[str, ...] = ("prism", "prizma-seq", "transformer")
    train: dict[str, Any] = field(default_factory=dict)  # extra TrainConfig fields

    def __post_init__(self) -> None:
        for name in ("d_model", "n_layers", "n_heads", "vocab_size", "seq_len", "batch_size", "repeats"):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        require(self.warmup >= 0, "warmup", "must be >= 0")
        unknown = [m for m in self.models if m not in ("prism", "prizma-seq", "transformer")]
        require(not unknown, "models", f"unknown {unknown}; known: prism, prizma-seq, transformer")

    @classmethod
    def quick(cls) -> ScaleBenchConfig:
        return cls(d_model=32, n_layers=2, n_heads=2, vocab_size=64, seq_len=32, batch_size=4, repeats=1)

    def arms(self) -> dict[str, dict[str, Any]]:
        """Plain-data arms: PRISM, Prizma-Seq of the same dims, the Transformer matched to PRISM."""
        prism = {"model": "prism", "d_model": self.d_model, "n_layers": self.n_layers}
        dims = {"d_model": self.d_model, "n_layers": self.n_layers, "n_heads": self.n_heads}
        every = {
            "prism": prism,
            "prizma-seq": {"model": "prizma-quad2", **dims},
            "transformer": {"model": "transformer", **dims, "match_to": prism},
        }
        return {name: every[name] for name in self.models}


def _memory_estimate(run: _Run, task: UniformTokens, batch: int) -> int:
    """Bytes: parameters, their gradients and two AdamW moments, plus one forward's saved tensors."""
    params = sum(p.numel() * p.element_size() for p in run.model.parameters())
    ids = task.sample(batch, torch.Generator().manual_seed(0)).inputs.to(run.device)
    graph: dict[str, torch.Tensor] = {}
    ctx = torch.autocast("cuda", dtype=torch.bfloat16) if run.amp else nullcontext()

    def forward() -> None:
        with ctx:
            logits, aux = run.net(ids, return_aux=True)
        graph["out"] = logits.float().mean() + aux

    held = saved_tensor_bytes(forward)
    graph.clear()
    return 4 * params + held


def measure(name: str, arm: dict[str, Any], config: ScaleBenchConfig, checkpointing: bool) -> dict[str, Any]:
    """One row: the trainer's step for `arm`, timed, with its throughput, MFU and memory."""
    torch.manual_seed(0)
    task = UniformTokens(config.vocab_size, config.seq_len)
    model = build_arm(arm, config.vocab_size, config.seq_len)
    train_cfg = TrainConfig(
        steps=1 << 30, batch_size=config.batch_size, micro_batch_size=config.micro_batch_size,
        warmup=1, eval_batches=1, device=config.device, activation_checkpointing=checkpointing,
        decay_scope="matrices", **config.train,
    )
    run = _Run(model, task, train_cfg, None, None)
    ctx = torch.autocast("cuda", dtype=torch.bfloat16) if run.amp else nullcontext()
    model.train()
    cuda = run.device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(run.device)
    timing = time_call(
        lambda: run._step(ctx), repeats=config.repeats, warmup=config.warmup, device=run.device
    )
    tokens_per_s = config.batch_size * config.seq_len / timing["median_s"]
    util = None if not run.peak else tokens_per_s * run.per_token / run.peak
    if cuda:
        peak, source = torch.cuda.max_memory_allocated(run.device), "cuda_max_allocated"
    else:
        micro = config.micro_batch_size or config.batch_size
        peak, source = _memory_estimate(run, task, micro), "params+grads+adam+saved_activations"
    return {
        "model": name,
        "params": model.num_parameters(),
        "checkpointing": checkpointing,
        "tokens_per_s": tokens_per_s,
        "mfu": util,
        "flops_per_token": run.per_token,
        "peak_mem_mb": peak / 2**20,
        "memory_source": source,
        "step_s": timing,
        "amp_bf16": run.amp,
    }


def render(payload: dict[str, Any]) -> str:
    cfg, env = payload["config"], payload["environment"]
    rows = [
        {**r, "tokens_per_s": f"{r['tokens_per_s']:.0f}", "peak_mem_mb": f"{r['peak_mem_mb']:.1f}",
         "mfu": "n/a" if r["mfu"] is None else f"{100 * r['mfu']:.1f}%"}
        for r in payload["rows"]
    ]
    return (
        "# Trainer at scale: tokens/s, MFU and memory per model\n\n"
        f"d_model {cfg['d_model']}, {cfg['n_layers']} layers, vocab {cfg['vocab_size']}, batch "
        f"{cfg['batch_size']} × T {cfg['seq_len']}; device {payload['device']}, load average "
        f"{env['load_average']}, {env['threads']} threads. One optimizer step of the trainer, "
        f"median of {cfg['repeats']}. MFU = tokens/s · (6N + attention) / peak (GPU only).\n\n"
        + markdown_table(rows, COLUMNS)
    )


def run_scale_benchmark(out: Path, config: ScaleBenchConfig | None = None) -> dict[str, Any]:
    """Measure every model × checkpointing setting; write bench_scale.json and .md under `out`."""
    config = config or ScaleBenchConfig()
    arms = config.arms()
    rows = [measure(name, arms[name], config, ckpt) for name in arms for ckpt in config.checkpointing]
    payload = {
        "config": dataclasses.asdict(config),
        "device": str(resolve_device(config.device)),
        "environment": environment(),
        "rows": rows,
    }
    write_record(Path(out), "bench_scale", payload, render(payload))
    return payload
