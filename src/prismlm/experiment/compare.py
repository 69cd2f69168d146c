"""`prismlm compare`: a list of Cells run through the one sweep engine, reported per arm.

    spec = Comparison(grid(arms, [task], train, seeds=[0, 1]))
    rows = compare(spec, Path("results/compare"), name="mine")

This module holds no experiment data; the named presets (`prismlm compare --preset`) live in
`prismlm.reproduce.presets`, beside the systems they come from.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import require
from ..io import confined_path
from .report import write_leg_report
from .rows import acc_rows, make_arm, welch_table
from .sweep import Cell, grid, run_sweep

COLUMNS = [
    "task",
    "arm",
    "params",
    "solve",
    "median_acc",
    "mean_acc",
    "ci95_low",
    "ci95_high",
    "per_seed",
    "step_ms",
]


@dataclass
class Comparison:
    """The cells of one comparison; `threshold` is the accuracy that counts as solved,
    `reference` the published rows shown beside the measured ones."""

    cells: list[Cell]
    threshold: float = 0.9
    reference: dict[str, Any] = field(default_factory=dict)

    @property
    def seeds(self) -> list[int]:
        return list(dict.fromkeys(c.seed for c in self.cells))

    def with_seeds(self, seeds: list[int]) -> Comparison:
        """The same experiments at these seeds (cells differing only in seed are merged)."""
        require(len(seeds) >= 1, "seeds", "name at least one seed")
        distinct = {
            json.dumps(dataclasses.replace(c, seed=0).config(), sort_keys=True): c for c in self.cells
        }
        cells = [dataclasses.replace(c, seed=s) for c in distinct.values() for s in seeds]
        return dataclasses.replace(self, cells=cells)

    def with_train(self, overrides: dict[str, Any]) -> Comparison:
        cells = [dataclasses.replace(c, train={**c.train, **overrides}) for c in self.cells]
        return dataclasses.replace(self, cells=cells)


def spec_from_names(
    models: list[str],
    task: dict[str, Any],
    train: dict[str, Any],
    seeds: list[int],
    dims: dict[str, Any],
    feat_n2: int = 0,
) -> Comparison:
    """Arms named like "prizma-quad2" or "transformer", all of size `dims`."""
    arms = [make_arm(m, dims, feat_n2) for m in models]
    return Comparison(grid(arms, [task], train, seeds))


def compare(
    spec: Comparison,
    out: Path,
    name: str = "compare",
    seeds: list[int] | None = None,
    device: str = "auto",
    progress: bool = False,
    scale: str = "custom",
) -> list[dict[str, Any]]:
    """Run the comparison, write `<out>/<name>.json|.md|.png`, return one row per (task, arm);
    the Welch tests compare each task's first arm with the others."""
    require(len(spec.cells) >= 1, "models", "name at least one model")
    confined_path(Path(out), f"{name}.json")  # a report name never writes outside `out`
    if seeds is not None:
        spec = spec.with_seeds(seeds)
    records = run_sweep(spec.cells, Path(out) / "cache", device, progress)
    rows, welch = [], {}
    tasks = list(dict.fromkeys(json.dumps(c.task, sort_keys=True) for c in spec.cells))
    for task in tasks:
        recs = [
            r for r, c in zip(records, spec.cells, strict=True) if json.dumps(c.task, sort_keys=True) == task
        ]
        task_rows = acc_rows(recs, spec.threshold)
        for row in task_rows:
            row["task"] = json.loads(task).get("name", "?")
        rows += task_rows
        for k, v in welch_table(recs, task_rows[0]["arm"]).items():
            welch[f"{task_rows[0]['task']}: {k}" if len(tasks) > 1 else k] = v
    payload = {
        "scale": scale,
        "seeds": spec.seeds,
        "cells": [c.config() for c in spec.cells],
        "records": [r["key"] for r in records],
        "welch": welch,
    }
    write_leg_report(Path(out), name, payload, rows, spec.reference or {"rows": []}, COLUMNS)
    return rows
