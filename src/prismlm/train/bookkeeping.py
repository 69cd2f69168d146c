"""What a run records: best-so-far with the early-stop rules, and the metrics log.

`_EarlyStop` implements spec §5's plateau and solve rules; `_MetricsLog` writes metrics.jsonl
on the main rank only, and, when asked and installed, the same scalars to TensorBoard
(`<run_dir>/tb`, tag `<kind>/<name>`) and Weights & Biases (keys `<kind>/<name>`). An optional
logger that is not installed is skipped with a warning, never an error.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from ..io import atomic_write_bytes
from .config import TrainConfig
from .distributed import DistInfo


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

    def __init__(
        self, run_dir: Path | None, info: DistInfo, tensorboard: bool, wandb: bool = False,
        wandb_project: str = "prismlm", wandb_config: dict[str, Any] | None = None,
    ) -> None:
        self.path = run_dir / "metrics.jsonl" if run_dir is not None and info.is_main else None
        self.tb = self.wandb = None
        if tensorboard and self.path is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(run_dir / "tb"))
            except ImportError:  # tensorboard is optional
                warnings.warn("tensorboard is not installed: not logging to it", stacklevel=3)
        if wandb and info.is_main:
            try:
                import wandb as wb

                self.wandb = wb.init(project=wandb_project, dir=str(run_dir) if run_dir else None,
                                     config=wandb_config or {})
            except ImportError:
                warnings.warn("wandb=True but wandb is not installed; not logging to it", stacklevel=3)

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
        scalars = {
            f"{record['kind']}/{k}": v
            for k, v in record.items()
            if k not in ("kind", "step") and isinstance(v, int | float) and not isinstance(v, bool)
        }
        if self.tb is not None:
            for tag, v in scalars.items():
                self.tb.add_scalar(tag, v, record["step"])
        if self.wandb is not None:
            self.wandb.log(scalars, step=record["step"])

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
        if self.wandb is not None:
            self.wandb.finish()
