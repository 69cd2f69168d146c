"""E1 wall-time benchmark for the continual learners (`prismlm continual bench`).

Every timed run is a real recomputation: E1 goes through the result cache (`cached_run`) into a
fresh temporary folder, and a cache hit is refused. Timed with `bench.timing.time_call` (median
of `repeats`), with `environment()` (threads per job, load average, CPUs) before and after:
- fast: seeds batched inside each learner job, jobs in parallel single-threaded processes;
- optionally (slow paths) the same jobs one after another in one process, and the batched code
  driven one seed at a time (the reference's loop nesting), measured on `loop_seeds` seeds and
  scaled to the full seed count (labelled as such).
Two verdict rows: the fast path's median wall time against TARGET_SECONDS, and, where a
committed E1 record with the same resolved configs exists, whether the fresh per-seed ACC and
FGT of every learner equal the committed ones (speed work must not change a number).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from ..io import write_record
from ..reproduce.continual.configs import E1Config
from ..reproduce.continual.experiments import DEFAULT_OUT, e1
from .timing import environment, time_call

REFERENCE_E1_SECONDS = 88.0  # spec §5: the reference's NumPy E1, 2-core CPU, one thread
TARGET_SECONDS = 30.0  # issue 19: E1, 10 seeds, all learners, wall time on an idle machine
COMMITTED_E1 = DEFAULT_OUT / "e1" / "e1.json"
COMPARED = ("acc", "fgt")


def _figure(rows: list[dict]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    labels = [r["path"] for r in rows]
    colors = ["tab:blue" if r["measured"] else "tab:gray" for r in rows]
    ax.barh(range(len(rows)), [r["seconds"] for r in rows], color=colors)
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.axvline(TARGET_SECONDS, color="k", ls=":", label=f"target {TARGET_SECONDS:.0f} s")
    ax.set_xlabel("seconds (grey: scaled or reference, not measured here)")
    ax.invert_yaxis()
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def fresh_e1(cfg: E1Config, workers: int) -> dict:
    """E1 recomputed through the result cache in a new temporary folder (never a cache hit)."""
    with tempfile.TemporaryDirectory(prefix="prismlm-bench-e1-") as tmp:
        payload = e1(cfg, out=Path(tmp), workers=workers, progress=False)
    if payload["cached"]:
        raise RuntimeError("benchmark run was served from the result cache; nothing was timed")
    return payload


def compare_with_record(payload: dict, record: dict) -> dict:
    """Per-seed ACC and FGT of every learner, fresh `payload` vs committed `record` (E1 payloads).

    Returns {"comparable": same resolved configs, "identical": every value equal,
    "max_abs_diff", "learners": {name: {metric: max |fresh - committed|}}}.
    """
    if payload["fingerprint"] != record.get("fingerprint"):
        return {"comparable": False, "identical": None, "max_abs_diff": None, "learners": {}}
    fresh = {r["learner"]: r["metrics"] for r in payload["rows"]}
    stored = {r["learner"]: r["metrics"] for r in record["rows"]}
    diffs: dict = {}
    for name in sorted(set(fresh) | set(stored)):
        if name not in fresh or name not in stored:
            diffs[name] = {m: float("inf") for m in COMPARED}
            continue
        diffs[name] = {}
        for m in COMPARED:
            a, b = fresh[name][m]["per_seed"], stored[name][m]["per_seed"]
            diffs[name][m] = (max(abs(x - y) for x, y in zip(a, b, strict=True))
                              if len(a) == len(b) else float("inf"))
    worst = max(v for d in diffs.values() for v in d.values())
    return {"comparable": True, "identical": worst == 0.0, "max_abs_diff": worst,
            "learners": diffs}


def _identity_line(check: dict | None) -> str:
    if check is None:
        return "results vs committed record: no committed E1 record found (not checked)"
    if not check["comparable"]:
        return "results vs committed record: other configs than the committed E1 (not checked)"
    verdict = "PASS" if check["identical"] else "FAIL"
    return (f"results identical to the committed E1 record (per-seed ACC and FGT of every "
            f"learner): {verdict} (max |Δ| {check['max_abs_diff']:.3g})")


def run_continual_benchmark(out: Path | None, seeds: int = 10, epochs: int = 15,
                            workers: int = 2, repeats: int = 1, loop_seeds: int = 1,
                            include_slow_paths: bool = False,
                            committed: Path | None = COMMITTED_E1) -> dict:
    """Run the timings and write <out>/bench_e1.{json,md,png}. Returns the record."""
    env_before = environment(threads=1)
    cfg = E1Config(seeds=tuple(range(seeds)), epochs=epochs)
    payloads: list[dict] = []
    fast_t = time_call(lambda: payloads.append(fresh_e1(cfg, workers)), repeats=repeats,
                       warmup=0)
    idle = min(p["timing_s"]["idle_estimate"] for p in payloads)
    cpu_total = min(sum(p["timing_s"]["cpu"].values()) for p in payloads)
    rows = [{"path": f"fast ({workers} workers x 1 thread, seeds batched), wall",
             "seconds": fast_t["median_s"], "measured": True},
            {"path": f"fast, jobs' CPU seconds scheduled onto {workers} idle cores",
             "seconds": idle, "measured": True},
            {"path": "fast, total CPU seconds (all jobs)", "seconds": cpu_total, "measured": True}]
    if include_slow_paths:
        one = time_call(lambda: fresh_e1(cfg, 1), 1, 0)
        rows.append({"path": "batched, one process", "seconds": one["median_s"],
                     "measured": True})
        loop = sum(time_call(lambda s=s: fresh_e1(E1Config(seeds=(s,), epochs=epochs), 1),
                             1, 0)["median_s"] for s in range(loop_seeds))
        rows.append({"path": f"per-seed loop ({loop_seeds} seed(s) measured, x{seeds}/"
                             f"{loop_seeds} scaled)", "seconds": loop * seeds / loop_seeds,
                     "measured": False})
    rows.append({"path": "reference (spec §5, 2-core CPU, one thread)",
                 "seconds": REFERENCE_E1_SECONDS, "measured": False})
    env_after = environment(threads=1)
    passed = fast_t["median_s"] <= TARGET_SECONDS
    identity = None
    if committed is not None and Path(committed).exists():
        identity = compare_with_record(payloads[0], json.loads(Path(committed).read_text()))
    load = (env_before["load_average"][0], env_after["load_average"][0])
    lines = [f"# E1 wall time: {seeds} seeds x {epochs} epochs, all learners "
             "(fresh recomputation, no cache)", "",
             "| path | seconds | speed-up vs reference |", "|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['path']} | {r['seconds']:.1f} | "
                     f"{REFERENCE_E1_SECONDS / r['seconds']:.1f}x |")
    lines += ["", f"target <= {TARGET_SECONDS:.0f} s wall: {'PASS' if passed else 'FAIL'} "
              f"(fast path median {fast_t['median_s']:.1f} s over {repeats} run(s), "
              f"{workers} workers x 1 thread; {idle:.1f} s from CPU time on idle cores)",
              _identity_line(identity),
              "jobs' CPU seconds: " + ", ".join(
                  f"{k} {v:.1f}" for k, v in payloads[0]["timing_s"]["cpu"].items()),
              f"load average before {load[0]:.2f}, after {load[1]:.2f} on "
              f"{env_before['cpu_count']} CPUs (other processes inflate timings: the target "
              "is for an idle machine)"]
    md = "\n".join(lines)
    record = {"benchmark": "continual_e1", "config": cfg, "workers": workers,
              "threads_per_worker": 1, "rows": rows, "fast": fast_t,
              "target_s": TARGET_SECONDS, "passed": passed, "identity": identity,
              "idle_estimate_s": idle, "cpu_total_s": cpu_total,
              "job_timing_s": payloads[0]["timing_s"], "environment_before": env_before,
              "environment_after": env_after, "e1_rows": payloads[0]["rows"], "markdown": md}
    if out is not None:
        paths = write_record(out, "bench_e1", record, md, _figure(rows))
        record["files"] = {k: str(v) for k, v in paths.items()}
    return record
