"""The one training loop every prismlm model uses.

    result = train(model, task, TrainConfig(steps=2000), run_dir=Path("runs/x"))

Per step: draw a batch from the task with a generator seeded by `config.seed`, masked
cross-entropy (+ the model's auxiliary loss), AdamW, warmup + cosine LR, gradient clipping,
bf16 autocast on CUDA only. Every `eval_every` steps the model is scored on a frozen eval set
drawn once with `config.eval_seed` (the same batches at every eval and for every model), metrics
go to `<run_dir>/metrics.jsonl`, and the early-stop rules run. With `checkpoint_every` and a
run_dir, a killed run resumes from its last checkpoint and ends where an uninterrupted run would;
a run folder is resumed only by the same resolved configs (resume.py), and a run whose loss or
gradients stop being finite raises `TrainingDiverged` (guard.py).
Under torchrun the same loop wraps the model in DistributedDataParallel or shards it with FSDP2
(parallel.py); every rank trains on its own rows of the global batch (distributed.py).

At scale: `batch_size` is the global batch and `micro_batch_size` what one rank runs at once, so
each optimizer step accumulates batch / (micro · world) micro-batches, every micro-batch's loss
divided by the global mask count (the update is the one of the whole batch, to rounding); the
auxiliary loss is averaged over micro-batches (exact for models without one). Optional:
per-group weight decay and fused AdamW (optim.py), activation checkpointing (activation.py),
`torch.compile`, `init_from` another run's weights. Train records carry tokens/s and, on a GPU
with a known peak, MFU (flops.py).
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from ..config import fingerprint
from ..data.task import Batch, Task
from . import parallel
from .activation import checkpoint_blocks
from .bookkeeping import _EarlyStop, _MetricsLog
from .checkpoint import CheckpointError, clean_checkpoints, init_weights, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .distributed import barrier, setup_distributed, shard_rows
from .evaluation import evaluate, make_eval_set, masked_cross_entropy
from .flops import flops_per_token, mfu, peak_flops
from .guard import FiniteGuard, grad_norm, weights_finite
from .optim import build_optimizer
from .resume import check_same_run, run_configs
from .schedule import lr_at

EvalFn = Callable[[nn.Module], dict[str, float]]
WALL_CLOCK_KEYS = ("time", "tokens_per_s", "mfu")
"""Record fields measured by the clock: the only ones a resumed run may not reproduce exactly."""


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


def _take(batch: Batch, rows: slice) -> Batch:
    """The rows `rows` of every [B, ...] field of a batch."""
    return type(batch)(**{f.name: getattr(batch, f.name)[rows] for f in fields(batch)})


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


class _Run:
    """One call of `train`: the model, optimizer, RNG streams and bookkeeping of the loop."""

    def __init__(
        self, model: nn.Module, task: Task, config: TrainConfig, run_dir: Path | None, eval_fn: EvalFn | None,
        levers: Any = None,
    ) -> None:
        self.model, self.task, self.cfg, self.eval_fn = model, task, config, eval_fn
        self.levers = levers  # train/levers.py::Levers or None
        device = resolve_device(config.device)
        self.info = setup_distributed(device)
        if device.type == "cuda" and self.info.enabled:
            device = torch.device("cuda", self.info.local_rank)
        self.device = device
        model.to(device)
        if config.init_from:  # before wrapping, so DDP broadcasts / FSDP shards these weights
            init_weights(model, Path(config.init_from))
        if config.activation_checkpointing:
            checkpoint_blocks(model)
        self.accum = config.accumulation(self.info.world_size)
        self.sharded = parallel.sharded(self.info, config)
        self.amp = bool(config.amp and device.type == "cuda" and torch.cuda.is_bf16_supported())
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.ckpt_dir = self.run_dir / "checkpoints" if self.run_dir is not None else None
        self.configs = run_configs(model, task, config, device, self.amp)
        if levers is not None:
            if levers.stateful and self.info.enabled:
                raise ValueError("loss re-weighting and replay keep per-rank state; not under DDP")
            self.configs["levers"] = levers.fingerprint_data()
        self.eval_set = make_eval_set(task, config)
        self.gen = torch.Generator().manual_seed(config.seed)
        torch.manual_seed(config.seed)
        self.net = parallel.wrap_model(model, self.info, config, device)
        self.opt = build_optimizer(model, config, device)  # after sharding: FSDP2 swaps parameters
        if config.compile:
            self.net = torch.compile(self.net)
        self.per_token = flops_per_token(model, task.max_seq_len)
        self.peak = peak_flops(device, config.peak_flops)
        self.last_log = (0, 0.0)  # (tokens, wall time) at the previous train record
        self.result = TrainResult()
        self.stopper = _EarlyStop(config)
        self.guard = FiniteGuard(device, self.info)
        self.step, self.elapsed, self.done, self.tokens = 0, 0.0, False, 0
        self.finished_before = False  # resumed a run that had already ended: train nothing

    # -- resume ---------------------------------------------------------------------------------
    def restore(self, restart: bool) -> None:
        """Resume from the run folder's checkpoint when it holds this very run (see resume.py)."""
        saved = None
        if self.ckpt_dir is not None:
            if self.info.is_main:
                if restart:
                    shutil.rmtree(self.ckpt_dir, ignore_errors=True)
                else:
                    clean_checkpoints(self.ckpt_dir)
            barrier(self.info)
            saved = load_checkpoint(
                self.ckpt_dir,
                self.model,
                check=lambda s, p: check_same_run(s, p, self.configs),
                load_weights=parallel.weights_loader(self.model, self.opt, self.info, self.sharded),
            )
        cfg = self.cfg
        self.log = _MetricsLog(
            self.run_dir, self.info, cfg.tensorboard, cfg.wandb, cfg.wandb_project, self.configs
        )
        if saved is None:
            if self.run_dir is not None and self.info.is_main:
                self.run_dir.mkdir(parents=True, exist_ok=True)
                self.log.rewrite([])
            return
        try:
            parallel.load_optimizer(self.model, self.opt, saved["optimizer"], self.sharded)
            self.gen.set_state(saved["generator"])
            torch.set_rng_state(saved["torch_rng"])
            if self.device.type == "cuda" and saved.get("cuda_rng") is not None:
                torch.cuda.set_rng_state(saved["cuda_rng"], self.device)
            self.stopper = _EarlyStop(self.cfg, saved["early_stop"])
            if self.levers is not None:
                self.levers.load_state_dict(saved["levers"])
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise CheckpointError(
                f"{self.ckpt_dir}: the trainer state does not fit this run ({type(err).__name__}: {err}); "
                "start afresh with restart=True"
            ) from err
        self.step, self.elapsed = saved["step"], saved["elapsed"]
        self.result.history, self.result.train_log = saved["history"], saved["train_log"]
        self.result.stop_reason = saved["stop_reason"]
        self.result.resumed_from = self.step
        self.guard.last_checkpoint = self.step
        self.done = self.finished_before = bool(saved["done"])
        self.log.rewrite(sorted(self.result.train_log + self.result.history, key=lambda r: r["step"]))

    def save(self, done: bool) -> None:
        """Checkpoint (main rank), but never a diverged model: the guard is checked first."""
        if self.ckpt_dir is None:
            return
        self.guard.check()
        if not weights_finite(self.model, self.info):  # reduced over ranks: all stop together
            self.guard.fail(self.step, "a weight")
        written, optim = parallel.checkpoint_state(  # collective when sharded
            self.model, self.opt, self.sharded, self.ckpt_dir, self.step, self.info
        )
        if not self.info.is_main:
            return
        state = {
            "step": self.step,
            "elapsed": self.elapsed,
            "done": done,
            "stop_reason": self.result.stop_reason,
            "optimizer": optim,
            "generator": self.gen.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
            "history": self.result.history,
            "train_log": self.result.train_log,
            "early_stop": self.stopper.state(),
            "levers": None if self.levers is None else self.levers.state_dict(),
            "configs": self.configs,
            "fingerprint": fingerprint(self.configs),
        }
        save_checkpoint(
            self.ckpt_dir, self.step, self.model, state, keep=self.cfg.keep_checkpoints, written=written
        )
        self.guard.last_checkpoint = self.step

    # -- one optimizer step ---------------------------------------------------------------------
    def _step(self, ctx: Any) -> tuple[torch.Tensor, torch.Tensor, float]:
        """Draw the global batch, run this rank's rows in micro-batches, take one AdamW step;
        returns (CE loss of this rank's rows, scaled by the world size; mean aux loss; lr)."""
        cfg, info = self.cfg, self.info
        lr = lr_at(
            self.step,
            lr=cfg.lr,
            steps=cfg.steps,
            warmup=cfg.warmup,
            warmup_frac=cfg.warmup_frac,
            min_lr_frac=cfg.min_lr_frac,
        )
        for group in self.opt.param_groups:
            group["lr"] = lr
        if self.levers is None:
            batch = self.task.sample(cfg.batch_size, self.gen)
        else:
            batch = self.levers.batch(self.step, cfg.batch_size, self.gen, self.task)
        denom = float(batch.mask.sum().clamp_min(1.0))
        if info.enabled:
            batch = _take(batch, shard_rows(cfg.batch_size, info))
        self.opt.zero_grad(set_to_none=True)
        micro = batch.inputs.shape[0] // self.accum
        loss = aux = torch.zeros((), device=self.device)
        for i in range(self.accum):
            part = _take(batch, slice(i * micro, (i + 1) * micro)).to(self.device)
            with parallel.grad_sync(self.net, self.model, info, cfg, last=i == self.accum - 1):
                with ctx:
                    logits, part_aux = self.net(part.inputs, return_aux=True)
                mask = part.mask if self.levers is None else self.levers.loss_mask(logits, part)
                part_loss = masked_cross_entropy(logits, part.targets, mask, denom) * info.world_size
                part_aux = part_aux / self.accum
                (part_loss + part_aux).backward()
            loss, aux = loss + part_loss.detach(), aux + part_aux.detach()
        total = loss + aux
        self.tokens += batch.inputs.numel() * info.world_size
        self.guard.observe(self.step + 1, total, grad_norm(self.model, cfg.grad_clip))
        self.opt.step()
        self.step += 1
        return loss, aux, lr

    def _log_train(self, loss: torch.Tensor, aux: torch.Tensor, lr: float, bar: tqdm) -> None:
        self.guard.check()
        value = loss.detach() / self.info.world_size
        if self.info.enabled:
            torch.distributed.all_reduce(value)
        rec = {"kind": "train", "step": self.step, "loss": float(value), "lr": lr, "aux": float(aux.detach())}
        rec.update(self._throughput())
        self.result.train_log.append(rec)
        self.log.write(rec)
        bar.set_postfix(loss=f"{rec['loss']:.4f}")

    def _throughput(self) -> dict[str, float]:
        """tokens/s over the steps since the previous train record, and MFU when it is known."""
        now = time.perf_counter()
        tokens, then = self.last_log
        self.last_log = (self.tokens, now)
        if then == 0.0 or now <= then:
            return {}
        rate = (self.tokens - tokens) / (now - then)
        util = mfu(rate, self.per_token, self.peak)
        return {"tokens_per_s": rate, **({"mfu": util} if util is not None else {})}

    def _eval_and_maybe_stop(self, loss: torch.Tensor, t0: float, bar: tqdm) -> None:
        """Score the frozen eval set, record it, and apply the solve / plateau rules."""
        self.guard.check()
        scores = evaluate(self.model, self.eval_set, self.device, self.amp)
        rec = {"kind": "eval", "step": self.step, **scores}
        if not math.isfinite(rec["loss"]):
            self.guard.fail(self.step, "the eval loss")
        if self.eval_fn is not None:
            rec.update(self.eval_fn(self.model))
        rec["time"] = time.perf_counter() - t0
        self.result.history.append(rec)
        self.log.write(rec)
        reason = self.stopper.update(self.step, rec)
        monitored = f"{rec[self.cfg.monitor]:.4f}"
        bar.set_postfix({"loss": f"{loss.item():.4f}", f"eval_{self.cfg.monitor}": monitored})
        if reason is not None:
            self.result.stop_reason, self.done = reason, True

    def loop(self) -> None:
        cfg, model = self.cfg, self.model
        ctx = torch.autocast("cuda", dtype=torch.bfloat16) if self.amp else nullcontext()
        bar = tqdm(
            total=cfg.steps,
            initial=self.step,
            disable=not (cfg.progress and self.info.is_main),
            desc=type(model).__name__,
            dynamic_ncols=True,
        )
        model.train()
        t0 = time.perf_counter() - self.elapsed
        self.last_log = (self.tokens, time.perf_counter())
        try:
            while not self.done and self.step < cfg.steps:
                loss, aux, lr = self._step(ctx)
                bar.update(1)
                last = self.step == cfg.steps
                if self.step % cfg.log_every == 0 or last:
                    self._log_train(loss, aux, lr, bar)
                paused = False  # eval and checkpoints stay out of the tokens/s clock
                if self.step % cfg.eval_every == 0 or last:
                    self._eval_and_maybe_stop(loss, t0, bar)
                    paused = True
                self.elapsed = time.perf_counter() - t0
                if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0 and not self.done:
                    self.save(done=False)
                    paused = True
                if paused:
                    self.last_log = (self.tokens, time.perf_counter())
            if not self.finished_before:
                self.save(done=True)
        finally:
            bar.close()
            self.log.close()

    def finish(self) -> TrainResult:
        result = self.result
        result.steps, result.wall_time = self.step, self.elapsed
        result.best = dict(self.stopper.best_record)
        result.final = dict(result.history[-1]) if result.history else {}
        return result


def train(
    model: nn.Module,
    task: Task,
    config: TrainConfig,
    run_dir: Path | None = None,
    eval_fn: EvalFn | None = None,
    restart: bool = False,
    levers: Any = None,
) -> TrainResult:
    """Train `model` on `task`; returns history, best/final eval metrics, steps and wall time.

    eval_fn(model) -> dict of extra metrics, called at every eval (e.g. test BPC); its values are
    stored in the same eval record. With a run_dir, resumes from `<run_dir>/checkpoints` when it
    holds this same run (same resolved model, task and train configs, seed included); a run
    folder of another run raises a ValueError naming the changed fields unless `restart=True`,
    which deletes its checkpoints and starts afresh. A non-finite loss, gradient or weight raises
    `TrainingDiverged` (the last finite checkpoint stays committed; no NaN model is saved).
    levers: an optional `train.levers.Levers` (curriculum, loss re-weighting, replay) that
    supplies each step's batch and loss mask; its config joins the run's fingerprint.
    """
    _check_compatible(model, task)
    run = _Run(model, task, config, run_dir, eval_fn, levers)
    run.restore(restart)
    run.loop()
    return run.finish()
