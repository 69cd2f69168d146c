"""A recall leg as data, and the one runner and report writer every Prizma-Seq leg uses.

    record = run_leg(MQAR, scale="cpu", seeds=[0, 1], out=Path("results/prizma_seq"))

A `Leg` names the sizes it reads (`SCALES[scale][leg.spec]`), the cells it trains, how the trained
records become per-arm rows, the headline it draws from those rows, and its table columns and
plot. `run_leg` runs the cells through the shared fingerprint-keyed cache `<out>/cache` (a cell two
legs need is trained once), then writes `<out>/<leg>/<leg>.json|.md|.png` beside the seed's figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...experiment import report
from ...experiment.rows import welch_table
from ...experiment.sweep import Cell, run_sweep
from .reference import REFERENCE
from .scales import SCALES

Rows = list[dict[str, Any]]
Plot = Callable[[Any], None]

# The columns of a per-arm accuracy table (experiment.rows.acc_rows).
ACC_COLUMNS = ["arm", "params", "solve", "median_acc", "mean_acc", "ci95_low", "ci95_high", "per_seed"]


def bar_plot(rows: Rows, key: str = "median_acc", ylabel: str = "accuracy") -> Plot:
    """Bars of `key` per arm with every seed's value as a dot."""

    def plot(ax):
        ax.bar(range(len(rows)), [r[key] for r in rows], color="tab:blue")
        for i, r in enumerate(rows):
            for x in r.get("per_seed", []):
                ax.plot(i, x, "k.", ms=4)
        ax.set_xticks(range(len(rows)), [r["arm"] for r in rows], rotation=20, ha="right", fontsize=7)
        ax.set_ylabel(ylabel)

    return plot


def _welch_first_arm(spec: dict[str, Any], records: Rows, rows: Rows) -> dict[str, Any]:
    return {"welch": welch_table(records, rows[0]["arm"])}


@dataclass(frozen=True)
class Leg:
    """One recall leg of seed 000, as data.

    name: the leg (folder, file and REFERENCE key); spec: the SCALES entry it reads (the ablation
    reuses "mqar"); cells(spec, seeds) -> the cells to train; rows(spec, records) -> one row per
    arm; headline(spec, rows) -> {"measured": text, ...flags} (the runner adds "published");
    columns(spec) -> table columns; plot(spec, rows) -> a function drawing on a matplotlib Axes;
    extra(spec, records, rows) -> further payload fields (by default the Welch tests of the first
    arm against the others).
    """

    name: str
    spec: str
    cells: Callable[[dict[str, Any], list[int]], list[Cell]]
    rows: Callable[[dict[str, Any], Rows], Rows]
    headline: Callable[[dict[str, Any], Rows], dict[str, Any]]
    columns: Callable[[dict[str, Any]], list[str]] = lambda spec: ACC_COLUMNS + ["step_ms"]
    plot: Callable[[dict[str, Any], Rows], Plot] = lambda spec, rows: bar_plot(rows)
    extra: Callable[[dict[str, Any], Rows, Rows], dict[str, Any]] = _welch_first_arm


def run_leg(
    leg: Leg, scale: str, seeds: list[int], out: Path, device: str = "auto", progress: bool = False
) -> dict[str, Any]:
    """Train (or load) the leg's cells, write its report, return the leg's record."""
    spec = SCALES[scale][leg.spec]
    records = run_sweep(leg.cells(spec, list(seeds)), Path(out) / "cache", device, progress)
    rows = leg.rows(spec, records)
    headline = {**leg.headline(spec, rows), "published": REFERENCE[leg.name]["claim"]}
    payload = {
        "scale": scale,
        "seeds": list(seeds),
        "records": [r["key"] for r in records],
        "configs": [r["config"] for r in records],
        "headline": headline,
        **leg.extra(spec, records, rows),
    }
    return write_leg_report(
        Path(out) / leg.name, leg.name, payload, rows, leg.columns(spec), leg.plot(spec, rows)
    )


def write_leg_report(
    out_dir: Path,
    leg: str,
    payload: dict[str, Any],
    rows: Rows,
    columns: list[str] | None = None,
    plot: Plot | None = None,
    notes: list[str] | None = None,
) -> dict[str, Any]:
    """The experiment report (experiment.report.write_leg_report) with seed 000's rows for `leg`."""
    return report.write_leg_report(
        out_dir, leg, payload, rows, REFERENCE[leg], columns, plot, notes, "Seed 000 reference (paper scale)"
    )
