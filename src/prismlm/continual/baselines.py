"""Backprop baselines on the shared MLP, batched over runs: fine-tuning, EWC, replay, oracle.

- backprop: plain sequential SGD fine-tuning (EWC with λ = 0).
- EWC (uses task boundaries): after each task, the diagonal Fisher F_t on min(1024, N) training
  samples and an anchor θ*_t are stored; each step adds Σ_t λ F_t ⊙ (θ - θ*_t) to the gradient,
  kept as λ (ΣF_t ⊙ θ - ΣF_t ⊙ θ*_t). λ may differ per run, so a λ sweep is one batched pass
  (the λ = 0 runs skip the penalty, which would add exactly zero).
- replay (uses boundaries): a 1000-sample reservoir buffer, refreshed after each task; each step
  trains on the current batch plus min(|buffer|, batch) buffer samples drawn without replacement.
- `run_sgd` trains backprop, EWC and replay on one stream; they are one learner until the first
  boundary, so by default that first task trains once and the three fork from its state.
- oracle multi-head (told the task id): one fresh MLP per (seed, task), trained only on that
  task. All tasks train at once, since no net ever sees another task.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..config import require
from . import mlp
from .protocol import epoch_batches, gather_rows, iterate, run_stream


@dataclass(frozen=True)
class MLPConfig:
    hidden: int = 128
    lr: float = 0.1
    ewc_lambda: float = 50.0
    ewc_samples: int = 1024
    buffer_size: int = 1000

    def __post_init__(self) -> None:
        require(self.hidden >= 1, "hidden", "must be positive")
        require(self.lr > 0 and np.isfinite(self.lr), "lr", "must be finite and > 0")
        require(self.ewc_lambda >= 0, "ewc_lambda", "must be >= 0")
        require(self.ewc_samples >= 1, "ewc_samples", "must be positive")
        require(self.buffer_size >= 1, "buffer_size", "must be positive")


class _MLPLearner:
    def __init__(self, cfg: MLPConfig, seeds, n_in: int, n_classes: int, repeats: int = 1):
        seeds = [int(s) for s in seeds]
        require(len(seeds) > 0, "seeds", "need at least one seed")
        self.cfg, self.seeds, self.n_in, self.n_classes = cfg, seeds, n_in, n_classes
        self.sizes = (n_in, cfg.hidden, cfg.hidden, n_classes)
        self.R = repeats * len(seeds)
        self.seed_index = torch.arange(self.R) % len(seeds)
        self.p = mlp.init_mlp([seeds[i] for i in self.seed_index.tolist()], self.sizes)

    def _runs(self, x, y=None):
        if x.ndim != 3 or x.shape[-1] != self.n_in:
            raise ValueError(f"{type(self).__name__} expects inputs [seeds, n, {self.n_in}], "
                             f"got {tuple(x.shape)} (input dimension mismatch?)")
        if not torch.isfinite(x).all():
            raise ValueError("inputs contain NaN or infinite values")
        if self.R == len(self.seeds):
            return x if y is None else (x, y)
        xr = x[self.seed_index]
        return xr if y is None else (xr, y[self.seed_index])

    def _sgd(self, grads) -> None:
        for k, g in grads.items():
            self.p[k].sub_(g, alpha=self.cfg.lr)

    def predict(self, x: torch.Tensor, task: int | None = None) -> torch.Tensor:
        return mlp.predict(self.p, self._runs(x))

    def summary(self) -> dict:
        return {"n_params": mlp.n_params(self.sizes)}


class EWC(_MLPLearner):
    """EWC with one λ per run (config-major over `lambdas`); λ = 0 is plain backprop."""

    def __init__(self, cfg: MLPConfig, seeds, n_in, n_classes, lambdas=None, fisher_seed=0):
        lambdas = [cfg.ewc_lambda] if lambdas is None else list(lambdas)
        super().__init__(cfg, seeds, n_in, n_classes, repeats=len(lambdas))
        self.lam = torch.tensor([float(v) for v in lambdas for _ in self.seeds])
        self.fs = {k: torch.zeros_like(v) for k, v in self.p.items()}
        self.ft = {k: torch.zeros_like(v) for k, v in self.p.items()}
        self.rngs = [np.random.default_rng(s + 31337 + fisher_seed) for s in self.seeds]
        self.n_tasks_seen = 0
        pos = (self.lam > 0).nonzero().squeeze(1).tolist()
        contiguous = pos == list(range(pos[0], pos[-1] + 1)) if pos else False
        # the runs the penalty acts on: a slice when they are contiguous (config-major λ)
        self.penalised = (slice(pos[0], pos[-1] + 1) if contiguous
                          else torch.tensor(pos) if pos else None)

    def observe(self, x, y, task: int | None = None) -> None:
        x, y = self._runs(x, y)
        grads = mlp.gradients(self.p, x, y)
        if self.n_tasks_seen and self.penalised is not None:
            rows = self.penalised  # runs with λ = 0 add nothing: their rows are skipped
            for k, g in grads.items():
                lam = self.lam[rows].view(-1, *([1] * (g.ndim - 1)))
                pen = torch.mul(self.fs[k][rows], self.p[k][rows]).sub_(self.ft[k][rows])
                if isinstance(rows, slice):
                    g[rows].add_(pen.mul_(lam))
                else:
                    g.index_add_(0, rows, pen.mul_(lam))
        self._sgd(grads)

    def end_task(self, task: int, x_task: torch.Tensor, y_task: torch.Tensor) -> None:
        """Store this task's Fisher and anchor. x_task: [S, N, d], y_task: [S, N]."""
        self.n_tasks_seen += 1
        if not bool((self.lam > 0).any()):
            return
        n = x_task.shape[1]
        m = min(self.cfg.ewc_samples, n)
        idx = torch.from_numpy(np.stack([r.choice(n, m, replace=False) for r in self.rngs]))
        xs, ys = self._runs(gather_rows(x_task, idx), gather_rows(y_task, idx))
        fisher = mlp.diag_fisher(self.p, xs, ys)
        for k, f in fisher.items():
            self.fs[k].add_(f)
            self.ft[k].add_(f * self.p[k])


def Backprop(cfg: MLPConfig, seeds, n_in, n_classes) -> EWC:
    """Plain sequential fine-tuning."""
    return EWC(cfg, seeds, n_in, n_classes, lambdas=[0.0])


class Replay(_MLPLearner):
    """Experience replay with a reservoir buffer refreshed at task boundaries."""

    def __init__(self, cfg: MLPConfig, seeds, n_in, n_classes, buffer_seed: int = 0):
        super().__init__(cfg, seeds, n_in, n_classes)
        S, B = len(self.seeds), cfg.buffer_size
        self.buf_x = torch.zeros(S, B, n_in)
        self.buf_y = torch.zeros(S, B, dtype=torch.long)
        self.filled = 0
        self.seen = 0
        self.rngs = [np.random.default_rng(s + 4242 + buffer_seed) for s in self.seeds]
        self.gen = torch.Generator().manual_seed(int(sum(self.seeds)) * 7919 + 17 + buffer_seed)

    def observe(self, x, y, task: int | None = None) -> None:
        x, y = self._runs(x, y)
        if self.filled:
            k = min(self.filled, x.shape[1])
            noise = torch.rand(x.shape[0], self.filled, generator=self.gen)
            pick = noise.argsort(1)[:, :k]
            x = torch.cat([x, gather_rows(self.buf_x, pick)], 1)
            y = torch.cat([y, gather_rows(self.buf_y, pick)], 1)
        self._sgd(mlp.gradients(self.p, x, y))

    def end_task(self, task: int, x_task: torch.Tensor, y_task: torch.Tensor) -> None:
        """Stream the task's samples through reservoir sampling (last write to a slot wins)."""
        self._runs(x_task)
        n, cap = x_task.shape[1], self.cfg.buffer_size
        count = self.seen + np.arange(n)
        for s, rng in enumerate(self.rngs):
            j = rng.integers(0, count + 1)
            slot = np.where(count < cap, count, j)
            ok = slot < cap
            src = np.full(cap, -1)
            np.maximum.at(src, slot[ok], np.arange(n)[ok])
            new = torch.from_numpy(src >= 0)
            srct = torch.from_numpy(np.maximum(src, 0))
            self.buf_x[s][new] = x_task[s, srct][new]
            self.buf_y[s][new] = y_task[s, srct][new]
        self.seen += n
        self.filled = min(cap, self.seen)


SGD_LEARNERS = ("backprop", "ewc", "replay")


def run_sgd(names, stream, cfg: MLPConfig, epochs: int, batch_size: int, progress: bool = False,
            share_first_task: bool = True) -> dict[str, np.ndarray]:
    """backprop, EWC and/or replay on one stream: {name: R [S, T, T]} for each of `names`.

    Until the first boundary the three are the same computation: plain SGD from the init of
    seed s on the batches of seed s (EWC adds no penalty before its first Fisher, replay's
    buffer is empty). share_first_task=True trains task 0 once (S runs) and every learner
    starts from a copy of that state, stores its own task-0 boundary (Fisher and anchor, or
    buffer) and trains tasks 1.. itself. share_first_task=False trains each learner from
    scratch (the reference). Both give the same bits: a run's numbers in a batched matmul do
    not depend on the other runs of the batch, and the task-0 rows are the evaluation of the
    same parameters.
    """
    names = list(names)
    unknown = sorted(set(names) - set(SGD_LEARNERS))
    require(names and not unknown, "names", f"need some of {list(SGD_LEARNERS)}, got {names}")
    S, T, d, C = stream.n_seeds, stream.n_tasks, stream.n_in, stream.n_classes
    groups = []
    ewc_names = [n for n in names if n != "replay"]
    if ewc_names:
        lams = [0.0 if n == "backprop" else cfg.ewc_lambda for n in ewc_names]
        groups.append((EWC(cfg, stream.seeds, d, C, lambdas=lams), ewc_names))
    if "replay" in names:
        groups.append((Replay(cfg, stream.seeds, d, C), ["replay"]))
    if share_first_task:
        first = Backprop(cfg, stream.seeds, d, C)
        r0 = run_stream(first, stream, epochs, batch_size, progress, "sgd", tasks=range(1))
        x0, y0 = stream.x_train[:, 0].contiguous(), stream.y_train[:, 0].contiguous()
    out = {}
    for learner, group in groups:
        desc = "/".join(group)
        if share_first_task:
            rep = learner.R // S
            learner.p = {k: v.repeat(rep, *([1] * (v.ndim - 1))) for k, v in first.p.items()}
            learner.end_task(0, x0, y0)
            r = run_stream(learner, stream, epochs, batch_size, progress, desc,
                           tasks=range(1, T), r=np.tile(r0, (rep, 1, 1)))
        else:
            r = run_stream(learner, stream, epochs, batch_size, progress, desc)
        for i, n in enumerate(group):
            out[n] = r[i * S:(i + 1) * S]
    return out


def run_oracle(stream, cfg: MLPConfig, epochs: int, batch_size: int, progress: bool = False,
               first: int = 0):
    """Oracle multi-head: net (s, t) trains only on task t; unseen cells are 1/C.

    Returns R: [S, T, T] numpy. Net (s, t) is seeded s + t, as is its shuffle generator.
    first: train only the nets of tasks >= first; the own-task accuracies of the others are
    left NaN for the caller to fill (net (s, 0) is the SGD learners' net after task 0: same
    seed, same batches, see `fill_oracle_first_task`).
    """
    S, T = stream.n_seeds, stream.n_tasks
    require(0 <= first < T, "first", f"must lie in [0, {T})")
    tasks = range(first, T)
    runs_seed = [s + t for s in stream.seeds for t in tasks]
    p = mlp.init_mlp(runs_seed, (stream.n_in, cfg.hidden, cfg.hidden, stream.n_classes))
    xs = stream.x_train[:, first:].reshape(S * len(tasks), *stream.x_train.shape[2:])
    ys = stream.y_train[:, first:].reshape(S * len(tasks), -1)
    perms = epoch_batches(runs_seed, 1, xs.shape[1], epochs)
    for idx in iterate(perms[:, 0], batch_size, progress, "oracle"):
        grads = mlp.gradients(p, gather_rows(xs, idx), gather_rows(ys, idx))
        for k, g in grads.items():
            p[k].sub_(g, alpha=cfg.lr)
    xt = stream.x_test[:, first:].reshape(S * len(tasks), *stream.x_test.shape[2:])
    yt = stream.y_test[:, first:].reshape(S * len(tasks), -1)
    own = np.full((S, T), np.nan)
    own[:, first:] = (mlp.predict(p, xt) == yt).float().mean(1).reshape(S, len(tasks)).numpy()
    r = np.full((S, T, T), 1.0 / stream.n_classes)
    for i in range(T):
        r[:, i, : i + 1] = own[:, : i + 1]
    return r


def fill_oracle_first_task(r_oracle: np.ndarray, r_sgd: np.ndarray) -> None:
    """Oracle net (s, 0) is backprop/EWC/replay's net after task 0 (seed s init, seed s
    batches, no penalty, empty buffer): its own-task accuracy is R_sgd[s, 0, 0]. In place."""
    r_oracle[:, :, 0] = r_sgd[:, :1, 0]
