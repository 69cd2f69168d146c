"""What a run records: best-so-far with the early-stop rules, and the metrics log.

`_EarlyStop` implements spec §5's plateau and solve rules; `_MetricsLog` writes metrics.jsonl
(and TensorBoard scalars when asked) on the main rank only.
"""

from __future__ import annotations

import json
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
