"""The separation ladder: where on MQAR do quad2, rand_linear and none part (issue 18)?

Why pairs per head width. A delta-rule head stores D key→value pairs in a d_v × d_φ state; with
unit keys it can hold about d_φ near-orthogonal keys before the pairs interfere. "none" has
d_φ = d_h; "rand_linear" has d_φ = d_h + n2, but its features are a linear map of a d_h-dim key, so
its keys still span only d_h dimensions (the same capacity); quad2's degree-2 monomials span up to
d_h + d_h(d_h+1)/2. So the axis along which the arms can separate is D / d_h, and the ladder walks

    rung r:  MQAR(V, D_r pairs, M queries, gap g),  T_r = 2·D_r + g + M,  D_r / d_h from < 1 to >= 2

at one width and recipe (`SCALES[scale]["separation"]`). Every verdict reads accuracy on queries
more than a window from every pair, which the window head cannot answer: either the training gap
g >= the window, or the spec's `judge_gap` (train at a short gap, where the window head helps the
shared q/k learn the key matching, then score the frozen weights at gap `judge_gap`). Each cell's
frozen weights are also scored at f·T_r (length factors; the gap grows), and a last stage trains
quad2 and the matched Transformer at other widths (parameter efficiency).

Cells are trained in blocks of every arm at one (rung, seed), in the order that informs soonest:
seed rounds (every rung on seed 0, easiest first, then every rung on seed 1, ...), then the width
stage; the easiest rung (the "every arm solves" anchor) runs on `first_rung_seeds` seeds only.
After each block the report is rewritten from every cell in the cache, so a killed run
leaves a partial report and resumes where it stopped (experiment.sweep, cached_run).

    record = leg_separation("cpu", seeds=[0, 1, 2], out=Path("results/prizma_seq"))
    record = collect("cpu", [0, 1, 2], out)   # the report from the cache only, training nothing

The verdicts (verdicts.separation_*) read `record["rungs"]`, `["efficiency"]` and `["lengen"]`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...data.registry import build_task
from ...experiment.cache import load_cached
from ...experiment.report import markdown_table
from ...experiment.rows import acc_rows, by_label, make_arm
from ...experiment.stats import welch
from ...experiment.sweep import Cell, run_sweep
from ...io import write_record
from .reference import REFERENCE
from .scales import SCALE_NAMES, SCALES

SEPARATION_MARGIN = 0.15  # accuracy gap quad2 must hold over the best of none / rand_linear
ALPHA = 0.05  # one-sided Welch level
CONFIRM_SEEDS = 3  # the fewest seeds per arm a rung needs before it can decide anything
CAPACITY_BOUND = 2.0  # D/d_h from which none/rand_linear keys cannot hold every pair
QUAD2, RIVALS, TF = "prizma-quad2", ("prizma-rand_linear", "prizma-none"), "transformer"
SEARCH_ARMS = (QUAD2, *RIVALS, TF)  # the Transformer is parameter-matched to quad2
WIDTH_ARMS = (QUAD2, TF)

SEARCHES: dict[str, dict[str, Any]] = {s: SCALES[s]["separation"] for s in SCALE_NAMES}


def head_width(dims: dict[str, Any]) -> int:
    return dims["d_model"] // dims["n_heads"]


def rung_task(spec: dict[str, Any], pairs: int, gap: int | None = None) -> dict[str, Any]:
    """The MQAR spec of the rung with `pairs` pairs (gap: the spec's unless given)."""
    return {"name": "mqar", "vocab_size": spec["vocab_size"], "num_pairs": pairs,
            "num_queries": spec["num_queries"], "gap": spec["gap"] if gap is None else gap}


BEYOND = "beyond_window"  # the post-eval every verdict reads when the spec sets a judge_gap


def post_tasks(spec: dict[str, Any], pairs: int, lengths: bool = True) -> dict[str, dict[str, Any]]:
    """Post-evals of the frozen weights: "<f>x" -> the rung's MQAR at f·T (the gap takes the
    extra), and with a `judge_gap`, BEYOND -> the rung's MQAR with that gap (every query more
    than a window from every pair, so only the delta-rule state can answer)."""
    out = {}
    if spec["judge_gap"] is not None:
        out[BEYOND] = rung_task(spec, pairs, spec["judge_gap"])
    if lengths:
        t = build_task(rung_task(spec, pairs)).max_seq_len
        out.update({f"{f}x": rung_task(spec, pairs, f * t - 2 * pairs - spec["num_queries"])
                    for f in spec["length_factors"]})
    return out


def judged_acc(spec: dict[str, Any]):
    """record -> the accuracy the verdicts read: BEYOND's (final weights) with a judge_gap, else
    the best eval accuracy on the training task."""
    if spec["judge_gap"] is not None:
        return lambda r: r["post"][BEYOND]["acc"]
    return lambda r: r["best"]["acc"]


def judged_label(spec: dict[str, Any]) -> str:
    """What `judged_acc` reads, for axis labels."""
    return "accuracy beyond the window" if spec["judge_gap"] is not None else "best accuracy"


def _cell(spec, model, dims, pairs, seed, lengths=True) -> Cell:
    arm = make_arm(model, dims, spec["feat_n2"])
    return Cell(arm, rung_task(spec, pairs), dict(spec["train"]), seed,
                post=post_tasks(spec, pairs, lengths))


def blocks(spec: dict[str, Any], seeds: list[int]) -> list[dict[str, Any]]:
    """The cells in training order, as blocks {"stage", "rung" | "width", "seed", "cells"}; each
    block holds every arm (ladder: SEARCH_ARMS, width stage: WIDTH_ARMS) at one seed."""
    out = []
    for k, seed in enumerate(seeds):  # seed rounds: every rung once before any rung's next seed
        for i, pairs in enumerate(spec["pairs"]):
            if i == 0 and k >= spec["first_rung_seeds"]:
                continue
            cells = [_cell(spec, m, spec["dims"], pairs, seed) for m in SEARCH_ARMS]
            out.append({"stage": "ladder", "rung": i, "seed": seed, "cells": cells})
    pairs = spec["pairs"][spec["width_rung"]]
    for w, dims in enumerate(spec["widths"]):
        for seed in seeds:
            cells = [_cell(spec, m, dims, pairs, seed, lengths=False) for m in WIDTH_ARMS]
            out.append({"stage": "width", "width": w, "seed": seed, "cells": cells})
    return out


def _model(label: str) -> str:
    return label.split(" ")[0]


def rung_summary(spec: dict[str, Any], index: int, records: list[dict[str, Any]]) -> tuple[list, dict]:
    """Per-arm rows at rung `index` (acc_rows + difficulty + per-length accuracy) and the rung's
    stats: seeds per arm, mean acc per arm, gap = quad2 - max(rivals), one-sided Welch p both ways."""
    pairs, d_h = spec["pairs"][index], head_width(spec["dims"])
    task = build_task(rung_task(spec, pairs))
    head = {"rung": index, "D": pairs, "T": task.max_seq_len, "D/d_h": round(pairs / d_h, 3),
            "D/d_phi": round(pairs / (d_h + spec["feat_n2"]), 3), "chance": round(task.chance, 4)}
    groups = by_label(records)
    rows = []
    value = judged_acc(spec)
    for row in acc_rows(records, spec["threshold"], value):
        recs = groups[row["arm"]]
        row = {**head, **row, "train_task_best": _mean([r["best"]["acc"] for r in recs]),
               "final_1x": _mean([value(r) if spec["judge_gap"] is not None else r["final"]["acc"]
                                  for r in recs])}
        for f in spec["length_factors"]:
            row[f"acc_{f}x"] = _mean([r["post"][f"{f}x"]["acc"] for r in recs])
        rows.append(row)
    acc = {_model(k): [value(r) for r in v] for k, v in groups.items()}
    stats = {**head, "seeds": {m: len(v) for m, v in acc.items()},
             "means": {m: _mean(v) for m, v in acc.items()}, "p_greater": {}, "p_less": {}}
    if QUAD2 in acc and all(m in acc for m in RIVALS):
        stats["gap"] = stats["means"][QUAD2] - max(stats["means"][m] for m in RIVALS)
        for m in RIVALS:
            if len(acc[QUAD2]) >= 2 and len(acc[m]) >= 2:
                t = welch(acc[QUAD2], acc[m])
                stats["p_greater"][m], stats["p_less"][m] = t.p_greater, 1.0 - t.p_greater
    return rows, stats


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def efficiency(spec: dict[str, Any], ladder_rows: list[dict], width_records: list[list[dict]]) -> dict:
    """Smallest solving width per arm at the width rung: every width's (arm, params, mean acc,
    seeds), the ladder width included; solved = mean judged acc (`judged_acc`) >= threshold on
    >= CONFIRM_SEEDS seeds."""
    entries = [{"arm": r["arm"], "model": _model(r["arm"]), "params": r["params"],
                "mean_acc": r["mean_acc"], "seeds": r["seeds"]}
               for r in ladder_rows if r["rung"] == spec["width_rung"] and _model(r["arm"]) in WIDTH_ARMS]
    for recs in width_records:
        for row in acc_rows(recs, spec["threshold"], judged_acc(spec)) if recs else []:
            entries.append({"arm": row["arm"], "model": _model(row["arm"]), "params": row["params"],
                            "mean_acc": row["mean_acc"], "seeds": row["seeds"]})
    entries.sort(key=lambda e: (e["model"], e["params"]))
    for e in entries:
        e["solved"] = e["seeds"] >= CONFIRM_SEEDS and e["mean_acc"] >= spec["threshold"]
    smallest = {m: next((e for e in entries if e["model"] == m and e["solved"]), None) for m in WIDTH_ARMS}
    return {"D": spec["pairs"][spec["width_rung"]], "entries": entries, "smallest": smallest}


def lengen(spec: dict[str, Any], rows: list[dict]) -> dict:
    """Retention acc(f_max·T)/acc(T) (final weights) per arm at the hardest rung where the
    Transformer learned the training length (its retention means nothing elsewhere)."""
    f = max(spec["length_factors"])
    by_rung: dict[int, dict[str, dict]] = {}
    for r in rows:
        by_rung.setdefault(r["rung"], {})[_model(r["arm"])] = r
    out = {"factor": f, "rungs": [
        {"rung": i, "D": next(iter(arms.values()))["D"],
         **{m: {"1x": a["final_1x"], f"{f}x": a[f"acc_{f}x"], "seeds": a["seeds"],
                "retention": a[f"acc_{f}x"] / a["final_1x"] if a["final_1x"] > 0 else 0.0}
            for m, a in arms.items()}}
        for i, arms in sorted(by_rung.items())]}
    return out


def _plot(spec, rows, eff):
    def plot(axes):
        ax = axes[0]
        for arm in SEARCH_ARMS:
            pts = [r for r in rows if _model(r["arm"]) == arm]
            if not pts:
                continue
            xs = [r["D/d_h"] for r in pts]
            lo = [r["mean_acc"] - r["ci95_low"] for r in pts]
            hi = [r["ci95_high"] - r["mean_acc"] for r in pts]
            means = [r["mean_acc"] for r in pts]
            line = ax.errorbar(xs, means, yerr=[lo, hi], fmt="o-", capsize=3, label=arm)
            for r in pts:
                seeds = r["per_seed"]
                ax.plot([r["D/d_h"]] * len(seeds), seeds, ".", color=line[0].get_color(), ms=4)
        ax.plot([r["D/d_h"] for r in rows], [r["chance"] for r in rows], "k:", lw=0.8, label="chance")
        ax.set_xscale("log", base=2)
        ax.set_xlabel(f"pairs per head width D/d_h (d_h = {head_width(spec['dims'])})")
        ax.set_ylabel(f"{judged_label(spec)} (mean, 95% t-CI)")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7)
        ax = axes[1]
        for m in WIDTH_ARMS:
            pts = [e for e in eff["entries"] if e["model"] == m]
            if pts:
                ax.plot([e["params"] for e in pts], [e["mean_acc"] for e in pts], "o-", label=m)
        ax.set_xscale("log")
        ax.set_xlabel(f"parameters (MQAR D={eff['D']})")
        ax.set_ylabel(f"{judged_label(spec)} (mean)")
        ax.set_ylim(0, 1.02)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)

    return plot


def _verdicts(record: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    from . import verdicts  # verdicts reads this module's constants

    return {name: dict(zip(("measured", "spread", "verdict", "why"), judge(record, spec), strict=True))
            for name, judge in (("ablation", verdicts.separation_ablation),
                                ("efficiency", verdicts.separation_efficiency),
                                ("lengen", verdicts.separation_lengen))}


def report(scale, seeds, spec, rows, stats, eff, missing, out_dir: Path, skipped=()) -> dict[str, Any]:
    """Write `<out_dir>/separation.json|.md|.png` from what is trained so far; return the record."""
    record = {"leg": "separation", "scale": scale, "seeds": list(seeds), "search": spec,
              "margin": SEPARATION_MARGIN, "alpha": ALPHA, "confirm_seeds": CONFIRM_SEEDS,
              "capacity_bound": CAPACITY_BOUND, "grid": rows, "rungs": stats, "efficiency": eff,
              "lengen": lengen(spec, rows), "missing": missing, "skipped": list(skipped),
              "reference": REFERENCE["ablation"]}
    record["verdicts"] = _verdicts(record, spec)
    abl = record["verdicts"]["ablation"]
    record["headline"] = {"measured": f"{abl['verdict']}: {abl['measured']}", "why": abl["why"],
                          "published": REFERENCE["ablation"]["claim"],
                          "separates": abl["verdict"] == "reproduced"}
    f = max(spec["length_factors"])
    cols = ["D", "T", "D/d_h", "D/d_phi", "chance", "arm", "params", "solve", "mean_acc", "ci95_low",
            "ci95_high", "per_seed", "train_task_best", "steps", "step_ms", "final_1x", f"acc_{f}x"]
    judged = (f"accuracy on the rung's MQAR with gap {spec['judge_gap']} (every query beyond the "
              f"{spec['judge_gap']}-token window; final weights)" if spec["judge_gap"] is not None
              else "best eval accuracy on the training task")
    md = [f"# separation ladder ({scale} scale)\n",
          "| claim | verdict | measured | why |", "|---|---|---|---|",
          *[f"| {k} | {v['verdict']} | {v['measured']} | {v['why']} |"
            for k, v in record["verdicts"].items()],
          f"\nSeparated rung: >= {CONFIRM_SEEDS} seeds per arm, mean acc(quad2) - max(none, rand_linear) >= "
          f"{SEPARATION_MARGIN}, one-sided Welch p < {ALPHA} against both. mean_acc / per_seed: "
          f"{judged}; train_task_best: best eval accuracy on the training task (gap {spec['gap']}). "
          f"Width {spec['dims']}, d_h = "
          f"{head_width(spec['dims'])}, quad2/rand_linear feat_n2 = {spec['feat_n2']}; "
          f"MQAR V={spec['vocab_size']}, "
          f"M={spec['num_queries']}, gap {spec['gap']}; <= {spec['train']['steps']} steps of batch "
          f"{spec['train']['batch_size']}.\n",
          "## Every cell of the ladder\n", markdown_table(rows, cols) if rows else "(nothing trained yet)",
          "\n## Per rung: gap and Welch p (quad2 > rival)\n",
          markdown_table([{k: s.get(k) for k in ("D", "D/d_h", "seeds", "gap", "p_greater")} for s in stats])
          if stats else "", "\n## Parameter efficiency (smallest solving width)\n",
          markdown_table(eff["entries"]) if eff["entries"] else "(no width cells yet)",
          f"\n## Length extrapolation (final weights at {f}x T)\n",
          "Retention acc(f·T) / acc(1x), final weights (a ratio, not an accuracy; acc(1x) is the "
          "judged accuracy).\n\n"
          + markdown_table([{"D": r["D"], **{m: round(v["retention"], 3) for m, v in r.items()
                                          if isinstance(v, dict)}} for r in record["lengen"]["rungs"]])
          if record["lengen"]["rungs"] else ""]
    if skipped:
        md.append(f"\nNot trained ({len(skipped)} blocks; their rung's first seed left every arm "
                  f"within {SEPARATION_MARGIN} of chance, so no gap of the margin can show): "
                  + "; ".join(skipped))
    if missing:
        md.append(f"\nNot trained yet ({len(missing)} blocks): " + "; ".join(missing))
        md.append("\nA verdict that would read 'not reproducible at this scale' reads 'not measured' "
                  "until every block is trained (a later rung could still decide).")
    md += ["\n## Seed 000 reference (paper scale)\n", f"Claim: {REFERENCE['ablation']['claim']}\n",
           markdown_table(REFERENCE["ablation"].get("rows", []))]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    _plot(spec, rows, eff)(axes)
    figure.suptitle(f"separation ladder ({scale} scale)")
    figure.tight_layout()
    text = "\n".join(md)
    write_record(out_dir, "separation", record, text, figure)
    plt.close(figure)
    return record


def _cached(cells: list[Cell], cache: Path, device: str) -> list[dict[str, Any] | None]:
    """The cached record of each cell, None where it is not trained yet."""
    return [load_cached(cache, c.resolve(device).configs()) for c in cells]


def hopeless_rungs(spec: dict[str, Any], seeds: list[int], cache: Path, device: str) -> set[int]:
    """Ladder rungs whose first-seed block is trained and where every arm's judged accuracy stays
    below chance + SEPARATION_MARGIN: no gap of the margin can show there at this recipe, so the
    rung's other seeds are not trained (a rung every arm fails decides nothing; the report lists
    the skipped blocks)."""
    out = set()
    for b in blocks(spec, seeds[:1]):
        if b["stage"] != "ladder":
            continue
        recs = _cached(b["cells"], cache, device)
        if any(r is None for r in recs):
            continue
        chance = build_task(rung_task(spec, spec["pairs"][b["rung"]])).chance
        if all(judged_acc(spec)(r) < chance + SEPARATION_MARGIN for r in recs):
            out.add(b["rung"])
    return out


def _skipped(b: dict[str, Any], seeds: list[int], hopeless: set[int]) -> bool:
    return b["stage"] == "ladder" and b["rung"] in hopeless and b["seed"] != seeds[0]


def collect(scale: str, seeds: list[int], out: Path, device: str = "auto") -> dict[str, Any]:
    """Rebuild and write the report from the cells already in `<out>/cache` (trains nothing)."""
    spec, cache = SEARCHES[scale], Path(out) / "cache"
    hopeless = hopeless_rungs(spec, seeds, cache, device)
    done: dict[tuple, list] = {}
    missing, skipped = [], []
    for b in blocks(spec, seeds):  # a block's finished cells count even while others are missing
        key = (b["stage"], b.get("rung", b.get("width")))
        recs = _cached(b["cells"], cache, device)
        done.setdefault(key, []).extend(r for r in recs if r is not None)
        absent = [c.label.split(" ")[0] for c, r in zip(b["cells"], recs, strict=True) if r is None]
        if absent:
            where = skipped if _skipped(b, seeds, hopeless) else missing
            where.append(f"{b['stage']} {key[1]} seed {b['seed']}: {', '.join(absent)}")
    rows, stats = [], []
    for i in range(len(spec["pairs"])):
        if done.get(("ladder", i)):
            r, s = rung_summary(spec, i, done[("ladder", i)])
            rows, stats = rows + r, stats + [s]
    eff = efficiency(spec, rows, [done.get(("width", w), []) for w in range(len(spec["widths"]))])
    return report(scale, seeds, spec, rows, stats, eff, missing, Path(out) / "separation", skipped)


def leg_separation(
    scale: str, seeds: list[int], out: Path, device: str = "auto", progress: bool = False,
    train: bool = True,
) -> dict[str, Any]:
    """Train the ladder's blocks in order (seeds: sorted(set(seeds) | {0..CONFIRM_SEEDS-1})),
    rewriting the report after each and skipping the further seeds of a hopeless rung
    (`hopeless_rungs`); train=False only rebuilds the report from the cache."""
    seeds = sorted(set(seeds) | set(range(CONFIRM_SEEDS)))
    cache = Path(out) / "cache"
    if train:
        spec = SEARCHES[scale]
        hopeless = hopeless_rungs(spec, seeds, cache, device)  # changes only when a block trains
        for b in blocks(spec, seeds):
            if _skipped(b, seeds, hopeless):
                continue
            if any(r is None for r in _cached(b["cells"], cache, device)):
                run_sweep(b["cells"], cache, device, progress)
                collect(scale, seeds, out, device)
                hopeless = hopeless_rungs(spec, seeds, cache, device)
    record = collect(scale, seeds, out, device)
    print(f"separation ({scale}): {record['headline']['measured']}", flush=True)
    return record
