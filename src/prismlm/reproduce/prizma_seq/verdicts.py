"""Judging one Prizma-Seq claim from its leg's record: reproduced, refuted, or undecidable here.

Each judge takes (the leg's record, the leg's scale spec) and returns a `Judgement`. The rules:
"reproduced"/"refuted" only where the scale can decide; NOT_HERE ("not reproducible at this
scale") when no arm learned the task, the baseline never did, or the scale cannot reach the
regime the claim is about (contexts too short, a grid too narrow); `why` names the case.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from ...data.registry import build_task
from ...experiment.stats import summarize
from .charlm import MARGIN
from .recall import CLAIM_BAR

PARAM_EFFICIENCY_BAR = 3.5  # the smallest solving Transformer must be this many times larger
SEED_CROSSOVER_N = 32_768  # where the seed's decode crossover lies
RETENTION_BAR = 5.0  # "~10x better retention" (published 9.7x), read as within a factor of two
LEARNED_AT_1X = 0.9  # retention is a ratio to acc(1x): meaningful only where the arm learned at 1x

NOT_HERE = "not reproducible at this scale"
Rows = list[dict[str, Any]]


class Judgement(NamedTuple):
    measured: str
    spread: str | None
    verdict: str
    why: str


# --- helpers ---------------------------------------------------------------------------------------


def spread(xs: list[float], what: str = "seeds") -> str | None:
    """The spread as text, "± h (95% t-CI, n seeds)" (experiment.stats); None for one value or a nan."""
    xs = [float(x) for x in xs]
    if len(xs) < 2 or not all(math.isfinite(x) for x in xs):
        return None
    s = summarize(xs)
    return f"± {(s.ci_high - s.ci_low) / 2:.3g} (95% t-CI, {s.n} {what})"


def _short(row: dict[str, Any]) -> str:
    return row["arm"].split(" ")[0]


def _by_arm(rows: Rows) -> dict[str, dict[str, Any]]:
    return {_short(r): r for r in rows}


def _solved_all(row: dict[str, Any], bar: float, strict: bool = True) -> bool:
    return all((x > bar) if strict else (x >= bar) for x in row["per_seed"])


def _nothing_learned(rows: Rows, threshold: float, task: dict[str, Any]) -> str:
    best = max(rows, key=lambda r: r["median_acc"])
    chance = getattr(build_task(task), "chance", None)
    at_chance = f", chance {chance:.3f}" if isinstance(chance, float) else ""
    return (
        f"no arm learned the task at this scale: best median {best['median_acc']:.3f} "
        f"({_short(best)}) <= solve threshold {threshold}{at_chance}"
    )


def _medians(rows: Rows) -> str:
    return ", ".join(f"{_short(r)} {r['solve']} ({r['median_acc']:.3f})" for r in rows)


# --- judges: (leg record, the leg's scale spec) -> Judgement (claims.JUDGES maps claims to them)


def mqar_solves(rec, s) -> Judgement:
    rows, thr = rec["rows"], s["threshold"]
    q = rows[0]
    measured = f"{q['solve']} seeds, median {q['median_acc']:.3f} at {q['params']:,} params"
    sp = spread(q["per_seed"])
    if _solved_all(q, thr):
        return Judgement(measured, sp, "reproduced", f"every seed above the solve threshold {thr}")
    if not any(r["median_acc"] > thr for r in rows):
        return Judgement(measured, sp, NOT_HERE, _nothing_learned(rows, thr, s["task"]))
    return Judgement(measured, sp, "refuted", f"quad2 solves only {q['solve']} seeds; grid: {_medians(rows)}")


def mqar_efficiency(rec, s) -> Judgement:
    rows, thr = rec["rows"], s["threshold"]
    q, tfs = rows[0], rows[1:]
    solved = [r for r in tfs if r["median_acc"] > thr]
    smallest = solved[0] if solved else None
    ratio = smallest["params"] / q["params"] if smallest else None
    if q["median_acc"] <= thr:
        measured = f"quad2 does not solve (median {q['median_acc']:.3f})"
        if ratio is not None and ratio < PARAM_EFFICIENCY_BAR:
            why = f"{smallest['arm']}, only {ratio:.2f}x quad2's size, solves where quad2 does not"
            return Judgement(measured, None, "refuted", why)
        why = f"quad2 does not solve MQAR at this scale: no efficiency to compare ({_medians(rows)})"
        return Judgement(measured, None, NOT_HERE, why)
    if smallest is not None:
        measured = f"{ratio:.2f}x ({smallest['arm']} {smallest['params']:,} vs quad2 {q['params']:,})"
        ok = ratio >= PARAM_EFFICIENCY_BAR
        why = f"smallest solving Transformer is {ratio:.2f}x quad2's size (bar {PARAM_EFFICIENCY_BAR}x)"
        return Judgement(measured, None, "reproduced" if ok else "refuted", why)
    lower = max(r["params"] for r in tfs) / q["params"]
    measured = f"> {lower:.2f}x (no Transformer in the grid solves)"
    if lower >= PARAM_EFFICIENCY_BAR:
        return Judgement(measured, None, "reproduced", f"even {lower:.2f}x quad2's size does not solve")
    why = f"the grid's largest Transformer is only {lower:.2f}x quad2's size: too small to test the bar"
    return Judgement(measured, None, NOT_HERE, why)


def zero_params(rec, s) -> Judgement:
    arms = _by_arm(rec["rows"])
    counts = {k: arms[k]["params"] for k in ("prizma-quad2", "prizma-rand_linear", "prizma-none")}
    added = counts["prizma-quad2"] - counts["prizma-none"]
    measured = f"{added:+,} (quad2 {counts['prizma-quad2']:,}, none {counts['prizma-none']:,})"
    if len(set(counts.values())) == 1:
        why = "none, quad2 and rand_linear have equal trainable counts"
        return Judgement(measured, None, "reproduced", why)
    return Judgement(measured, None, "refuted", f"trainable parameter counts differ: {counts}")


def ablation(rec, s) -> Judgement:
    rows, thr = rec["rows"], s["threshold"]
    arms = _by_arm(rows)
    q = arms["prizma-quad2"]
    solves = {k: r["median_acc"] > thr for k, r in arms.items()}
    measured = _medians(rows)
    sp = spread(q["per_seed"])
    controls = ("prizma-rand_linear", "prizma-none")
    if solves["prizma-quad2"] and not any(solves[k] for k in controls):
        return Judgement(measured, sp, "reproduced", f"only quad2 passes the solve threshold {thr}")
    if not any(solves.values()):
        return Judgement(measured, sp, NOT_HERE, _nothing_learned(rows, thr, s["task"]))
    if solves["prizma-quad2"]:
        why = "the task is too easy at this scale to separate feature maps: a control solves it too"
        return Judgement(measured, sp, NOT_HERE, why)
    return Judgement(measured, sp, "refuted", "another arm solves the task where quad2 does not")


def _bar_claim(rows: Rows, s: dict[str, Any], measured: str) -> Judgement:
    """quad2 >= CLAIM_BAR on every seed; undecidable where no arm learned the task at all."""
    thr = s["threshold"]
    q = _by_arm(rows)["prizma-quad2"]
    sp = spread(q["per_seed"])
    if _solved_all(q, CLAIM_BAR, strict=False):
        return Judgement(measured, sp, "reproduced", f"every seed >= {CLAIM_BAR}")
    if not any(r["median_acc"] > thr for r in rows):
        return Judgement(measured, sp, NOT_HERE, _nothing_learned(rows, thr, s["task"]))
    best = max(rows, key=lambda r: r["median_acc"])
    why = f"quad2 seeds {q['per_seed']} miss {CLAIM_BAR}; {_short(best)} learns the task ({best['solve']})"
    return Judgement(measured, sp, "refuted", why)


def induction(rec, s) -> Judgement:
    return _bar_claim(rec["rows"], s, _medians(rec["rows"]))


def selcopy(rec, s) -> Judgement:
    q = _by_arm(rec["rows"])["prizma-quad2"]
    measured = f"quad2 selective {q['median_acc']:.4f} ({q['solve']}), fixed {q['fixed_median_acc']:.4f}"
    return _bar_claim(rec["rows"], s, measured)


def charlm(rec, s) -> Judgement:
    head = rec["headline"]
    if head.get("skipped"):
        return Judgement("–", None, "not measured", head["measured"])
    q, tf = rec["rows"][0], rec["rows"][1]
    deltas = [a - b for a, b in zip(q["per_seed_test"], tf["per_seed_test"], strict=True)]
    corpus = rec.get("corpus", s["corpus"])
    measured = (
        f"delta {head['delta']:+.4f} BPC ({corpus}: quad2 {q['median_test_bpc']:.4f} vs "
        f"TF {tf['median_test_bpc']:.4f})"
    )
    sp = spread(deltas, "paired seeds")
    if tf["median_test_bpc"] >= head["unigram_bpc"]:
        why = (
            f"the Transformer's test BPC {tf['median_test_bpc']:.3f} is no better than the corpus' "
            f"unigram entropy {head['unigram_bpc']:.3f}: the baseline learned no context at this scale"
        )
        return Judgement(measured, sp, NOT_HERE, why)
    ok = head["delta"] <= MARGIN
    why = f"delta {'<=' if ok else '>'} +{MARGIN} on {corpus} (seed: text8)"
    return Judgement(measured, sp, "reproduced" if ok else "refuted", why)


def _small(rec) -> Rows:
    return [r for r in rec["rows"] if r["size"] == "small"]


def state_constant(rec, s) -> Judgement:
    rows = _small(rec)
    first, last = rows[0], rows[-1]
    measured = (
        f"{first['state_floats']:,} floats; KV / state {first['memory_ratio']:.1f}x (n={first['n']:,}) "
        f"to {last['memory_ratio']:.1f}x (n={last['n']:,})"
    )
    constant = len({r["state_floats"] for r in rows}) == 1
    kv = [r["kv_floats"] for r in rows]
    if not constant or not all(a < b for a, b in zip(kv, kv[1:], strict=False)):
        why = "state size varies with n" if not constant else "the KV cache does not grow with n"
        return Judgement(measured, None, "refuted", why)
    if last["memory_ratio"] <= 1:
        even = round(last["state_floats"] / (last["kv_floats"] / last["n"]))
        why = f"constant state, but the KV cache outgrows it only from n ~ {even:,}, beyond these contexts"
        return Judgement(measured, None, NOT_HERE, why)
    why = "state size equal at every n while the KV cache outgrows it"
    return Judgement(measured, None, "reproduced", why)


def lasting_crossover(rows: Rows) -> int | None:
    """The smallest n from which the Transformer is slower per step at every longer context too."""
    cross = None
    for r in reversed(rows):
        if r["transformer_ms"] <= r["prizma_ms"]:
            break
        cross = r["n"]
    return cross


def crossover(rec, s) -> Judgement:
    rows, head = _small(rec), rec["headline"]
    cross, last = lasting_crossover(rows), rows[-1]
    measured = (
        f"crossover n={'none' if cross is None else f'{cross:,}'}; {last['speedup']:.2f}x at "
        f"n={last['n']:,}; Prizma ms/step max/min {head['prizma_max_over_min_ms']:.2f}"
    )
    sp = spread(last.get("prizma_ms_runs", []), "timed runs")
    if cross is not None:
        why = f"Prizma's per-step time stays below the Transformer's from n = {cross:,} (seed: 32,768)"
        return Judgement(measured, sp, "reproduced", why)
    if last["n"] >= 2 * SEED_CROSSOVER_N:
        return Judgement(measured, sp, "refuted", f"no crossover up to n = {last['n']:,}")
    why = f"the longest context here, n = {last['n']:,}, is short of the seed's crossover n"
    return Judgement(measured, sp, NOT_HERE, why)


def lengen(rec, s) -> Judgement:
    q, tf = rec["rows"][0], rec["rows"][1]
    ratio = q["retention"] / tf["retention"] if tf["retention"] > 0 else math.inf
    ratio = ratio if math.isfinite(q["retention"]) and math.isfinite(tf["retention"]) else math.nan
    measured = f"retention quad2 {q['retention']:.3f} vs TF {tf['retention']:.3f} ({ratio:.2f}x)"
    sp = spread(q.get("per_seed_retention", []))
    for r in (q, tf):
        if not r["1x"] > LEARNED_AT_1X:
            why = (
                f"{_short(r)} reached only acc {r['1x']:.3f} at the training length (needs > "
                f"{LEARNED_AT_1X}), so its retention says nothing"
            )
            return Judgement(measured, sp, NOT_HERE, why)
    ok = ratio >= RETENTION_BAR
    why = f"retention ratio {ratio:.2f}x {'>=' if ok else '<'} {RETENTION_BAR}x"
    return Judgement(measured, sp, "reproduced" if ok else "refuted", why)




# --- the separation ladder (separation.py): judged from its record, `s` = SCALES[scale]["separation"]


def _unfinished(judge):
    """A separation judge whose undecided answer (NOT_HERE) waits for the whole ladder: while blocks
    are untrained it reads "not measured", since a later rung or width could still decide."""

    def judged(rec, s) -> Judgement:
        j = judge(rec, s)
        if j.verdict == NOT_HERE and rec["missing"]:
            return j._replace(verdict="not measured", why=f"{j.why}; {len(rec['missing'])} blocks untrained")
        return j

    judged.__doc__, judged.__name__ = judge.__doc__, judge.__name__
    return judged


def _rung_text(r: dict[str, Any]) -> str:
    means = ", ".join(f"{k.split('-')[-1]} {v:.3f}" for k, v in r["means"].items())
    return f"D/d_h={r['D/d_h']:g} (D={r['D']}): {means}"


@_unfinished
def separation_ablation(rec, s) -> Judgement:
    """quad2 >> none ~ rand_linear on the ladder. reproduced: some rung with >= CONFIRM_SEEDS seeds
    per arm where quad2 leads both rivals by >= SEPARATION_MARGIN with one-sided Welch p < ALPHA.
    refuted: a capacity-bound rung (D/d_h >= CAPACITY_BOUND) where quad2 and a rival both solve
    (the rival holds more pairs than its key width; no gain left to carry), or a rival leads quad2
    by the margin with p < ALPHA. Otherwise not reproducible at the scales tried (why: which)."""
    from . import separation as sep

    thr = s["threshold"]
    full = [r for r in rec["rungs"] if "gap" in r and min(r["seeds"].values()) >= sep.CONFIRM_SEEDS]
    if not full:
        why = f"no rung has {sep.CONFIRM_SEEDS} seeds of every arm yet"
        why += f" ({len(rec['missing'])} untrained blocks)"
        return Judgement("–", None, "not measured", why)
    for r in full:
        if r["gap"] >= sep.SEPARATION_MARGIN and all(p < sep.ALPHA for p in r["p_greater"].values()):
            p = max(r["p_greater"].values())
            why = f"quad2 leads by {r['gap']:.3f} (>= {sep.SEPARATION_MARGIN}), Welch p <= {p:.3g}"
            return Judgement(_rung_text(r), None, "reproduced", why)
    for r in full:
        if r["D/d_h"] < sep.CAPACITY_BOUND:
            continue
        means = r["means"]
        both = [m for m in sep.RIVALS if means[m] >= thr and means[sep.QUAD2] >= thr]
        ahead = [m for m in sep.RIVALS if means[m] - means[sep.QUAD2] >= sep.SEPARATION_MARGIN
                 and r["p_less"].get(m, 1.0) < sep.ALPHA]
        if both or ahead:
            who = (both or ahead)[0]
            why = (f"{who} solves {r['D']} pairs with d_h = {r['D'] / r['D/d_h']:g} as quad2 does" if both
                   else f"{who} leads quad2 by >= {sep.SEPARATION_MARGIN} with Welch p < {sep.ALPHA}")
            return Judgement(_rung_text(r), None, "refuted", why)
    best = max(full, key=lambda r: r["gap"])
    learned = max(max(r["means"].values()) for r in full)
    ps = ", ".join(f"{m.split('-')[-1]} {p:.3g}" for m, p in best["p_greater"].items())
    why = (f"no rung separates (largest gap {best['gap']:.3f} at D/d_h={best['D/d_h']:g}, one-sided "
           f"Welch p(quad2 > rival): {ps or '–'}; needs gap >= {sep.SEPARATION_MARGIN} and p < "
           f"{sep.ALPHA} against both); best arm mean over decided rungs {learned:.3f}")
    return Judgement(_rung_text(best), None, NOT_HERE, why)


@_unfinished
def separation_efficiency(rec, s) -> Judgement:
    """Smallest solving Transformer vs smallest solving quad2 at the width rung (PARAM_EFFICIENCY_BAR)."""
    eff = rec["efficiency"]
    q, tf = eff["smallest"]["prizma-quad2"], eff["smallest"]["transformer"]
    tfs = [e for e in eff["entries"] if e["model"] == "transformer"]
    if q is None:
        return Judgement("quad2 solves at no width tried", None, NOT_HERE,
                         f"no quad2 width solves MQAR D={eff['D']}: nothing to compare "
                         f"({len(eff['entries'])} width cells)")
    if tf is not None:
        ratio = tf["params"] / q["params"]
        ok = ratio >= PARAM_EFFICIENCY_BAR
        measured = f"{ratio:.2f}x ({tf['arm']} {tf['params']:,} vs {q['arm']} {q['params']:,})"
        why = f"smallest solving Transformer / smallest solving quad2 (bar {PARAM_EFFICIENCY_BAR}x)"
        return Judgement(measured, None, "reproduced" if ok else "refuted", why)
    lower = max((e["params"] for e in tfs), default=0) / q["params"]
    if lower >= PARAM_EFFICIENCY_BAR:
        best = max(tfs, key=lambda e: e["mean_acc"])
        return Judgement(f"> {lower:.2f}x", None, "reproduced",
                         f"no Transformer width tried solves (best {best['arm']} {best['mean_acc']:.3f} "
                         f"< {s['threshold']}): a lower bound at this recipe, which may limit the "
                         f"Transformer's steps rather than its size")
    return Judgement(f"> {lower:.2f}x", None, NOT_HERE,
                     f"no Transformer tried solves and the largest is only {lower:.2f}x quad2's size")


@_unfinished
def separation_lengen(rec, s) -> Judgement:
    """Retention acc(f·T)/acc(T) of quad2 vs the Transformer at the hardest rung where the
    Transformer learned the training length (final acc > LEARNED_AT_1X); bar RETENTION_BAR."""
    f = rec["lengen"]["factor"]
    ok = [r for r in rec["lengen"]["rungs"] if "transformer" in r and "prizma-quad2" in r
          and r["transformer"]["1x"] > LEARNED_AT_1X and r["prizma-quad2"]["1x"] > LEARNED_AT_1X]
    if not ok:
        why = f"at no rung did both quad2 and the Transformer learn the training length (> {LEARNED_AT_1X})"
        return Judgement("–", None, NOT_HERE, why)
    r = ok[-1]
    q, tf = r["prizma-quad2"]["retention"], r["transformer"]["retention"]
    ratio = q / tf if tf > 0 else math.inf
    measured = f"D={r['D']}, {f}x: retention quad2 {q:.3f} vs TF {tf:.3f} ({ratio:.2f}x)"
    good = ratio >= RETENTION_BAR
    return Judgement(measured, None, "reproduced" if good else "refuted",
                     f"retention ratio {ratio:.2f}x {'>=' if good else '<'} {RETENTION_BAR}x")
