"""PRISM speed: the Multi-Rate Bus scan (chunked vs the recurrent loop, the baseline measured in
the same run) and one PrismLM training step vs a parameter-matched Transformer's, as ratios.

    result = bench_prism_speed(Path("results/prism"))      # bench_prism.json | .md

Every figure is fp32 forward+backward, the median of `repeats` timed calls after one warm-up
(bench.timing.time_call), with the machine's load beside it (bench.timing.environment). Each
scan row also records how far the chunked output is from the loop's (`scan_max_abs_diff`), so a
fast but wrong scan cannot hide in a speed table. The training-step section ends in an explicit
pass/fail row: PRISM's step time over the matched Transformer's against `STEP_RATIO_TARGET`.
Official figures: `prismlm bench prism --threads 1` on a quiet machine.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from ..experiment.arms import build_arm
from ..experiment.report import markdown_table
from ..io import write_record
from ..layers.multirate_bus import MultiRateBus
from ..ops.multirate_scan import log_spaced_rates, multirate_scan_chunked, multirate_scan_recurrent
from .timing import environment, time_call

NUM_RATES = 4
SCAN_COLUMNS = [
    "batch",
    "T",
    "d_model",
    "scan_recurrent_ms",
    "scan_chunked_ms",
    "scan_speedup",
    "scan_max_abs_diff",
    "mrb_recurrent_ms",
    "mrb_chunked_ms",
    "mrb_speedup",
]
STEP_VOCAB = 256
# Issue 19's budget: a toy PRISM training step may cost at most this many Transformer steps.
STEP_RATIO_TARGET = 2.0
# The toy PRISM of the step benchmark, and the Transformer matched to its parameter count
# through the arms registry (models.matching.match_transformer).
STEP_ARMS = {
    "full": {"model": "prism", "d_model": 128, "num_slots": 32},
    "quick": {"model": "prism", "d_model": 32, "num_slots": 8},
}


def bench_inputs(batch: int, length: int, d_model: int, seed: int = 0) -> torch.Tensor:
    """The scan input of one row: N(0, 1), [batch, length, d_model], drawn from `seed`."""
    return torch.randn(batch, length, d_model, generator=torch.Generator().manual_seed(seed))


def scan_rates() -> torch.Tensor:
    """The log-rates Δ_k of the benchmark (the spec's defaults, ln 2 … ln 256)."""
    return log_spaced_rates(NUM_RATES)


def _fwd_bwd(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        fn(x).sum().backward()

    return run


def _scan_row(batch: int, length: int, d_model: int, repeats: int) -> dict[str, Any]:
    rates = scan_rates()
    x = bench_inputs(batch, length, d_model).requires_grad_(True)
    with torch.no_grad():
        diff = (multirate_scan_chunked(x, rates) - multirate_scan_recurrent(x, rates)).abs().max()
    row: dict[str, Any] = {"batch": batch, "T": length, "d_model": d_model, "scan_max_abs_diff": float(diff)}
    for name, fn in (("chunked", multirate_scan_chunked), ("recurrent", multirate_scan_recurrent)):
        t = time_call(_fwd_bwd(lambda z, fn=fn: fn(z, rates), x), repeats=repeats, warmup=1)
        row[f"scan_{name}_ms"] = 1e3 * t["median_s"]
    for name, recurrent in (("chunked", False), ("recurrent", True)):
        layer = MultiRateBus(d_model, NUM_RATES, recurrent=recurrent)
        t = time_call(_fwd_bwd(lambda z, layer=layer: layer(z)[0], x), repeats=repeats, warmup=1)
        row[f"mrb_{name}_ms"] = 1e3 * t["median_s"]
    row["scan_speedup"] = row["scan_recurrent_ms"] / row["scan_chunked_ms"]
    row["mrb_speedup"] = row["mrb_recurrent_ms"] / row["mrb_chunked_ms"]
    return row


def _train_step(quick: bool, repeats: int) -> dict[str, Any]:
    """ms per AdamW step of the toy PrismLM and of the Transformer (same d_model, 4 layers,
    4 heads) whose FFN width matches PRISM's parameter count. The two models' runs alternate
    (one timed step each, `repeats` rounds, after one warm-up each), so a change of load on a
    shared machine hits both; each figure is the median of its rounds."""
    batch, length = (4, 64) if quick else (16, 256)
    prism_arm = STEP_ARMS["quick" if quick else "full"]
    arms = {
        "prism": prism_arm,
        "transformer": {
            "model": "transformer",
            "d_model": prism_arm["d_model"],
            "n_layers": 4,
            "n_heads": 4,
            "match_to": prism_arm,
        },
    }
    x = torch.randint(0, STEP_VOCAB, (batch, length), generator=torch.Generator().manual_seed(0))
    out: dict[str, Any] = {"batch": batch, "T": length, "models": {}}
    steps, runs = {}, {}
    for name, arm in arms.items():
        torch.manual_seed(0)
        model = build_arm(arm, STEP_VOCAB, length)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

        def step(model=model, opt=opt) -> None:
            logits, aux = model(x, return_aux=True)
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), x.flatten()) + aux
            opt.zero_grad()
            loss.backward()
            opt.step()

        steps[name], runs[name] = step, []
        out["models"][name] = {"params": model.num_parameters()}
        step()  # warm-up
    for _ in range(repeats):
        for name, step in steps.items():
            runs[name].append(time_call(step, repeats=1, warmup=0)["median_s"])
    for name, times in runs.items():
        out["models"][name]["step_ms"] = 1e3 * statistics.median(times)
    out["ratio"] = out["models"]["prism"]["step_ms"] / out["models"]["transformer"]["step_ms"]
    out["target"] = STEP_RATIO_TARGET
    out["passed"] = out["ratio"] <= STEP_RATIO_TARGET
    return out


def scaling_exponent(rows: list[dict[str, Any]], column: str = "scan_chunked_ms") -> float:
    """Slope of log(time) against log(T) between the shortest and longest T at batch 1 (1 for
    a linear-time scan, 2 for a quadratic one); nan with fewer than two lengths."""
    pts = sorted((r["T"], r[column]) for r in rows if r["batch"] == min(x["batch"] for x in rows))
    if len(pts) < 2 or pts[0][0] == pts[-1][0]:
        return math.nan
    (t0, y0), (t1, y1) = pts[0], pts[-1]
    return math.log(y1 / y0) / math.log(t1 / t0)


def bench_prism_speed(
    out: Path = Path("results/prism"),
    lengths: Sequence[int] = (256, 1024, 4096),
    batches: Sequence[int] = (1, 8),
    d_model: int = 128,
    quick: bool = False,
    repeats: int | None = None,
    log: Callable[[str], None] = print,
    threads: int | None = None,
) -> dict[str, Any]:
    """Run both benchmarks, write `<out>/bench_prism.json|.md`, return the payload.

    threads: torch's intra-op threads for the run (None: leave the current setting); the
    setting in force is recorded with the load average (`bench.timing.environment`)."""
    repeats = repeats or (1 if quick else 5)
    previous = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)
    try:
        rows = [_scan_row(b, t, d_model, repeats) for b in batches for t in lengths]
        step = _train_step(quick, repeats)
        env = environment()
    finally:
        torch.set_num_threads(previous)
    payload = {
        "mrb": rows,
        "train_step": step,
        "scan_exponent": scaling_exponent(rows),
        "repeats": repeats,
        "environment": env,
    }
    md = [
        "# PRISM speed (fp32, forward+backward, median of runs)",
        "",
        f"Load average {env['load_average']}, {env['threads']} threads.",
        "",
        "## Multi-Rate Bus: chunked scan vs the recurrent loop (same inputs, same run)",
        "",
        markdown_table(rows, SCAN_COLUMNS),
        f"Chunked-scan time exponent in T (batch {min(batches)}): {payload['scan_exponent']:.2f}.",
        "",
        f"## Training step (AdamW, B={step['batch']}, T={step['T']}, {env['threads']} threads, "
        f"load average {env['load_average'][0]:.2f})",
        "",
        markdown_table(
            [{"model": k, **v} for k, v in step["models"].items()], ["model", "params", "step_ms"]
        ),
        f"PRISM / parameter-matched Transformer step-time ratio: {step['ratio']:.2f}.",
        "",
        markdown_table(
            [
                {
                    "check": "PRISM / Transformer step time",
                    "ratio": step["ratio"],
                    "target": f"<= {step['target']:.1f}",
                    "result": "pass" if step["passed"] else "FAIL",
                }
            ],
            ["check", "ratio", "target", "result"],
        ),
    ]
    text = "\n".join(md)
    write_record(Path(out), "bench_prism", payload, text)
    log(text)
    return payload
