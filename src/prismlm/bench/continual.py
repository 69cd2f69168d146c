"""E1 wall-time benchmark for the continual learners (`prismlm continual bench`).

Times the whole of E1 (all learners x all seeds) three ways, in the same run, with
`bench.timing.time_call` (median of `repeats`) and the `environment()` record beside:
- fast: seeds batched inside each learner job, jobs in parallel single-threaded processes;
- batched, one process: the same tensor programs run one job after another;
- per-seed loop: the batched code driven one seed at a time (the reference's loop nesting);
  measured on `loop_seeds` seeds and scaled to the full seed count (labelled as such).
The reference's own figure (spec §5: 88 s measured on a 2-core CPU, one thread) is shown next to
the measurements. Nothing is cached: every path recomputes E1.
"""

from __future__ import annotations

from pathlib import Path

from ..io import write_record
from ..reproduce.continual.configs import E1Config
from ..reproduce.continual.experiments import e1
from .timing import environment, time_call

REFERENCE_E1_SECONDS = 88.0
TARGET_SECONDS = 15.0


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


def run_continual_benchmark(out: Path | None, seeds: int = 10, epochs: int = 15,
                            workers: int = 2, repeats: int = 1, loop_seeds: int = 1,
                            include_slow_paths: bool = True) -> dict:
    """Run the timings and write <out>/bench_e1.{json,md,png}. Returns the record."""
    env_before = environment(threads=1)
    cfg = E1Config(seeds=tuple(range(seeds)), epochs=epochs)
    payloads: list[dict] = []

    def fast() -> None:
        payloads.append(e1(cfg, out=None, workers=workers, progress=False))

    fast_t = time_call(fast, repeats=repeats, warmup=0)
    idle = min(p["timing_s"]["idle_estimate"] for p in payloads)
    cpu_total = min(sum(p["timing_s"]["cpu"].values()) for p in payloads)
    rows = [{"path": f"fast ({workers} workers, seeds batched), wall",
             "seconds": fast_t["median_s"], "measured": True},
            {"path": f"fast, jobs' CPU seconds scheduled onto {workers} idle cores",
             "seconds": idle, "measured": True},
            {"path": "fast, total CPU seconds (all jobs)", "seconds": cpu_total, "measured": True}]
    if include_slow_paths:
        one = time_call(lambda: e1(cfg, out=None, workers=1, progress=False), 1, 0)
        rows.append({"path": "batched, one process", "seconds": one["median_s"],
                     "measured": True})
        loop = sum(time_call(lambda s=s: e1(E1Config(seeds=(s,), epochs=epochs), out=None,
                                             workers=1, progress=False), 1, 0)["median_s"]
                   for s in range(loop_seeds))
        rows.append({"path": f"per-seed loop ({loop_seeds} seed(s) measured, x{seeds}/"
                             f"{loop_seeds} scaled)", "seconds": loop * seeds / loop_seeds,
                     "measured": False})
    rows.append({"path": "reference (spec §5, 2-core CPU, one thread)",
                 "seconds": REFERENCE_E1_SECONDS, "measured": False})
    env_after = environment(threads=1)
    passed = fast_t["median_s"] <= TARGET_SECONDS
    lines = [f"# E1 wall time: {seeds} seeds x {epochs} epochs, all learners", "",
             "| path | seconds | speed-up vs reference |", "|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['path']} | {r['seconds']:.1f} | "
                     f"{REFERENCE_E1_SECONDS / r['seconds']:.1f}x |")
    lines += ["", f"target <= {TARGET_SECONDS:.0f} s wall: {'PASS' if passed else 'FAIL'} "
              f"(fast path median {fast_t['median_s']:.1f} s over {repeats} run(s); "
              f"{idle:.1f} s from CPU time on idle cores)",
              f"load average before {env_before['load_average'][0]:.2f}, after "
              f"{env_after['load_average'][0]:.2f} on {env_before['cpu_count']} CPUs "
              "(other processes inflate timings)"]
    md = "\n".join(lines)
    record = {"benchmark": "continual_e1", "config": cfg, "workers": workers, "rows": rows,
              "fast": fast_t, "target_s": TARGET_SECONDS, "passed": passed,
              "idle_estimate_s": idle, "cpu_total_s": cpu_total,
              "job_timing_s": payloads[0]["timing_s"], "environment_before": env_before,
              "environment_after": env_after, "e1_rows": payloads[0]["rows"], "markdown": md}
    if out is not None:
        paths = write_record(out, "bench_e1", record, md, _figure(rows))
        record["files"] = {k: str(v) for k, v in paths.items()}
    return record
