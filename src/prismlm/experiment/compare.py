"""`prismlm compare`: any arms × one task × seeds through the same sweep machinery.

Presets are named sweeps other areas can add to (`PRESETS["prism-toy"] = my_preset`): a preset
is a function of the scale returning a `ComparisonSpec`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import require
from ..reproduce.prizma_seq.scales import DEFAULT_SEEDS, SCALE_NAMES, SCALES
from .report import write_leg_report
from .rows import acc_rows, make_arm, welch_table
from .sweep import Cell, run_sweep


@dataclass
class ComparisonSpec:
    arms: list[dict[str, Any]]
    task: dict[str, Any]
    train: dict[str, Any]
    threshold: float = 0.9
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    reference: dict[str, Any] = field(default_factory=dict)


def _prizma_ablation(scale: str) -> ComparisonSpec:
    s = SCALES[scale]["mqar"]
    arms = [
        make_arm(m, s["small"], s["feat_n2"])
        for m in ("prizma-quad2", "prizma-rand_linear", "prizma-none", "transformer")
    ]
    return ComparisonSpec(arms, s["task"], s["train"], s["threshold"], DEFAULT_SEEDS[scale])


PRESETS: dict[str, Callable[[str], ComparisonSpec]] = {"prizma-ablation": _prizma_ablation}

TRAIN_BY_SCALE = {scale: SCALES[scale]["induction"]["train"] for scale in SCALE_NAMES}
DIMS_BY_SCALE = {scale: SCALES[scale]["induction"]["dims"] for scale in SCALE_NAMES}


def spec_from_names(models: list[str], task: dict[str, Any], scale: str) -> ComparisonSpec:
    """Arms named like "prizma-quad2" or "transformer" at the scale's default size."""
    dims, n2 = DIMS_BY_SCALE[scale], SCALES[scale]["induction"]["feat_n2"]
    arms = [make_arm(m, dims, n2) for m in models]
    return ComparisonSpec(arms, task, dict(TRAIN_BY_SCALE[scale]), 0.9, DEFAULT_SEEDS[scale])


def compare(
    spec: ComparisonSpec,
    out: Path,
    name: str = "compare",
    seeds: list[int] | None = None,
    device: str = "auto",
    progress: bool = False,
    scale: str = "custom",
) -> list[dict[str, Any]]:
    """Run the comparison, write `<out>/<name>.json|.md|.png`, return per-arm rows."""
    require(len(spec.arms) >= 1, "models", "name at least one model")
    seeds = list(spec.seeds if seeds is None else seeds)
    cells = Cell.grid(spec.arms, [spec.task], spec.train, seeds)
    records = run_sweep(cells, Path(out) / "cache", device, progress)
    rows = acc_rows(records, spec.threshold)
    payload = {
        "scale": scale,
        "seeds": seeds,
        "task": spec.task,
        "train": spec.train,
        "records": [r["key"] for r in records],
        "welch": welch_table(records, rows[0]["arm"]),
    }
    write_leg_report(
        Path(out),
        name,
        payload,
        rows,
        spec.reference or {"rows": []},
        ["arm", "params", "solve", "median_acc", "mean_acc", "ci95_low", "ci95_high", "per_seed", "step_ms"],
    )
    return rows


def preset_spec(name: str, scale: str) -> ComparisonSpec:
    require(name in PRESETS, "preset", f"unknown preset {name!r}; known: {sorted(PRESETS)}")
    require(scale in SCALE_NAMES, "scale", f"must be one of {SCALE_NAMES}, got {scale!r}")
    return PRESETS[name](scale)
