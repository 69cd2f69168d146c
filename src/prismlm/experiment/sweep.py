"""A sweep is data: arms × task configs × seeds, each cell cached under a fingerprint.

    cells = grid(arms=[{"model": "prizma-quad2", ...}, {"model": "transformer", ...}],
                 tasks=[{"name": "mqar", "vocab_size": 64, "num_pairs": 8}],
                 train={"steps": 2000, "lr": 1e-3}, seeds=[0, 1, 2])
    records = run_sweep(cells, cache_dir)

A cell's key hashes its whole config (arm, task, train recipe, seed, post-evals) plus the options
that change results (device type, amp, sweep code version) — never the seed alone — so a result
is reused only for the identical experiment. Records are JSON files written atomically under
`<cache_dir>/cells/`; the cell's training run checkpoints under `<cache_dir>/runs/<key>/`, so a
killed sweep resumes inside the cell it was running. Every config is validated before any cell
trains.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..config import fingerprint
from ..data.registry import build_task
from ..io import atomic_write_bytes
from ..train import TrainConfig, evaluate, train
from ..train.trainer import resolve_device
from .arms import arm_label, build_arm

SWEEP_VERSION = 1


@dataclass
class Cell:
    """One training run. post: label -> task spec scored on the frozen weights after training
    (optional keys "eval_seed", "batches"). test_split: also score the task's test split at
    every eval (char-LM), so the best-by-validation record carries its test BPC."""

    arm: dict[str, Any]
    task: dict[str, Any]
    train: dict[str, Any]
    seed: int
    post: dict[str, dict[str, Any]] = field(default_factory=dict)
    test_split: bool = False

    def config(self) -> dict[str, Any]:
        return {
            "arm": self.arm,
            "task": self.task,
            "train": {**self.train, "seed": self.seed},
            "seed": self.seed,
            "post": self.post,
            "test_split": self.test_split,
        }

    def key(self, device: str = "cpu", amp: bool = False) -> str:
        return fingerprint({"config": self.config(), "device": device, "amp": amp, "version": SWEEP_VERSION})

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
    return [
        Cell(arm, task, dict(train), seed, **cell_options) for task in tasks for arm in arms for seed in seeds
    ]


def _post_specs(cell: Cell) -> dict[str, tuple[dict[str, Any], int, int]]:
    out = {}
    for label, spec in cell.post.items():
        spec = dict(spec)
        seed, batches = spec.pop("eval_seed", None), spec.pop("batches", None)
        out[label] = (spec, seed, batches)
    return out


def validate_cells(cells: list[Cell]) -> None:
    """Build every task, train config and model (on the meta device) without training."""
    for cell in cells:
        task = build_task(cell.task)
        TrainConfig(**{**cell.train, "seed": cell.seed})
        max_len = task.max_seq_len
        for spec, _, _ in _post_specs(cell).values():
            max_len = max(max_len, build_task(spec).max_seq_len)
        with torch.device("meta"):
            build_arm(cell.arm, task.vocab_size, max_len + 8)


def run_cell(cell: Cell, cache_dir: Path, device: str = "auto", progress: bool = False) -> dict[str, Any]:
    """Train one cell (or load its cached record) and return the record."""
    dev = resolve_device(device)
    tcfg = TrainConfig(**{**cell.train, "seed": cell.seed, "device": str(dev), "progress": progress})
    amp = bool(tcfg.amp and dev.type == "cuda")
    key = cell.key(dev.type, amp)
    path = Path(cache_dir) / "cells" / f"{key}.json"
    if path.exists():
        record = json.loads(path.read_text())
        if record.get("config") == json.loads(json.dumps(cell.config())):
            record["cached"] = True
            return record
    task = build_task(cell.task)
    posts = {k: (build_task(s), seed, n) for k, (s, seed, n) in _post_specs(cell).items()}
    max_len = max([task.max_seq_len] + [t.max_seq_len for t, _, _ in posts.values()]) + 8
    torch.manual_seed(cell.seed)  # pins the initialisation to the seed
    model = build_arm(cell.arm, task.vocab_size, max_len)
    eval_fn = None
    if cell.test_split:
        test_set = task.split_batches("test", tcfg.eval_batches, tcfg.eval_bs, tcfg.eval_seed)

        def eval_fn(m):
            scores = evaluate(m, test_set, dev)
            return {"test_loss": scores["loss"], "test_bpc": scores["bpc"], "test_acc": scores["acc"]}

    run_dir = Path(cache_dir) / "runs" / key
    t0 = time.time()
    result = train(model, task, tcfg, run_dir=run_dir, eval_fn=eval_fn)
    post = {}
    for label, (ptask, seed, n) in posts.items():
        gen = torch.Generator().manual_seed(seed if seed is not None else 12345 + ptask.max_seq_len)
        batches = [ptask.eval_sample(tcfg.eval_bs, gen) for _ in range(n or tcfg.eval_batches)]
        post[label] = evaluate(model, batches, dev)
    record = {
        "key": key,
        "label": cell.label,
        "config": cell.config(),
        "options": {"device": dev.type, "amp": amp, "version": SWEEP_VERSION},
        "params": model.num_parameters(),
        "steps": result.steps,
        "wall_time": result.wall_time,
        "step_ms": 1000 * result.wall_time / max(result.steps, 1),
        "stop_reason": result.stop_reason,
        "best": result.best,
        "final": result.final,
        "history": result.history,
        "post": post,
        "torch": torch.__version__,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "session_seconds": time.time() - t0,
    }
    atomic_write_bytes(path, json.dumps(record, indent=1).encode())
    shutil.rmtree(run_dir, ignore_errors=True)
    return record


def run_sweep(
    cells: list[Cell], cache_dir: Path, device: str = "auto", progress: bool = False, log: bool = True
) -> list[dict[str, Any]]:
    """Validate every cell, then run (or load) each one in order."""
    validate_cells(cells)
    records = []
    for i, cell in enumerate(cells):
        rec = run_cell(cell, cache_dir, device, progress)
        if log:
            best = rec["best"]
            took = "cached" if rec.get("cached") else f"{rec['wall_time']:.0f}s"
            metric = "bpc" if "bpc" in cell.train.get("monitor", "acc") else "acc"
            print(
                f"[{i + 1}/{len(cells)}] {rec['label']:<32} seed {cell.seed}  "
                f"{metric} {best.get(metric, float('nan')):.4f}  steps {rec['steps']}  {took}",
                flush=True,
            )
        records.append(rec)
    return records
