"""The separation search: the smallest MQAR setting at which the causal-ablation arms part.

Seed 000's central claim is "quad2 ≫ rand_linear ≈ none" on MQAR. At a setting every arm solves
(or none does) the claim is untestable, so this leg walks a ladder of MQAR rungs from easy to hard
at one step budget:

    rung r:  MQAR(V, D_r pairs, M queries),  T_r = 2·D_r + M,  D_1 < D_2 < ...

Harder means more key-value pairs per state width: the "none" state is d_h × d_h per head, the
quad2/rand_linear state d_h × d_φ (d_φ = d_h + feat_n2), so once D outgrows d_h only the wider
keys can still store every pair (and with T well past the local window, the window head cannot
answer the queries either). Each rung trains every arm on the search seed (`seeds[0]`); the
first rung where

    mean_acc(quad2) − max(mean_acc(none), mean_acc(rand_linear)) ≥ SEPARATION_MARGIN

is the candidate. The candidate is then re-trained on at least CONFIRM_SEEDS seeds and the claim is
confirmed only if the gap still holds and Welch's one-sided test (experiment.stats.welch, H1:
quad2 > other) gives p < ALPHA against both none and rand_linear. The report holds every cell of
every rung tried (per-seed accuracy), the chosen rung, the confirmation table and the verdict:
"separates at <rung>" or "no separation found within budget, grid up to <last rung>".

    record = leg_separation("cpu", seeds=[0, 1, 2], out=Path("results/prizma_seq"))

Cells go through the shared fingerprint-keyed cache `<out>/cache` (a killed search resumes, and a
mqar/ablation leg sized like the chosen rung re-uses its cells); the report, rewritten after each
rung, is `<out>/separation/separation.json|.md|.png`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...data.registry import build_task
from ...experiment.cache import load_cached
from ...experiment.report import markdown_table
from ...experiment.rows import acc_rows, make_arm, welch_table
from ...experiment.sweep import Cell, grid, run_sweep
from ...io import write_record
from .reference import REFERENCE
from .scales import SCALE_NAMES, SCALES

SEPARATION_MARGIN = 0.15  # accuracy gap quad2 must hold over the best of none / rand_linear
ALPHA = 0.05  # one-sided Welch level for the confirmation
CONFIRM_SEEDS = 3  # the fewest seeds a confirmation runs on
QUAD2, RIVALS = "prizma-quad2", ("prizma-rand_linear", "prizma-none")
SEARCH_ARMS = (QUAD2, *RIVALS, "transformer")  # the Transformer is parameter-matched to quad2

_SMOKE_TRAIN = {**SCALES["smoke"]["mqar"]["train"], "steps": 2, "eval_every": 1}
# cpu: every rung trains with the demo's recipe (batch 64, lr 2e-3, 150 warm-up steps, cosine to
# 0.1·lr), capped at 800 steps with an early stop at 0.99. Rung 0 is the demo's own setting (d64L2H2,
# d_h 32, d_phi 128; every arm solves it); the next rungs go to 4 heads (d_h 16, d_phi 64) so the
# pair count reaches and passes the "none" key width d_h at sequence lengths a CPU can train.
_CPU_TRAIN = dict(
    steps=800, batch_size=64, lr=2e-3, warmup=150, warmup_frac=0.0, min_lr_frac=0.1,
    eval_every=100, eval_batches=8, plateau_patience=0, log_every=100, solve_threshold=0.99,
)
_D64H2 = dict(dims=dict(d_model=64, n_layers=2, n_heads=2), feat_n2=96)
_D64H4 = dict(dims=dict(d_model=64, n_layers=2, n_heads=4), feat_n2=48)

# A rung: the arms' dims and feat_n2, and its task (MQAR unless "name" says otherwise).
SEARCHES: dict[str, dict[str, Any]] = {
    "smoke": dict(
        rungs=[
            dict(dims=dict(d_model=16, n_layers=1, n_heads=2), feat_n2=8,
                 task={"vocab_size": 16, "num_pairs": d, "num_queries": 4})
            for d in (2, 4)
        ],
        train=_SMOKE_TRAIN, threshold=0.9,
    ),
    "cpu": dict(
        rungs=[
            dict(**_D64H2, task={"vocab_size": 32, "num_pairs": 4, "num_queries": 16}),
            dict(**_D64H4, task={"vocab_size": 64, "num_pairs": 16, "num_queries": 16}),
            dict(**_D64H4, task={"vocab_size": 64, "num_pairs": 32, "num_queries": 16}),
        ],
        train=_CPU_TRAIN, threshold=0.9,
    ),
    "paper": dict(
        rungs=[
            dict(dims=dict(d_model=64, n_layers=2, n_heads=2), feat_n2=224,
                 task={"vocab_size": 512, "num_pairs": d, "num_queries": 128})
            for d in (16, 32, 64, 128)
        ],
        train=SCALES["paper"]["mqar"]["train"], threshold=0.9,
    ),
}
assert set(SEARCHES) == set(SCALE_NAMES)


def rung_task(rung: dict[str, Any]) -> dict[str, Any]:
    """The task spec of one rung (MQAR unless the rung names another task)."""
    return {"name": "mqar", **rung["task"]}


def search_arms(rung: dict[str, Any]) -> list[dict[str, Any]]:
    """The four arms at the rung's width (make_arm: the same dicts the mqar/ablation legs build)."""
    return [make_arm(m, rung["dims"], rung["feat_n2"]) for m in SEARCH_ARMS]


def rung_rows(spec: dict[str, Any], index: int, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per arm at rung `index`: acc_rows (per-seed accuracy, CI) plus the rung's difficulty:
    V, D, T, chance, and D per key width of the none state (D/d_h) and of the quad2 state (D/d_phi)."""
    rung = spec["rungs"][index]
    task = build_task(rung_task(rung))
    d_h = rung["dims"]["d_model"] // rung["dims"]["n_heads"]
    pairs = getattr(task, "num_pairs", getattr(task, "max_pairs", None))
    head = {"rung": index, "V": task.vocab_size, "D": pairs, "T": task.max_seq_len,
            "chance": round(task.chance, 4), "D/d_h": round(pairs / d_h, 3),
            "D/d_phi": round(pairs / (d_h + rung["feat_n2"]), 3)}
    return [{**head, **row} for row in acc_rows(records, spec["threshold"])]


def _model(row: dict[str, Any]) -> str:
    return row["arm"].split(" ")[0]


def gap(rows: list[dict[str, Any]]) -> float:
    """mean acc of quad2 minus the best mean acc of none and rand_linear, over one rung's rows."""
    means = {_model(r): r["mean_acc"] for r in rows}
    return means[QUAD2] - max(means[m] for m in RIVALS)


def confirm(rows: list[dict[str, Any]], records: list[dict[str, Any]]) -> dict[str, Any]:
    """Gap and one-sided Welch p (quad2 > rival) on the confirmation seeds; `separates` needs both."""
    quad2 = next(r["arm"] for r in rows if _model(r) == QUAD2)
    tests = welch_table(records, quad2)
    p = {m: next(t["p_greater"] for k, t in tests.items() if k.split(" vs ")[1].startswith(m))
         for m in RIVALS}
    g = gap(rows)
    return {"gap": g, "p_greater": p, "welch": tests,
            "separates": g >= SEPARATION_MARGIN and all(v < ALPHA for v in p.values())}


def _describe(spec: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    r = rows[0]
    width = r["arm"].split(" ")[1]
    return f"MQAR V={r['V']} D={r['D']} T={r['T']} at {width}, <= {spec['train']['steps']} steps"


def _plot(grid_rows: list[dict[str, Any]], confirm_rows: list[dict[str, Any]]):
    def plot(ax):
        for arm in SEARCH_ARMS:  # one line per model across rungs (a rung may change the width)
            pts = [(r["D"], r["mean_acc"]) for r in grid_rows if _model(r) == arm]
            if not pts:
                continue
            ax.plot(*zip(*pts, strict=True), "o-", label=arm)
        for r in confirm_rows:  # the confirmation seeds, as dots at the chosen rung
            ax.plot([r["D"]] * len(r["per_seed"]), r["per_seed"], "k.", ms=4)
        ax.set_xlabel("key-value pairs D (T = 2D + queries)")
        ax.set_ylabel("best accuracy")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7)

    return plot


def _report(out_dir: Path, scale, seeds, spec, grid_rows, chosen, confirm_rows, check, incomplete) -> dict:
    if check is not None and check["separates"]:
        verdict = f"separates at {_describe(spec, confirm_rows)}"
    elif chosen is not None:
        candidate = _describe(spec, [r for r in grid_rows if r["rung"] == chosen])
        verdict = (f"candidate {candidate} did not confirm on {len(seeds)} seeds "
                   f"(gap {check['gap']:.3f}, p {check['p_greater']})" if check else
                   f"candidate {candidate}, confirmation not run")
    elif grid_rows:
        last = [r for r in grid_rows if r["rung"] == grid_rows[-1]["rung"]]
        verdict = "no separation found within budget, grid up to " + _describe(spec, last)
    else:
        verdict = "not run"
    headline = {"measured": verdict, "published": REFERENCE["ablation"]["claim"],
                "separates": bool(check and check["separates"])}
    payload = {"leg": "separation", "scale": scale, "seeds": list(seeds), "search": spec,
               "margin": SEPARATION_MARGIN, "alpha": ALPHA, "headline": headline,
               "grid": grid_rows, "chosen_rung": chosen, "confirm": confirm_rows, "tests": check,
               "incomplete": incomplete, "reference": REFERENCE["ablation"]}
    cols = ["rung", "V", "D", "T", "D/d_h", "D/d_phi", "arm", "params", "solve", "mean_acc", "per_seed",
            "steps"]
    md = [f"# separation ({scale} scale)\n", f"**Verdict:** {verdict}\n",
          f"Separation: mean acc(quad2) - max(none, rand_linear) >= {SEPARATION_MARGIN} on the search "
          f"seed, then on >= {CONFIRM_SEEDS} seeds with one-sided Welch p < {ALPHA} against both.\n",
          "## Every cell of the grid (search seed)\n", markdown_table(grid_rows, cols)]
    tried = {r["rung"] for r in grid_rows}
    untried = [rung for i, rung in enumerate(spec["rungs"]) if i not in tried]
    if incomplete or untried:
        md.append("\nNot measured: " + "; ".join(incomplete) + (
            f" (rungs not reached: {[r['task'] for r in untried]})" if untried else ""))
    if confirm_rows:
        md += ["\n## Confirmation at the chosen rung\n",
               markdown_table(confirm_rows, cols[:9] + ["mean_acc", "ci95_low", "ci95_high", "per_seed"])]
        if check:
            md.append("\n" + markdown_table([{"test": k, **v} for k, v in check["welch"].items()]))
    md += ["\n## Seed 000 reference (paper scale)\n", f"Claim: {REFERENCE['ablation']['claim']}\n",
           markdown_table(REFERENCE["ablation"].get("rows", []))]
    figure = None
    if grid_rows:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, ax = plt.subplots(figsize=(6, 4))
        _plot(grid_rows, confirm_rows)(ax)
        ax.set_title(f"separation ({scale} scale)")
        figure.tight_layout()
    text = "\n".join(md)
    write_record(out_dir, "separation", payload, text, figure)
    print(text, flush=True)
    return payload


def cached_records(cells: list[Cell], cache: Path, device: str = "auto") -> list[dict[str, Any]]:
    """The cached record of every cell that has one (cells not yet trained are left out)."""
    hits = (load_cached(cache, cell.resolve(device).configs()) for cell in cells)
    return [r for r in hits if r is not None]


def leg_separation(
    scale: str, seeds: list[int], out: Path, device: str = "auto", progress: bool = False,
    train: bool = True,
) -> dict[str, Any]:
    """Walk the rungs of SEARCHES[scale] on seeds[0]; confirm the first candidate on
    sorted(set(seeds) | {0..CONFIRM_SEEDS-1}); write and return the report record.

    train=False trains nothing: the report is built from the cells already in the cache, and the
    walk stops at the first rung with a missing cell (listed under "incomplete")."""
    spec, out = SEARCHES[scale], Path(out)
    cache, recipe = out / "cache", spec["train"]
    confirm_seeds = sorted(set(seeds) | set(range(CONFIRM_SEEDS)))

    def records_of(cells: list[Cell]) -> list[dict[str, Any]] | None:
        if train:
            return run_sweep(cells, cache, device, progress)
        found = cached_records(cells, cache, device)
        return found if len(found) == len(cells) else None

    grid_rows: list[dict[str, Any]] = []
    chosen, confirm_rows, check, incomplete = None, [], None, []
    for i, rung in enumerate(spec["rungs"]):
        records = records_of(grid(search_arms(rung), [rung_task(rung)], recipe, [seeds[0]]))
        if records is None:
            incomplete.append(f"rung {i}: search cells not all trained")
            break
        rows = rung_rows(spec, i, records)
        grid_rows += rows
        if gap(rows) >= SEPARATION_MARGIN:
            chosen = i
            break
        _report(out / "separation", scale, seeds, spec, grid_rows, None, [], None, incomplete)  # partial
    if chosen is not None:
        rung = spec["rungs"][chosen]
        records = records_of(grid(search_arms(rung), [rung_task(rung)], recipe, confirm_seeds))
        if records is None:
            incomplete.append(f"rung {chosen}: confirmation cells not all trained")
        else:
            confirm_rows = rung_rows(spec, chosen, records)
            check = confirm(confirm_rows, records)
    return _report(
        out / "separation", scale, confirm_seeds, spec, grid_rows, chosen, confirm_rows, check, incomplete
    )
