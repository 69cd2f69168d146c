"""A sweep is data: arms × task configs × seeds; each cell resolves to config objects and is
cached under the fingerprint of those resolved objects.

    cells = grid(arms=[{"model": "prizma-quad2", ...}, {"model": "transformer", ...}],
                 tasks=[{"name": "mqar", "vocab_size": 64, "num_pairs": 8}],
                 train={"steps": 2000, "lr": 1e-3}, seeds=[0, 1, 2])
    records = run_sweep(cells, cache_dir)

A cell resolves (`Cell.resolve`) to: the model config (experiment.arms.resolve_arm), the full
`TrainConfig` (every default filled, device type and amp resolved), the task dataclass, the seed,
the post-eval tasks and the probes. Its key is `experiment.cache.cache_key` of those objects, so
changing any field — also a default in code — changes the key, and `cache.CODE_VERSION` covers
code changes that alter results without changing a config. Records (JSON, atomic) live under
`<cache_dir>/cells/` and store the resolved configs; a cell trains under `<cache_dir>/runs/<key>/`
(a killed sweep resumes inside its cell) while holding `<cache_dir>/locks/<key>.lock`, so several
processes can run the same sweep on one folder: each cell is trained once, the others wait for it
or take other cells first. Every config is validated before any cell trains.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..data.registry import build_task
from ..models import build_model
from ..train import TrainConfig, evaluate, train
from ..train.trainer import resolve_device
from .arms import arm_label, resolve_arm
from .cache import cache_key, cached_run, load_cached
from .probes import PROBES, check_probes

POST_SEED_BASE = 12345  # a post-eval without "eval_seed" draws with 12345 + its sequence length
MAX_LEN_MARGIN = 8  # models are sized for the longest task sequence plus this margin


@dataclass
class ResolvedCell:
    """Everything that determines a cell's numbers, as config objects."""

    model: Any
    train: TrainConfig
    task: Any
    seed: int
    post: dict[str, dict[str, Any]]  # label -> {"task": task object, "eval_seed": int, "batches": int}
    test_split: bool
    probes: tuple[str, ...]

    def configs(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "train": self.train,
            "task": self.task,
            "seed": self.seed,
            "post": self.post,
            "test_split": self.test_split,
            "probes": list(self.probes),
        }


@dataclass
class Cell:
    """One training run, written as data. post: label -> task spec scored on the frozen weights
    after training (optional keys "eval_seed", "batches"). test_split: also score the task's test
    split at every eval (char-LM), so the best-by-validation record carries its test BPC.
    probes: names in experiment.probes.PROBES run on the trained model (e.g. "routing")."""

    arm: dict[str, Any]
    task: dict[str, Any]
    train: dict[str, Any]
    seed: int
    post: dict[str, dict[str, Any]] = field(default_factory=dict)
    test_split: bool = False
    probes: tuple[str, ...] = ()

    def config(self) -> dict[str, Any]:
        """The cell as written (kept in the record beside the resolved configs)."""
        return {
            "arm": self.arm,
            "task": self.task,
            "train": {**self.train, "seed": self.seed},
            "seed": self.seed,
            "post": self.post,
            "test_split": self.test_split,
            "probes": list(self.probes),
        }

    def resolve(self, device: str = "cpu") -> ResolvedCell:
        """Build the task, post tasks, TrainConfig and model config (raises ValueError naming a
        bad field). `device` ("auto" | "cpu" | "cuda[:N]") fixes the device type and amp."""
        task = build_task(self.task)
        dev = resolve_device(device)
        tcfg = TrainConfig(**{**self.train, "seed": self.seed})
        # The device *type* and whether bf16 autocast really runs change numbers; the GPU index
        # and the progress bar do not, so they stay out of the key.
        amp = bool(tcfg.amp and dev.type == "cuda" and torch.cuda.is_bf16_supported())
        tcfg = dataclasses.replace(tcfg, device=dev.type, amp=amp, progress=False)
        post = {}
        for label, spec in self.post.items():
            spec = dict(spec)
            seed, batches = spec.pop("eval_seed", None), spec.pop("batches", None)
            ptask = build_task(spec)
            post[label] = {
                "task": ptask,
                "eval_seed": POST_SEED_BASE + ptask.max_seq_len if seed is None else int(seed),
                "batches": tcfg.eval_batches if batches is None else int(batches),
            }
        check_probes(tuple(self.probes))
        max_len = max([task.max_seq_len] + [p["task"].max_seq_len for p in post.values()])
        model = resolve_arm(self.arm, task.vocab_size, max_len + MAX_LEN_MARGIN)
        return ResolvedCell(model, tcfg, task, self.seed, post, self.test_split, tuple(self.probes))

    def key(self, device: str = "cpu") -> str:
        return cache_key(self.resolve(device).configs())

    @property
    def label(self) -> str:
        return arm_label(self.arm)

    @staticmethod
    def grid(arms, tasks, train, seeds, **options) -> list[Cell]:
        return grid(arms, tasks, train, seeds, **options)


def grid(
    arms: list[dict[str, Any]],
    tasks: list[dict[str, Any]],
    train: dict[str, Any],
    seeds: list[int],
    **cell_options: Any,
) -> list[Cell]:
    """Every task × arm × seed, in that nesting order."""
    return [
        Cell(arm, task, dict(train), seed, **cell_options) for task in tasks for arm in arms for seed in seeds
    ]


def validate_cells(cells: list[Cell]) -> None:
    """Resolve every cell and build its model on the meta device, without training."""
    for cell in cells:
        res = cell.resolve("cpu")
        with torch.device("meta"):
            build_model(res.model)


@contextlib.contextmanager
def cell_lock(cache_dir: Path, key: str, wait: bool = True) -> Iterator[bool]:
    """Hold `<cache_dir>/locks/<key>.lock` (flock, released when the process dies). With
    wait=False yields False at once if another process holds it."""
    path = Path(cache_dir) / "locks" / f"{key}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _train_cell(
    cell: Cell, res: ResolvedCell, cache_dir: Path, key: str, device: str, progress: bool
) -> dict:
    dev = resolve_device(device)
    tcfg = dataclasses.replace(res.train, device=str(dev), progress=progress)
    torch.manual_seed(res.seed)  # pins the initialisation to the seed
    model = build_model(res.model)
    task = res.task
    eval_fn = None
    if res.test_split:
        test_set = task.split_batches("test", tcfg.eval_batches, tcfg.eval_bs, tcfg.eval_seed)

        def eval_fn(m):
            scores = evaluate(m, test_set, dev)
            return {"test_loss": scores["loss"], "test_bpc": scores["bpc"], "test_acc": scores["acc"]}

    run_dir = Path(cache_dir) / "runs" / key
    result = train(model, task, tcfg, run_dir=run_dir, eval_fn=eval_fn)
    post = {}
    for label, p in res.post.items():
        gen = torch.Generator().manual_seed(p["eval_seed"])
        batches = [p["task"].eval_sample(tcfg.eval_bs, gen) for _ in range(p["batches"])]
        post[label] = evaluate(model, batches, dev)
    probes = {name: PROBES[name](model, task) for name in res.probes}
    shutil.rmtree(run_dir, ignore_errors=True)  # safe: we hold this cell's lock
    return {
        "label": cell.label,
        "config": cell.config(),
        "params": model.num_parameters(),
        "steps": result.steps,
        "wall_time": result.wall_time,
        "step_ms": 1000 * result.wall_time / max(result.steps, 1),
        "stop_reason": result.stop_reason,
        "best": result.best,
        "final": result.final,
        "history": result.history,
        "post": post,
        "probes": probes,
        "torch": torch.__version__,
    }


def run_cell(
    cell: Cell, cache_dir: Path, device: str = "auto", progress: bool = False, wait: bool = True
) -> dict[str, Any] | None:
    """Train one cell (or load its cached record) and return the record. With wait=False,
    returns None instead of waiting while another process trains this cell."""
    res = cell.resolve(device)
    configs = res.configs()
    hit = load_cached(cache_dir, configs)
    if hit is not None:
        return hit
    key = cache_key(configs)
    with cell_lock(cache_dir, key, wait) as held:
        if not held:
            return None
        # Re-checked under the lock: another process may have finished it while we waited.
        return cached_run(
            cache_dir, configs, lambda k: _train_cell(cell, res, cache_dir, k, device, progress)
        )


def run_sweep(
    cells: list[Cell], cache_dir: Path, device: str = "auto", progress: bool = False, log: bool = True
) -> list[dict[str, Any]]:
    """Validate every cell, then run (or load) each one; records come back in cell order.

    Cells another process is training are skipped on the first pass and awaited on the second,
    so concurrent runs of one sweep share the work instead of queueing behind each other."""
    validate_cells(cells)
    records: list[dict[str, Any] | None] = [None] * len(cells)
    for wait in (False, True):
        for i, cell in enumerate(cells):
            if records[i] is not None:
                continue
            rec = run_cell(cell, cache_dir, device, progress, wait=wait)
            if rec is None:
                continue
            records[i] = rec
            if log:
                best = rec["best"]
                took = "cached" if rec.get("cached") else f"{rec['wall_time']:.0f}s"
                metric = "bpc" if "bpc" in cell.train.get("monitor", "acc") else "acc"
                print(
                    f"[{i + 1}/{len(cells)}] {rec['label']:<32} seed {cell.seed}  "
                    f"{metric} {best.get(metric, float('nan')):.4f}  steps {rec['steps']}  {took}",
                    flush=True,
                )
    return records  # type: ignore[return-value]
