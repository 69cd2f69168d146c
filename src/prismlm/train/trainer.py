"""The one training loop every prismlm model uses.

    result = train(model, task, TrainConfig(steps=2000), run_dir=Path("runs/x"))

Per step: draw a batch from the task with a generator seeded by `config.seed`, masked
cross-entropy (+ the model's auxiliary loss), AdamW, warmup + cosine LR, gradient clipping,
bf16 autocast on CUDA only. Every `eval_every` steps the model is scored on a frozen eval set
drawn once with `config.eval_seed` (the same batches at every eval and for every model), metrics
go to `<run_dir>/metrics.jsonl`, and the early-stop rules run. With `checkpoint_every` and a
run_dir, a killed run resumes from its last checkpoint and ends where an uninterrupted run would.
Under torchrun the same loop wraps the model in DistributedDataParallel (see distributed.py).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..data.task import Batch, Task
from ..io import atomic_write_bytes
from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig
from .distributed import DistInfo, setup_distributed, shard_rows
from .schedule import lr_at

EvalFn = Callable[[nn.Module], dict[str, float]]


@dataclass
class TrainResult:
    """What a run produced. history: one dict per eval; train_log: one per `log_every` steps."""

    history: list[dict[str, Any]] = field(default_factory=list)
    train_log: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=dict)
    final: dict[str, Any] = field(default_factory=dict)
    steps: int = 0
    wall_time: float = 0.0
    stop_reason: str = "completed"  # "completed" | "solved" | "plateau"
    resumed_from: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def masked_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, denom: float | None = None
) -> torch.Tensor:
    """sum(CE · mask) / denom, denom = max(sum(mask), 1) unless given. logits [B,T,V]."""
    ce = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), reduction="none")
    total = (ce * mask.flatten()).sum()
    return total / (denom if denom is not None else mask.sum().clamp_min(1.0))


def make_eval_set(task: Task, config: TrainConfig) -> list[Batch]:
    """The frozen evaluation batches: drawn once from a generator seeded with eval_seed."""
    gen = torch.Generator().manual_seed(config.eval_seed)
    return [task.eval_sample(config.eval_bs, gen) for _ in range(config.eval_batches)]


@torch.no_grad()
def evaluate(
    model: nn.Module, batches: list[Batch], device: torch.device | str = "cpu", amp: bool = False
) -> dict[str, float]:
    """Masked accuracy (mean over batches), token-weighted CE loss (nats) and bits per token."""
    was_training = model.training
    model.eval()
    accs, ce_sum, count = [], 0.0, 0.0
    ctx = torch.autocast("cuda", dtype=torch.bfloat16) if amp else nullcontext()
    for batch in batches:
        batch = batch.to(device)
        with ctx:
            logits = model(batch.inputs)
        ce = F.cross_entropy(logits.float().flatten(0, 1), batch.targets.flatten(), reduction="none").view_as(
            batch.mask
        )
        n = float(batch.mask.sum())
        hit = (logits.argmax(-1) == batch.targets).float()
        accs.append(float((hit * batch.mask).sum()) / max(n, 1.0))
        ce_sum += float((ce * batch.mask).sum())
        count += n
    model.train(was_training)
    loss = ce_sum / max(count, 1.0)
    return {"acc": sum(accs) / len(accs), "loss": loss, "bpc": loss / math.log(2)}


def _check_compatible(model: nn.Module, task: Task) -> None:
    cfg = getattr(model, "config", None)
    vocab = getattr(cfg, "vocab_size", None)
    if vocab is not None and vocab < task.vocab_size:
        raise ValueError(
            f"invalid config field 'vocab_size': the model has {vocab} tokens but the task "
            f"emits ids up to {task.vocab_size - 1}"
        )
    max_len = getattr(cfg, "max_len", None)
    if max_len is not None and max_len < task.max_seq_len:
        raise ValueError(
            f"invalid config field 'max_len': the model accepts {max_len} positions but the "
            f"task produces sequences of {task.max_seq_len}"
        )


class _EarlyStop:
    """Best-so-far tracking plus the plateau and solve rules (spec §5)."""

    def __init__(self, config: TrainConfig, state: dict[str, Any] | None = None) -> None:
        self.cfg = config
        self.best: float | None = None
        self.best_record: dict[str, Any] = {}
        self.no_improve = 0
        if state:
            self.best, self.best_record, self.no_improve = (
                state["best"],
                state["best_record"],
                state["no_improve"],
            )

    def state(self) -> dict[str, Any]:
        return {"best": self.best, "best_record": self.best_record, "no_improve": self.no_improve}

    def update(self, step: int, record: dict[str, Any]) -> str | None:
        cfg = self.cfg
        value = record[cfg.monitor]
        sign = 1.0 if cfg.higher_is_better else -1.0
        improved = self.best is None or sign * (value - self.best) > cfg.plateau_delta
        self.no_improve = 0 if improved else self.no_improve + 1
        if self.best is None or sign * (value - self.best) > 0:
            self.best, self.best_record = value, dict(record)
        if cfg.solve_threshold > 0 and sign * (value - cfg.solve_threshold) >= 0:
            return "solved"
        engaged = not cfg.higher_is_better or self.best >= cfg.plateau_floor
        if (
            cfg.plateau_patience > 0
            and step >= cfg.plateau_min_step
            and engaged
            and self.no_improve >= cfg.plateau_patience
        ):
            return "plateau"
        return None


class _MetricsLog:
    """metrics.jsonl (+ optional TensorBoard) on the main rank; a no-op elsewhere."""

    def __init__(self, run_dir: Path | None, info: DistInfo, tensorboard: bool) -> None:
        self.path = run_dir / "metrics.jsonl" if run_dir is not None and info.is_main else None
        self.tb = None
        if tensorboard and self.path is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(run_dir / "tb"))
            except ImportError:  # tensorboard is optional
                self.tb = None

    def rewrite(self, records: list[dict[str, Any]]) -> None:
        if self.path is not None:
            text = "".join(json.dumps(r) + "\n" for r in records)
            atomic_write_bytes(self.path, text.encode())

    def write(self, record: dict[str, Any]) -> None:
        if self.path is not None:
            # the run dir may have been removed under us (a concurrent sweep finished this cell)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as f:
                f.write(json.dumps(record) + "\n")
        if self.tb is not None:
            for k, v in record.items():
                if k not in ("kind", "step") and isinstance(v, int | float):
                    self.tb.add_scalar(f"{record['kind']}/{k}", v, record["step"])

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def train(
    model: nn.Module,
    task: Task,
    config: TrainConfig,
    run_dir: Path | None = None,
    eval_fn: EvalFn | None = None,
) -> TrainResult:
    """Train `model` on `task`; returns history, best/final eval metrics, steps and wall time.

    eval_fn(model) -> dict of extra metrics, called at every eval (e.g. test BPC); its values are
    stored in the same eval record. Resumes from `<run_dir>/checkpoints` when one exists.
    """
    _check_compatible(model, task)
    device = resolve_device(config.device)
    info = setup_distributed(device)
    if device.type == "cuda" and info.enabled:
        device = torch.device("cuda", info.local_rank)
    model.to(device)
    amp = bool(config.amp and device.type == "cuda" and torch.cuda.is_bf16_supported())
    run_dir = Path(run_dir) if run_dir is not None else None
    ckpt_dir = run_dir / "checkpoints" if run_dir is not None else None

    eval_set = make_eval_set(task, config)
    gen = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    opt = torch.optim.AdamW(
        model.parameters(), lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
    )
    result = TrainResult()
    stopper = _EarlyStop(config)
    step, elapsed = 0, 0.0
    saved = load_checkpoint(ckpt_dir, model) if ckpt_dir is not None else None
    if saved is not None:
        opt.load_state_dict(saved["optimizer"])
        gen.set_state(saved["generator"])
        torch.set_rng_state(saved["torch_rng"])
        if device.type == "cuda" and saved.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(saved["cuda_rng"], device)
        step, elapsed = saved["step"], saved["elapsed"]
        result.history, result.train_log = saved["history"], saved["train_log"]
        result.stop_reason = saved.get("stop_reason", "completed")
        stopper = _EarlyStop(config, saved["early_stop"])
        result.resumed_from = step
    log = _MetricsLog(run_dir, info, config.tensorboard)
    if saved is not None:
        log.rewrite(sorted(result.train_log + result.history, key=lambda r: r["step"]))
    elif run_dir is not None and info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        log.rewrite([])

    def checkpoint(done: bool) -> None:
        if ckpt_dir is None or not info.is_main:
            return
        state = {
            "step": step,
            "elapsed": elapsed,
            "done": done,
            "stop_reason": result.stop_reason,
            "optimizer": opt.state_dict(),
            "generator": gen.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            "history": result.history,
            "train_log": result.train_log,
            "early_stop": stopper.state(),
            "config": asdict(config),
        }
        save_checkpoint(ckpt_dir, step, model, state, keep=config.keep_checkpoints)

    done = bool(saved is not None and saved.get("done"))
    net: nn.Module = model
    if info.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP

        net = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    ctx = torch.autocast("cuda", dtype=torch.bfloat16) if amp else nullcontext()
    bar = tqdm(
        total=config.steps,
        initial=step,
        disable=not (config.progress and info.is_main),
        desc=type(model).__name__,
        dynamic_ncols=True,
    )
    model.train()
    t0 = time.perf_counter() - elapsed
    while not done and step < config.steps:
        lr = lr_at(
            step,
            lr=config.lr,
            steps=config.steps,
            warmup=config.warmup,
            warmup_frac=config.warmup_frac,
            min_lr_frac=config.min_lr_frac,
        )
        for group in opt.param_groups:
            group["lr"] = lr
        batch = task.sample(config.batch_size, gen)
        denom = float(batch.mask.sum().clamp_min(1.0))
        if info.enabled:
            rows = shard_rows(config.batch_size, info)
            batch = Batch(batch.inputs[rows], batch.targets[rows], batch.mask[rows])
        batch = batch.to(device)
        with ctx:
            logits, aux = net(batch.inputs, return_aux=True)
        loss = masked_cross_entropy(logits, batch.targets, batch.mask, denom) * info.world_size
        total = loss + aux
        opt.zero_grad(set_to_none=True)
        total.backward()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        opt.step()
        step += 1
        bar.update(1)
        if step % config.log_every == 0 or step == config.steps:
            value = loss.detach() / info.world_size
            if info.enabled:
                torch.distributed.all_reduce(value)
            rec = {"kind": "train", "step": step, "loss": float(value), "lr": lr, "aux": float(aux)}
            result.train_log.append(rec)
            log.write(rec)
            bar.set_postfix(loss=f"{rec['loss']:.4f}")
        if step % config.eval_every == 0 or step == config.steps:
            rec = {"kind": "eval", "step": step, **evaluate(model, eval_set, device, amp)}
            if eval_fn is not None:
                rec.update(eval_fn(model))
            rec["time"] = time.perf_counter() - t0
            result.history.append(rec)
            log.write(rec)
            reason = stopper.update(step, rec)
            monitored = f"{rec[config.monitor]:.4f}"
            bar.set_postfix({"loss": f"{loss.item():.4f}", f"eval_{config.monitor}": monitored})
            if reason is not None:
                result.stop_reason, done = reason, True
        elapsed = time.perf_counter() - t0
        if config.checkpoint_every and step % config.checkpoint_every == 0 and not done:
            checkpoint(done=False)
    bar.close()
    if saved is None or not saved.get("done"):
        checkpoint(done=True)
    log.close()
    result.steps = step
    result.wall_time = elapsed
    result.best = dict(stopper.best_record)
    result.final = dict(result.history[-1]) if result.history else {}
    return result
