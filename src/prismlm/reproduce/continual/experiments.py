"""Experiments E1-E5 and the digits stream. Each writes <out>/<name>.{json,md,png}.

Every record carries its config, the config fingerprint, the measured values next to the
reference figures (spec §5, §8) and a pass/fail verdict per check.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ...config import fingerprint, require
from ...continual.baselines import MLPConfig
from ...continual.learner import Prizma, PrizmaConfig
from ...continual.metrics import summarize
from ...continual.protocol import run_stream
from ...continual.runner import LEARNERS, RunConfig, StreamSpec, run_job, run_learners, torch_threads
from ...continual.streams import (
    CheckerboardConfig,
    DigitsConfig,
    StructuredPermutedConfig,
    checkerboard_ceiling,
)
from . import figures
from .report import check, checks_markdown, learner_rows, rows_markdown, write_outputs

DEFAULT_OUT = Path("results/continual")

# Reference figures: (ACC, FGT). E1 from the reference results (10 seeds, 15 epochs). The
# sign-fixed exact variant has no published number; 0.842 is the spec's measurement of it.
E1_REFERENCE = {
    "backprop": (0.445, 0.553), "ewc": (0.456, 0.411), "replay": (0.737, 0.156),
    "oracle": (0.879, 0.0), "prizma_dfa": (0.834, 0.0), "prizma_exact": (0.842, 0.0),
    "prizma_exact_reference": (0.708, 0.0), "noroute": (0.446, 0.489),
}
# The 3-epoch small stream (spec §9, seeds 0-2); None where the reference gives no figure.
SMALL_REFERENCE = {
    "backprop": (None, 0.505), "oracle": (0.81, 0.0), "prizma_dfa": (0.737, 0.0),
    "prizma_exact": (0.76, 0.0), "prizma_exact_reference": (0.69, 0.0), "noroute": (None, 0.42),
    "replay": (0.60, None),
}
DIGITS_REFERENCE = {
    "permuted": {"prizma_dfa": (0.892, 0.0), "prizma_exact_reference": (0.681, 0.0),
                 "backprop": (0.500, 0.560), "noroute": (0.517, 0.470), "oracle": (0.947, 0.0)},
    "rotated": {"prizma_dfa": (0.640, 0.001), "backprop": (0.566, 0.501),
                "oracle": (0.948, 0.0)},
}


@dataclass(frozen=True)
class E1Config:
    """E1: every learner on the structured-permuted stream (T=5, d=24, C=8)."""

    n_seeds: int = 10
    epochs: int = 15
    n_samples: int = 6000
    n_tasks: int = 5
    learners: tuple[str, ...] = LEARNERS
    workers: int = 2
    tolerance: float = 0.03

    def __post_init__(self) -> None:
        require(self.n_seeds >= 1, "n_seeds", "need at least one seed")
        require(self.epochs >= 1, "epochs", "must be >= 1")
        require(self.n_tasks >= 2, "n_tasks", "need at least two domains")
        require(self.tolerance > 0, "tolerance", "must be > 0")

    @property
    def is_full(self) -> bool:
        return self.epochs == 15 and self.n_samples == 6000 and self.n_tasks == 5

    @property
    def is_small(self) -> bool:
        return self.epochs == 3 and self.n_samples == 6000 and self.n_tasks == 5


def _mean(rows, name, metric):
    for r in rows:
        if r["learner"] == name:
            return r["metrics"][metric]["mean"]
    return None


def ordering_checks(rows: list[dict]) -> list[dict]:
    """ACC: oracle > Prizma DFA > replay > {EWC, backprop, noRoute}; FGT: bp > EWC > replay > DFA."""
    out = []
    acc = {r["learner"]: r["metrics"]["acc"]["mean"] for r in rows}
    fgt = {r["learner"]: r["metrics"]["fgt"]["mean"] for r in rows}
    chain = [n for n in ("oracle", "prizma_dfa", "replay") if n in acc]
    rest = [n for n in ("ewc", "backprop", "noroute") if n in acc]
    if len(chain) + bool(rest) >= 2:
        vals = [acc[n] for n in chain] + ([max(acc[n] for n in rest)] if rest else [])
        label = " > ".join(chain + (["max{" + ", ".join(rest) + "}"] if rest else []))
        out.append(check("ACC ordering", " > ".join(f"{v:.3f}" for v in vals), label,
                         all(a > b for a, b in zip(vals, vals[1:], strict=False))))
    chain = [n for n in ("backprop", "ewc", "replay", "prizma_dfa") if n in fgt]
    if len(chain) >= 2:
        vals = [fgt[n] for n in chain]
        out.append(check("FGT ordering", " > ".join(f"{v:.3f}" for v in vals),
                         " > ".join(chain), all(a > b for a, b in zip(vals, vals[1:],
                                                                       strict=False))))
    return out


def e1(cfg: E1Config = E1Config(), out: Path | None = DEFAULT_OUT / "e1",
       progress: bool = True) -> dict:
    """E1: the main comparison; all learners, seeds batched, learner groups in parallel."""
    seeds = tuple(range(cfg.n_seeds))
    stream_cfg = StructuredPermutedConfig(n_tasks=cfg.n_tasks, n_samples=cfg.n_samples)
    run = RunConfig(learners=cfg.learners, epochs=cfg.epochs, workers=cfg.workers,
                    prizma=PrizmaConfig(n_experts=cfg.n_tasks + 3))
    results = run_learners(StreamSpec("structured", stream_cfg, seeds), run, progress)
    reference = E1_REFERENCE if cfg.is_full else SMALL_REFERENCE if cfg.is_small else {}
    rows = learner_rows(results, reference, cfg.tolerance if cfg.is_full else 0.05)
    checks = ordering_checks(rows)
    if "prizma_dfa" in results:
        fg = summarize(results["prizma_dfa"]["R"])["fgt"]["mean"]
        checks.append(check("Prizma DFA zero forgetting", f"{fg:.4f}", "< 0.005", fg < 0.005))
        pur = float(np.min(results["prizma_dfa"]["purity"]))
        checks.append(check("Prizma DFA min test routing purity", f"{pur:.3f}",
                            ">= 0.99 (reference 1.000)", pur >= 0.99))
    if "noroute" in results:
        fg = summarize(results["noroute"]["R"])["fgt"]["mean"]
        lo, hi = (0.44, 0.54) if cfg.is_full else (0.3, 1.0)
        checks.append(check("noRoute forgets", f"{fg:.3f}", f"in [{lo}, {hi}]", lo <= fg <= hi))
    payload = {"experiment": "e1", "config": dataclasses.asdict(cfg),
               "fingerprint": fingerprint(cfg), "rows": rows, "checks": checks,
               "timing_s": results["_timing"],
               "R": {k: v["R"] for k, v in results.items() if not k.startswith("_")}}
    md = (f"# E1: structured-permuted stream, {cfg.n_seeds} seeds, {cfg.epochs} epochs\n\n"
          f"{rows_markdown(rows)}\n\n{checks_markdown(checks)}\n\n"
          + timing_line(results["_timing"], cfg.workers))
    payload["markdown"] = md
    if out is not None:
        fig = figures.learner_figure(rows, results, f"E1 ({cfg.n_seeds} seeds)")
        payload["files"] = write_outputs(out, "e1", payload, md, fig)
    return payload


def timing_line(timing: dict, workers: int) -> str:
    cpu = timing.get("cpu", {})
    jobs = ", ".join(f"{k} {timing[k]:.1f} s wall / {cpu.get(k, float('nan')):.1f} s CPU"
                     for k in cpu)
    return (f"wall time {timing['wall']:.1f} s with {workers} workers (per job: {jobs}); "
            f"CPU-time estimate on an idle {workers}-core machine: "
            f"{timing.get('idle_estimate', float('nan')):.1f} s")


def _prizma_only(configs, stream, epochs):
    learner = Prizma(configs, stream.seeds, stream.n_in, stream.n_classes)
    with torch_threads(1):
        r = run_stream(learner, stream, epochs, progress=True, desc="capacity")
    return learner, r.reshape(len(configs), stream.n_seeds, *r.shape[1:])


def e2(n_seeds: int = 5, epochs: int = 15, sigmas=(0.0, 0.3, 0.6, 0.9, 1.2),
       out: Path | None = DEFAULT_OUT / "e2", workers: int = 2) -> dict:
    """E2: separability sweep over input noise σ; Prizma DFA vs backprop, σ as a batch axis."""
    seeds = tuple(range(n_seeds))
    ref = {0.0: (0.827, 0.000, 0.433, 0.562), 0.3: (0.721, 0.016, 0.299, 0.608),
           0.6: (0.557, 0.052, 0.261, 0.508), 0.9: (0.430, 0.073, 0.239, 0.421),
           1.2: (0.344, 0.077, 0.222, 0.350)}
    spec = StreamSpec("noise_sweep", tuple(float(s) for s in sigmas), seeds)
    run = RunConfig(learners=("prizma_dfa", "backprop"), epochs=epochs, workers=workers)
    res = run_learners(spec, run, progress=True)
    table, series = [], {}
    lines = ["| σ | Prizma ACC | ref | Prizma FGT | ref | backprop ACC | ref | backprop FGT "
             "| ref | Prizma purity | verdict (±0.03) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for k, sigma in enumerate(sigmas):
        sl = slice(k * n_seeds, (k + 1) * n_seeds)
        pm = summarize(res["prizma_dfa"]["R"][sl])
        bm = summarize(res["backprop"]["R"][sl])
        pur = float(np.mean(res["prizma_dfa"]["purity"][sl]))
        r = ref.get(round(float(sigma), 3))
        cells = [pm["acc"], pm["fgt"], bm["acc"], bm["fgt"]]
        ok = None if r is None else all(abs(c["mean"] - v) <= 0.03
                                        for c, v in zip(cells, r, strict=True))
        table.append({"sigma": sigma, "prizma": pm, "backprop": bm, "purity": pur,
                      "reference": r, "passed": ok})
        verdict = "n/a" if ok is None else ("PASS" if ok else "FAIL")
        lines.append(f"| {sigma} | " + " | ".join(
            f"{c['mean']:.3f} ± {c['ci95']:.3f} | {'–' if r is None else f'{r[i]:.3f}'}"
            for i, c in enumerate(cells)) + f" | {pur:.3f} | {verdict} |")
    for k, (name, key) in enumerate((("Prizma", "prizma"), ("backprop", "backprop"))):
        for m, metric in enumerate(("acc", "fgt")):
            series[f"{name} {metric.upper()}"] = ([t[key][metric]["mean"] for t in table],
                                                  [t[key][metric]["ci95"] for t in table])
            refs = [np.nan if t["reference"] is None else t["reference"][2 * k + m]
                    for t in table]
            series[f"{name} {metric.upper()} (reference)"] = (refs, [0.0] * len(refs))
    md = (f"# E2: separability sweep ({n_seeds} seeds, {epochs} epochs)\n\n" + "\n".join(lines)
          + "\n\nReference: spec §5 E2 (5 seeds). Purity: share of each domain's test samples "
          "routed to its modal expert.\n\n" + timing_line(res["_timing"], workers))
    payload = {"experiment": "e2", "sigmas": list(sigmas), "n_seeds": n_seeds, "epochs": epochs,
               "table": table, "timing_s": res["_timing"], "markdown": md}
    if out is not None:
        fig = figures.sweep_figure(list(sigmas), series, "input noise σ", "metric",
                                   "E2: ACC / FGT vs σ")
        payload["files"] = write_outputs(out, "e2", payload, md, fig)
    return payload


def e3(n_seeds: int = 5, epochs: int = 15, capacities=(3, 4, 5, 6, 8),
       out: Path | None = DEFAULT_OUT / "e3") -> dict:
    """E3: capacity sweep; every M is one more config in a single batched Prizma."""
    ref = {3: 0.556, 4: 0.692, 5: 0.827, 6: 0.827, 8: 0.827}
    stream = StreamSpec("structured", StructuredPermutedConfig(), tuple(range(n_seeds))).build()
    learner, r = _prizma_only([PrizmaConfig(n_experts=m) for m in capacities], stream, epochs)
    rows, lines = [], ["| M | ACC ± CI | ref ACC | FGT ± CI | batches dropped (mean) | "
                       "verdict |", "|---|---|---|---|---|---|"]
    dropped = np.asarray(learner.summary()["batches_dropped"]).reshape(len(capacities), -1)
    for k, m in enumerate(capacities):
        s = summarize(r[k])
        ok = ref.get(m) is not None and abs(s["acc"]["mean"] - ref[m]) <= 0.03 \
            and abs(s["fgt"]["mean"]) < 0.005
        rows.append({"n_experts": m, "metrics": s, "reference_acc": ref.get(m),
                     "dropped": dropped[k].tolist(), "passed": ok})
        lines.append(f"| {m} | {s['acc']['mean']:.3f} ± {s['acc']['ci95']:.3f} | "
                     f"{ref.get(m, '–')} | {s['fgt']['mean']:.3f} ± {s['fgt']['ci95']:.3f} | "
                     f"{dropped[k].mean():.1f} | {'PASS' if ok else 'FAIL'} |")
    md = f"# E3: capacity ({n_seeds} seeds, {epochs} epochs)\n\n" + "\n".join(lines)
    payload = {"experiment": "e3", "rows": rows, "markdown": md, "epochs": epochs}
    if out is not None:
        series = {"Prizma ACC": ([x["metrics"]["acc"]["mean"] for x in rows],
                                 [x["metrics"]["acc"]["ci95"] for x in rows]),
                  "reference ACC": ([ref.get(m, np.nan) for m in capacities],
                                    [0.0] * len(capacities))}
        fig = figures.sweep_figure(list(capacities), series, "experts M", "ACC", "E3: capacity")
        payload["files"] = write_outputs(out, "e3", payload, md, fig)
    return payload


def e4(n_seeds: int = 5, epochs: int = 15, out: Path | None = DEFAULT_OUT / "e4") -> dict:
    """E4: locality. DFA vs exact W^T (sign fixed) vs the reference's sign-flipped exact."""
    ref = {"prizma_dfa": (0.827, 0.0), "prizma_exact_reference": (0.691, 0.0),
           "prizma_exact": (None, 0.0)}
    spec = StreamSpec("structured", StructuredPermutedConfig(), tuple(range(n_seeds)))
    names = ("prizma_dfa", "prizma_exact", "prizma_exact_reference")
    res = run_job("prizma", names, spec, RunConfig(learners=names, epochs=epochs), True)
    timing = res.pop("_seconds")
    rows = learner_rows(res, ref)
    dfa, ex = _mean(rows, "prizma_dfa", "acc"), _mean(rows, "prizma_exact", "acc")
    checks = [check("ACC gap, exact (sign fixed) vs DFA", f"{abs(ex - dfa):.3f}", "<= 0.05 (spec: "
                    "0.842 vs 0.834)", abs(ex - dfa) <= 0.05)]
    md = (f"# E4: locality ({n_seeds} seeds, {epochs} epochs)\n\n{rows_markdown(rows)}\n\n"
          f"{checks_markdown(checks)}\n\nThe reference's 'exact' encoder ascends the "
          "cross-entropy (sign error); with the sign fixed, weight transport matches DFA.")
    payload = {"experiment": "e4", "rows": rows, "checks": checks, "seconds": timing,
               "markdown": md}
    if out is not None:
        payload["files"] = write_outputs(out, "e4", payload, md,
                                         figures.bars_figure(rows, "E4: locality"))
    return payload


def e5(n_seeds: int = 5, out: Path | None = DEFAULT_OUT / "e5", workers: int = 2) -> dict:
    """E5: the fully ambiguous rotating checkerboard (K=3), where no single head can win."""
    seeds = tuple(range(n_seeds))
    ceiling = checkerboard_ceiling(3)
    cb = CheckerboardConfig()
    raw = run_job("prizma", ("prizma_dfa",), StreamSpec("checkerboard", cb, seeds),
                  RunConfig(learners=("prizma_dfa",), epochs=30,
                            prizma=PrizmaConfig(hidden=32, n_experts=5)), True)
    rbf_p = run_job("prizma", ("prizma_dfa",), StreamSpec("checkerboard_rbf", cb, seeds),
                    RunConfig(learners=("prizma_dfa",), epochs=30,
                              prizma=PrizmaConfig(hidden=32, n_experts=5)), True)
    bp = run_job("ewc", ("backprop",), StreamSpec("checkerboard_rbf", cb, seeds),
                 RunConfig(learners=("backprop",), epochs=40,
                           mlp=MLPConfig(hidden=64, lr=0.2)), True)
    res = {"prizma_dfa": raw["prizma_dfa"], "prizma_dfa_rbf": rbf_p["prizma_dfa"],
           "backprop": bp["backprop"]}
    ref = {"prizma_dfa": (0.570, None), "backprop": (0.694, None)}
    rows = learner_rows(res, ref, tol=0.05, zero_fgt=())
    rows[1]["label"] = "Prizma DFA on RBF features (same substrate as backprop)"
    p_acc = _mean(rows, "prizma_dfa", "acc")
    checks = [check("single-head ceiling", f"{ceiling:.3f}", "0.780 ± 0.01",
                    abs(ceiling - 0.780) <= 0.01),
              check("Prizma (raw 2-D) ACC <= ceiling + 0.03", f"{p_acc:.3f}",
                    f"<= {ceiling + 0.03:.3f}", p_acc <= ceiling + 0.03)]
    md = (f"# E5: ambiguous rotating checkerboard (K=3, {n_seeds} seeds)\n\n"
          f"{rows_markdown(rows)}\n\n{checks_markdown(checks)}\n\nPrizma: h=32, M=5, 30 "
          "epochs; backprop: RBF(120) -> 64 -> 64 -> 2 (two hidden layers; the reference used "
          "one), lr 0.2, 40 epochs. Experts trained per run (raw): "
          f"{raw['prizma_dfa']['experts_trained']}.")
    payload = {"experiment": "e5", "ceiling": ceiling, "rows": rows, "checks": checks,
               "markdown": md}
    if out is not None:
        fig = figures.bars_figure(rows, "E5: ambiguous checkerboard", ceiling, "ceiling")
        payload["files"] = write_outputs(out, "e5", payload, md, fig)
    return payload


def digits_experiment(kind: str = "permuted", n_seeds: int = 10, epochs: int = 15,
                      learners: tuple[str, ...] = LEARNERS, workers: int = 2,
                      out: Path | None = DEFAULT_OUT / "digits") -> dict:
    """All learners on permuted (5 domains) or rotated (4 domains) scikit-learn digits."""
    n_tasks = 5 if kind == "permuted" else 4
    dcfg = DigitsConfig(kind=kind, n_tasks=n_tasks)
    run = RunConfig(learners=learners, epochs=epochs, workers=workers,
                    prizma=PrizmaConfig(n_experts=n_tasks + 3))
    res = run_learners(StreamSpec("digits", dcfg, tuple(range(n_seeds))), run, progress=True)
    rows = learner_rows(res, DIGITS_REFERENCE[kind], tol=0.05,
                        zero_fgt=("prizma_dfa",) if kind == "permuted" else ())
    checks = []
    if kind == "permuted" and "prizma_dfa" in res:
        s = summarize(res["prizma_dfa"]["R"])
        checks.append(check("Prizma DFA ACC >= 0.85 and FGT <= 0.01",
                            f"{s['acc']['mean']:.3f} / {s['fgt']['mean']:.3f}", "spec §9.17",
                            s["acc"]["mean"] >= 0.85 and s["fgt"]["mean"] <= 0.01))
    if "backprop" in res:
        f = summarize(res["backprop"]["R"])["fgt"]["mean"]
        checks.append(check("backprop forgets", f"{f:.3f}", ">= 0.4", f >= 0.4))
    if "prizma_dfa" in res:
        used = res["prizma_dfa"]["experts_trained"]
        checks.append(check("experts allocated (mean)", f"{np.mean(used):.2f} of {n_tasks}",
                            "reference: 5 of 5 permuted, 3 of 4 rotated",
                            kind == "rotated" or min(used) == n_tasks))
    md = (f"# Digits ({kind}, {n_tasks} domains, {n_seeds} seeds, {epochs} epochs)\n\n"
          f"{rows_markdown(rows)}\n\n{checks_markdown(checks)}\n\nReference figures: spec §8 "
          "(3 seeds). Pixels scaled by 1/16.\n\n" + timing_line(res["_timing"], workers))
    payload = {"experiment": f"digits_{kind}", "rows": rows, "checks": checks,
               "timing_s": res["_timing"], "markdown": md,
               "config": {"kind": kind, "n_seeds": n_seeds, "epochs": epochs}}
    if out is not None:
        fig = figures.learner_figure(rows, res, f"{kind} digits ({n_seeds} seeds)")
        payload["files"] = write_outputs(out, f"digits_{kind}", payload, md, fig)
    return payload


def small_e1_config(**changes) -> E1Config:
    """The spec's small stream: 3 epochs, seeds 0-2 (acceptance checks, default test suite)."""
    return replace(E1Config(n_seeds=3, epochs=3), **changes)
