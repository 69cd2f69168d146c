"""`prismlm reproduce prizma-seq`: re-measure each of seed 000's seven legs with one command.

    reproduce(["mqar", "induction"], scale="cpu", out=Path("results/prizma_seq"))

Each leg writes `<out>/<leg>/<leg>.json|.md|.png`; all legs share the cell cache `<out>/cache`,
so a killed run resumes and a cell two legs need is trained once. `<out>/summary.md` collects the
measured-vs-seed line of every leg that ran.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...config import require
from ...experiment.report import markdown_table
from ...io import atomic_write_bytes
from .charlm import leg_charlm
from .latency import leg_latency
from .recall import leg_ablation, leg_induction, leg_lengen, leg_mqar, leg_selcopy
from .scales import DEFAULT_SEEDS, SCALE_NAMES

LEGS: dict[str, Callable[..., dict[str, Any]]] = {
    "mqar": leg_mqar,
    "induction": leg_induction,
    "selcopy": leg_selcopy,
    "charlm": leg_charlm,
    "latency": leg_latency,
    "ablation": leg_ablation,
    "lengen": leg_lengen,
}


def reproduce(
    legs: list[str] | None = None,
    scale: str = "cpu",
    seeds: list[int] | None = None,
    out: Path = Path("results/prizma_seq"),
    device: str = "auto",
    progress: bool = False,
) -> dict[str, dict[str, Any]]:
    """Run the named legs (all when None) and return {leg: headline}."""
    require(scale in SCALE_NAMES, "scale", f"must be one of {SCALE_NAMES}, got {scale!r}")
    legs = list(LEGS) if not legs else legs
    for leg in legs:
        require(leg in LEGS, "leg", f"unknown leg {leg!r}; known: {sorted(LEGS)}")
    seeds = list(DEFAULT_SEEDS[scale] if seeds is None else seeds)
    require(len(seeds) >= 1, "seeds", "name at least one seed")
    out = Path(out)
    summary_file = out / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    done = {}
    for leg in legs:
        print(f"\n=== prizma-seq leg: {leg} ({scale} scale, seeds {seeds}) ===", flush=True)
        headline = LEGS[leg](scale, seeds, out, device, progress)
        done[leg] = headline
        summary[leg] = {"scale": scale, "seeds": seeds, **headline}
        atomic_write_bytes(summary_file, json.dumps(summary, indent=1, default=str).encode())
    rows = [
        {"leg": k, "scale": v["scale"], "measured": v["measured"], "seed 000": v["seed"]}
        for k, v in summary.items()
    ]
    text = "# Prizma-Seq: measured vs seed 000\n\n" + markdown_table(rows)
    atomic_write_bytes(out / "summary.md", text.encode())
    print("\n" + text, flush=True)
    return done
