"""Decode latency and decode-state memory against context length (spec §6.1).

Both models decode through their `step` API at batch 1 from an empty state with greedy
feedback, fp32, eval mode: per context n, `bench.timing.time_call` makes `warmup` untimed runs
then `repeats` timed runs (device synchronised); median total time / n = per-step time. State
memory is the number of floats each model carries after n tokens (Prizma: constant delta state +
window ring; the Transformer: its KV cache); on CUDA the peak allocated memory over the timed
runs is reported too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ...bench.timing import time_call
from ...experiment.arms import build_arm
from ...experiment.rows import make_arm
from ...layers.decode_weights import reuse_decode_weights
from .leg import write_leg_report
from .reference import REFERENCE
from .scales import SCALES


@torch.no_grad()
def decode(model, n: int, device: torch.device, seed: int = 0) -> int:
    """Greedy-decode n tokens from a random first token; return the state's size in floats.

    Only the size is returned, so the state (a KV cache of n tokens) is freed before the next run.
    """
    gen = torch.Generator().manual_seed(seed)
    token = torch.randint(0, model.config.vocab_size, (1,), generator=gen).to(device)
    state = model.init_state(1, device=device)
    with reuse_decode_weights():
        for _ in range(n):
            logits, state = model.step(token, state)
            token = logits.argmax(-1)
    return int(state.num_floats())


def measure_decode(
    model, lengths: list[int], device: torch.device, warmup: int, repeats: int
) -> list[dict[str, Any]]:
    """One row per context n: median ms per step (and every run's), state floats, CUDA peak MB."""
    model.eval().to(device)
    rows = []
    for n in lengths:
        floats: list[int] = []
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        timing = time_call(
            lambda n=n, fl=floats: fl.append(decode(model, n, device)), repeats, warmup, device
        )
        peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
        rows.append(
            {
                "n": n,
                "ms_per_step": 1000 * timing["median_s"] / n,
                "ms_per_step_runs": [1000 * t / n for t in timing["runs_s"]],
                "state_floats": floats[-1],
                "peak_mb": peak,
            }
        )
    return rows


def leg_latency(scale: str, seeds, out: Path, device: str = "auto", progress: bool = False):
    from ...train.trainer import resolve_device

    s = SCALES[scale]["latency"]
    dev = resolve_device(device)
    sizes = {"small": s}
    if "big" in s:
        sizes["big"] = s["big"]
    rows: list[dict[str, Any]] = []
    crossover: dict[str, int | None] = {}
    max_len = max(s["lengths"]) + 8
    for size, spec in sizes.items():
        meas = {}
        for name in ("prizma-quad2", "transformer"):
            torch.manual_seed(0)
            model = build_arm(make_arm(name, spec["dims"], spec["feat_n2"]), s["vocab_size"], max_len)
            meas[name] = measure_decode(model, s["lengths"], dev, s["warmup"], s["repeats"])
            del model
        crossover[size] = None
        for p, t in zip(meas["prizma-quad2"], meas["transformer"], strict=True):
            rows.append(
                {
                    "size": size,
                    "n": p["n"],
                    "transformer_ms": t["ms_per_step"],
                    "prizma_ms": p["ms_per_step"],
                    "speedup": t["ms_per_step"] / p["ms_per_step"],
                    "kv_floats": t["state_floats"],
                    "state_floats": p["state_floats"],
                    "memory_ratio": t["state_floats"] / p["state_floats"],
                    "transformer_peak_mb": t["peak_mb"],
                    "prizma_peak_mb": p["peak_mb"],
                    "transformer_ms_runs": t["ms_per_step_runs"],
                    "prizma_ms_runs": p["ms_per_step_runs"],
                }
            )
            if crossover[size] is None and t["ms_per_step"] > p["ms_per_step"]:
                crossover[size] = p["n"]
    small = [r for r in rows if r["size"] == "small"]
    flat = max(r["prizma_ms"] for r in small) / min(r["prizma_ms"] for r in small)
    constant = len({r["state_floats"] for r in small}) == 1
    headline = {
        "measured": f"state {small[0]['state_floats']:,} floats "
        f"{'constant' if constant else 'varying'} vs KV "
        f"{small[0]['kv_floats']:,}→{small[-1]['kv_floats']:,}; Prizma ms/step "
        f"{small[0]['prizma_ms']:.2f}→{small[-1]['prizma_ms']:.2f} (TF "
        f"{small[0]['transformer_ms']:.2f}→{small[-1]['transformer_ms']:.2f}); "
        f"crossover n={crossover['small']}",
        "published": REFERENCE["latency"]["claim"],
        "crossover": crossover,
        "prizma_max_over_min_ms": flat,
        "state_constant": constant,
    }

    def plot(ax):
        for size in sizes:
            sel = [r for r in rows if r["size"] == size]
            ax.plot(
                [r["n"] for r in sel], [r["transformer_ms"] for r in sel], "o-", label=f"transformer {size}"
            )
            ax.plot([r["n"] for r in sel], [r["prizma_ms"] for r in sel], "s-", label=f"prizma-quad2 {size}")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("context n (tokens decoded)")
        ax.set_ylabel("ms per step")
        ax.legend(fontsize=7)

    cols = [
        "size",
        "n",
        "transformer_ms",
        "prizma_ms",
        "speedup",
        "kv_floats",
        "state_floats",
        "memory_ratio",
        "transformer_peak_mb",
        "prizma_peak_mb",
    ]
    payload = {"scale": scale, "seeds": list(seeds), "device": str(dev), "headline": headline}
    return write_leg_report(out / "latency", "latency", payload, rows, cols, plot)
