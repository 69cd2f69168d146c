"""`prismlm reproduce prizma-seq`: re-measure each of seed 000's seven legs with one command.

    records = reproduce(["mqar", "induction"], scale="cpu", out=Path("results/prizma_seq"))

Each leg writes `<out>/<leg>/<leg>.json|.md|.png` and returns that record (its `headline` holds
the measured line beside the `published` claim); all legs share the cell cache `<out>/cache`, so
a killed run resumes and a cell two legs need is trained once. `<out>/summary.md` collects the
measured-vs-published line of every leg that ran.

`SEARCH_LEGS` are legs that are not one of seed 000's: `--leg separation` (separation.py) searches
for the smallest MQAR rung at which the ablation arms part. They run only when named, never by
default, and have no claim of their own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from ...config import require
from ...experiment.report import markdown_table
from ...io import atomic_write_bytes, atomic_write_json
from .charlm import leg_charlm
from .latency import leg_latency
from .leg import run_leg
from .recall import RECALL_LEGS
from .scales import DEFAULT_SEEDS, SCALE_NAMES
from .separation import leg_separation

# leg name -> fn(scale, seeds, out, device, progress) -> the leg's record; in seed 000's order.
LEGS: dict[str, Callable[..., dict[str, Any]]] = {
    "mqar": partial(run_leg, RECALL_LEGS["mqar"]),
    "induction": partial(run_leg, RECALL_LEGS["induction"]),
    "selcopy": partial(run_leg, RECALL_LEGS["selcopy"]),
    "charlm": leg_charlm,
    "latency": leg_latency,
    "ablation": partial(run_leg, RECALL_LEGS["ablation"]),
    "lengen": partial(run_leg, RECALL_LEGS["lengen"]),
}
# Named-only legs (same signature); `resolve(None, ...)` leaves them out.
SEARCH_LEGS: dict[str, Callable[..., dict[str, Any]]] = {"separation": leg_separation}


def resolve(legs: list[str] | None, scale: str, seeds: list[int] | None) -> tuple[list[str], list[int]]:
    """Check the leg names, scale and seeds; None means every leg / the scale's default seeds."""
    require(scale in SCALE_NAMES, "scale", f"must be one of {SCALE_NAMES}, got {scale!r}")
    legs = list(LEGS) if not legs else list(legs)
    for leg in legs:
        known = {**LEGS, **SEARCH_LEGS}
        require(leg in known, "leg", f"unknown leg {leg!r}; known: {sorted(known)}")
    seeds = list(DEFAULT_SEEDS[scale] if seeds is None else seeds)
    require(len(seeds) >= 1, "seeds", "name at least one seed")
    return legs, seeds


def _published(headline: dict[str, Any]) -> str:
    # summaries written before the rename keep the published claim under "seed"
    return headline["published"] if "published" in headline else headline["seed"]


def reproduce(
    legs: list[str] | None = None,
    scale: str = "cpu",
    seeds: list[int] | None = None,
    out: Path = Path("results/prizma_seq"),
    device: str = "auto",
    progress: bool = False,
) -> dict[str, dict[str, Any]]:
    """Run the named legs (all when None) and return {leg: record}."""
    legs, seeds = resolve(legs, scale, seeds)
    out = Path(out)
    summary_file = out / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    done = {}
    for leg in legs:
        print(f"\n=== prizma-seq leg: {leg} ({scale} scale, seeds {seeds}) ===", flush=True)
        done[leg] = {**LEGS, **SEARCH_LEGS}[leg](scale, seeds, out, device, progress)
        summary[leg] = {"scale": scale, "seeds": seeds, **done[leg]["headline"]}
        atomic_write_json(summary_file, summary)
    rows = [
        {"leg": k, "scale": v["scale"], "measured": v["measured"], "published": _published(v)}
        for k, v in summary.items()
    ]
    text = "# Prizma-Seq: measured vs published (seed 000)\n\n" + markdown_table(rows)
    atomic_write_bytes(out / "summary.md", text.encode())
    print("\n" + text, flush=True)
    return done
