"""The recall legs of Prizma-Seq as `Leg` records: MQAR parameter efficiency, causal ablation,
induction, selective copy (+ fixed-position control) and length extrapolation.

Each leg is data (arms × tasks × seeds from `SCALES[scale][leg.spec]`, rows, headline, columns,
plot) run by `leg.run_leg`. Every per-arm median is `experiment.stats.summarize(...).median`.
"""

from __future__ import annotations

from typing import Any

from ...experiment.rows import acc_rows, by_label, make_arm, welch_table
from ...experiment.stats import summarize
from ...experiment.sweep import Cell, grid
from .leg import ACC_COLUMNS, Leg, Rows

CLAIM_BAR = 0.99  # seed 000's "≥ 0.99" bar for induction and selective copy


def _short(row: dict[str, Any]) -> str:
    """The model name of an arm label: "prizma-quad2 d64L2H2" -> "prizma-quad2"."""
    return row["arm"].split(" ")[0]


def _arms(names: tuple[str, ...], dims: dict[str, Any], feat_n2: int) -> list[dict[str, Any]]:
    return [make_arm(m, dims, feat_n2) for m in names]


def _acc_rows(spec: dict[str, Any], records: Rows) -> Rows:
    return acc_rows(records, spec["threshold"])


def _induction_cells(arms, task, train, seeds, lengths, vocab_size) -> list[Cell]:
    """Train on `task`, then score the frozen weights on induction at every prefix length."""
    post = {f"L{n}": {"name": "induction", "vocab_size": vocab_size, "prefix_len": n} for n in lengths}
    return grid(arms, [task], train, seeds, post=post)


# --- MQAR: quad2 at the small size vs Transformers of growing size -------------------------------


def _mqar_cells(s, seeds):
    arms = [make_arm("prizma-quad2", s["small"], s["feat_n2"])]
    arms += [make_arm("transformer", dims, 0) for dims in s["grid"]]
    return grid(arms, [s["task"]], s["train"], seeds)


def _mqar_headline(s, rows):
    prizma, tfs = rows[0], rows[1:]
    solved_tf = [r for r in tfs if r["median_acc"] > s["threshold"]]
    smallest = solved_tf[0] if solved_tf else None
    return {
        "measured": f"quad2 {prizma['params']:,} params: {prizma['solve']} solved, median "
        f"{prizma['median_acc']:.3f}; smallest solving Transformer: "
        + (f"{smallest['arm']} ({smallest['params']:,})" if smallest else "none in the grid"),
        "param_ratio": smallest["params"] / prizma["params"] if smallest else None,
    }


MQAR = Leg("mqar", "mqar", _mqar_cells, _acc_rows, _mqar_headline)


# --- causal ablation: the feature map at fixed size ------------------------------------------------

ABLATION_ARMS = ("prizma-quad2", "prizma-rand_linear", "prizma-none", "transformer")


def _ablation_cells(s, seeds):
    return grid(_arms(ABLATION_ARMS, s["small"], s["feat_n2"]), [s["task"]], s["train"], seeds)


def _ablation_headline(s, rows):
    med = {_short(r): r for r in rows}
    q = med["prizma-quad2"]
    return {
        "measured": ", ".join(f"{k} {v['solve']} ({v['median_acc']:.3f})" for k, v in med.items()),
        "quad2_best": all(q["median_acc"] > v["median_acc"] for k, v in med.items() if k != "prizma-quad2"),
        "quad2_solves_where_none_and_rand_linear_do_not": (
            q["median_acc"] > s["threshold"]
            and med["prizma-none"]["median_acc"] <= s["threshold"]
            and med["prizma-rand_linear"]["median_acc"] <= s["threshold"]
        ),
    }


ABLATION = Leg("ablation", "mqar", _ablation_cells, _acc_rows, _ablation_headline)


# --- induction, scored also at longer prefixes -----------------------------------------------------

RECALL_ARMS = ("prizma-quad2", "prizma-none", "transformer")


def _induction_leg_cells(s, seeds):
    arms = _arms(RECALL_ARMS, s["dims"], s["feat_n2"])
    return _induction_cells(arms, s["task"], s["train"], seeds, s["post_lengths"], s["task"]["vocab_size"])


def _induction_rows(s, records):
    rows = acc_rows(records, s["threshold"])
    for row, recs in zip(rows, by_label(records).values(), strict=True):
        for n in s["post_lengths"][:3]:
            row[f"acc_L{n}"] = summarize([r["post"][f"L{n}"]["acc"] for r in recs]).median
    return rows


def _induction_headline(s, rows):
    return {
        "measured": ", ".join(f"{_short(r)} {r['solve']} ({r['median_acc']:.4f})" for r in rows),
        "quad2_ge_0.99": rows[0]["median_acc"] >= CLAIM_BAR,
    }


INDUCTION = Leg(
    "induction",
    "induction",
    _induction_leg_cells,
    _induction_rows,
    _induction_headline,
    columns=lambda s: ACC_COLUMNS + [f"acc_L{n}" for n in s["post_lengths"][:3]] + ["step_ms"],
)


# --- selective copy and its fixed-position control -------------------------------------------------


def _selcopy_cells(s, seeds):
    tasks = [s["task"], {**s["task"], "fixed": True}]
    return grid(_arms(RECALL_ARMS, s["dims"], s["feat_n2"]), tasks, s["train"], seeds)


def _split_fixed(records: Rows) -> tuple[Rows, Rows]:
    sel = [r for r in records if not r["config"]["task"].get("fixed")]
    return sel, [r for r in records if r["config"]["task"].get("fixed")]


def _selcopy_rows(s, records):
    sel, fix = _split_fixed(records)
    rows = acc_rows(sel, s["threshold"])
    for row, frow in zip(rows, acc_rows(fix, s["threshold"]), strict=True):
        row["fixed_solve"], row["fixed_median_acc"] = frow["solve"], frow["median_acc"]
        row["fixed_per_seed"] = frow["per_seed"]
    return rows


def _selcopy_headline(s, rows):
    return {
        "measured": ", ".join(
            f"{_short(r)} {r['median_acc']:.4f} / fixed {r['fixed_median_acc']:.4f}" for r in rows
        ),
        "quad2_ge_0.99": rows[0]["median_acc"] >= CLAIM_BAR,
    }


def _selcopy_welch(s, records, rows):
    return {"welch": welch_table(_split_fixed(records)[0], rows[0]["arm"])}


SELCOPY = Leg(
    "selcopy",
    "selcopy",
    _selcopy_cells,
    _selcopy_rows,
    _selcopy_headline,
    columns=lambda s: ACC_COLUMNS + ["fixed_solve", "fixed_median_acc", "step_ms"],
    extra=_selcopy_welch,
)


# --- length extrapolation: train at prefix L, score the frozen weights at L, 2L, 4L, 8L -------------


def _lengths(s) -> list[int]:
    return [f * s["train_len"] for f in s["factors"]]


def _lengen_cells(s, seeds):
    task = {"name": "induction", "vocab_size": s["vocab_size"], "prefix_len": s["train_len"]}
    arms = _arms(("prizma-quad2", "transformer"), s["dims"], s["feat_n2"])
    return _induction_cells(arms, task, s["train"], seeds, _lengths(s), s["vocab_size"])


def retention(acc_1x: float, acc_top: float) -> float:
    """acc(top factor) / acc(1x); nan when nothing was learned at the training length."""
    return acc_top / acc_1x if acc_1x > 0 else float("nan")


def _lengen_rows(s, records):
    rows = []
    top = f"L{_lengths(s)[-1]}"
    for label, recs in by_label(records).items():
        row: dict[str, Any] = {"arm": label, "params": recs[0]["params"]}
        for f, n in zip(s["factors"], _lengths(s), strict=True):
            row[f"{f}x"] = summarize([r["post"][f"L{n}"]["acc"] for r in recs]).median
        row["retention"] = retention(row["1x"], row[f"{s['factors'][-1]}x"])
        first = f"L{_lengths(s)[0]}"
        row["per_seed_1x"] = [round(r["post"][first]["acc"], 4) for r in recs]
        row["per_seed_retention"] = [retention(r["post"][first]["acc"], r["post"][top]["acc"]) for r in recs]
        rows.append(row)
    return rows


def _lengen_headline(s, rows):
    q, tf = rows[0], rows[1]
    return {
        "measured": f"retention quad2 {q['retention']:.3f} vs Transformer {tf['retention']:.3f}",
        "ratio": q["retention"] / tf["retention"] if tf["retention"] > 0 else None,
    }


def _lengen_plot(s, rows):
    def plot(ax):
        for r in rows:
            ax.plot(_lengths(s), [r[f"{f}x"] for f in s["factors"]], "o-", label=r["arm"])
        ax.set_xscale("log", base=2)
        ax.set_xlabel("prefix length")
        ax.set_ylabel("accuracy")
        ax.legend(fontsize=7)

    return plot


LENGEN = Leg(
    "lengen",
    "lengen",
    _lengen_cells,
    _lengen_rows,
    _lengen_headline,
    columns=lambda s: ["arm", "params"] + [f"{f}x" for f in s["factors"]] + ["retention"],
    plot=_lengen_plot,
    extra=lambda s, records, rows: {"lengths": _lengths(s)},
)

RECALL_LEGS: dict[str, Leg] = {leg.name: leg for leg in (MQAR, ABLATION, INDUCTION, SELCOPY, LENGEN)}
