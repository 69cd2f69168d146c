"""Probes: measurements of a trained model beyond its eval loss, named so a Cell can ask for them.

    Cell(arm, task, train, seed, probes=("routing",))   # record["probes"]["routing"] = [...]

A probe is `fn(model, task) -> JSON-able value`, run on the frozen weights after training. Its
name is part of the cell's resolved configs, so asking for a probe changes the cache key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..config import require

Probe = Callable[[Any, Any], Any]
PROBES: dict[str, Probe] = {}


def register_probe(name: str) -> Callable[[Probe], Probe]:
    def deco(fn: Probe) -> Probe:
        PROBES[name] = fn
        return fn

    return deco


def check_probes(names: tuple[str, ...]) -> None:
    for name in names:
        require(name in PROBES, "probes", f"unknown probe {name!r}; known: {sorted(PROBES)}")


@register_probe("routing")
@torch.no_grad()
def routing_report(model: Any, task: Any, batches: int = 4, seed: int = 12345) -> list[dict]:
    """PRISM only: per block, the mean share of tokens routed to each expert kind and the mean
    MRB scale gate per rate, over `batches` held-out batches of 32 (same draws for every model).
    Returns [] for a model without `routing_stats`."""
    if not hasattr(model, "routing_stats"):
        return []
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    acc: list[dict] | None = None
    for _ in range(batches):
        model(task.eval_sample(32, gen).inputs.to(device))
        stats = model.routing_stats()
        if acc is None:
            acc = stats
            continue
        for a, s in zip(acc, stats, strict=True):
            a["fractions"] = {k: a["fractions"][k] + s["fractions"][k] for k in a["fractions"]}
            a["gates"] = [x + y for x, y in zip(a["gates"], s["gates"], strict=True)]
    for a in acc or []:
        a["fractions"] = {k: v / batches for k, v in a["fractions"].items()}
        a["gates"] = [g / batches for g in a["gates"]]
    model.train(was_training)
    return acc or []
