"""The training protocol: domains in order, shuffled minibatches, the accuracy matrix.

Per run (seed s): train task 0..T-1 in order, `epochs` passes each, batches of `batch_size`
(the last partial batch kept); every epoch is a fresh permutation from one generator
default_rng(s) shared across tasks. After task i, every task j is evaluated: R[i, j].
A learner exposes `R` (runs), `seed_index` ([R] run -> seed), `observe(x, y, task)`,
`end_task(task, x, y)` and `predict(x) -> [R, n]`, all taking per-seed tensors [S, n, d].
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from .streams import Stream


def epoch_batches(seeds, n_tasks: int, n: int, epochs: int) -> torch.Tensor:
    """Index permutations [S, T, E, N]: one generator per seed, drawn task-major."""
    out = np.empty((len(seeds), n_tasks, epochs, n), dtype=np.int64)
    for i, s in enumerate(seeds):
        rng = np.random.default_rng(int(s))
        for t in range(n_tasks):
            for e in range(epochs):
                out[i, t, e] = rng.permutation(n)
    return torch.from_numpy(out)


def gather_rows(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """x[s, idx[s]] for every seed s: x [S, N, ...], idx [S, b] int64 -> [S, b, ...].

    The same values as x[arange(S)[:, None], idx], as one row copy from a contiguous x."""
    S, N = x.shape[:2]
    rows = (idx + (torch.arange(S) * N).unsqueeze(1)).reshape(-1)
    flat = x.contiguous().view(S * N, *x.shape[2:])
    return flat.index_select(0, rows).view(S, idx.shape[1], *x.shape[2:])


def iterate(perms: torch.Tensor, batch_size: int, progress: bool = False,
            desc: str = "") -> Iterator[torch.Tensor]:
    """Yield per-seed index batches [S, b] from perms [S, E, N]."""
    n_epochs, n = perms.shape[1], perms.shape[2]
    steps = [(e, b) for e in range(n_epochs) for b in range(0, n, batch_size)]
    for e, b in tqdm(steps, desc=desc, disable=not progress, leave=False):
        yield perms[:, e, b : b + batch_size]


def evaluate(learner, stream: Stream) -> np.ndarray:
    """Accuracy of every run on every task's test split: [R, T]."""
    sidx = learner.seed_index
    cols = []
    for j in range(stream.n_tasks):
        pred = learner.predict(stream.x_test[:, j], task=j)
        cols.append((pred == stream.y_test[sidx, j]).float().mean(1))
    return torch.stack(cols, 1).numpy().astype(np.float64)


def run_stream(learner, stream: Stream, epochs: int, batch_size: int = 128,
               progress: bool = False, desc: str = "", tasks: range | None = None,
               r: np.ndarray | None = None) -> np.ndarray:
    """Train `learner` through the stream; returns the accuracy matrices [R, T, T].

    tasks: the tasks to train (default all, in order); a later start resumes a learner whose
    earlier tasks ran elsewhere (see `baselines.run_sgd`), their rows given in r [R, T, T].
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if stream.n_in != learner.n_in:
        raise ValueError(f"stream '{stream.name}' has input dimension {stream.n_in} but the "
                         f"learner was built for {learner.n_in}")
    T = stream.n_tasks
    tasks = range(T) if tasks is None else tasks
    if tasks.start > 0 and (r is None or r.shape != (learner.R, T, T)):
        raise ValueError(f"resuming at task {tasks.start} needs the earlier rows r "
                         f"[{learner.R}, {T}, {T}]")
    perms = epoch_batches(stream.seeds, T, stream.x_train.shape[2], epochs)
    r = np.zeros((learner.R, T, T)) if r is None else r.copy()
    for t in tasks:
        xt, yt = stream.x_train[:, t].contiguous(), stream.y_train[:, t].contiguous()
        for idx in iterate(perms[:, t], batch_size, progress, f"{desc} task {t}"):
            learner.observe(gather_rows(xt, idx), gather_rows(yt, idx), task=t)
        learner.end_task(t, xt, yt)
        r[:, t] = evaluate(learner, stream)
    return r
