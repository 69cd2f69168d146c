"""The claims ledger entry of the Prizma continual learner: the seed's numeric claims, measured.

    CLAIMS                      one Claim per numeric continual claim in seed 000 (Prizma README)
    measure(scale, out, ...)    runs E1 and E5 at `scale`, returns one Measurement per claim

Scales: "smoke" is the spec's small stream (3 epochs, 3 seeds) and a short E5, under two minutes
on one CPU; "cpu" is the reference's own protocol (E1: 10 seeds x 15 epochs, E5: 5 seeds), the
settings results/continual/ was produced with; "paper" is the same as "cpu" (the reference ran
on a CPU; there is no larger published scale). Per-learner figures are judged only at the
reference's protocol; the qualitative claims (orderings, causality, no benefit) at any scale,
on whatever stream that scale ran. Comparisons between learners use Welch's t-test on the
per-seed values (one-sided, p < 0.05), so with one seed they fall back to comparing means.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...continual.metrics import summarize
from ...experiment.stats import welch
from ..claim import SCALES, Claim, Measurement
from .configs import E1_REFERENCE, E1Config, E5Config, small_e1_config
from .experiments import e1, e5
from .report import ZERO_FGT_TOL

SEED = "seeds/000_03e262b0bbfadeef.txt"
E1_TABLE = f"{SEED}, 'Headline result (E1, structured-permuted, 10 seeds)' table"
P_SIGNIFICANT = 0.05
# seed table row -> the learner that implements it. The seed's "exact W^T" row is the
# reference's sign-flipped encoder (spec §1.3), i.e. prizma_exact_reference.
E1_ROWS = {"backprop": "backprop MLP", "ewc": "EWC", "replay": "replay (buffer 1000)",
           "oracle": "oracle_multihead (upper bound)", "prizma_dfa": "Prizma (DFA, no W^T)",
           "prizma_exact_reference": "Prizma (exact W^T)", "noroute": "PRIZMA_noRoute (ablation)"}


def _learner_claim(name: str) -> Claim:
    acc, fgt = E1_REFERENCE[name]
    return Claim(f"continual.e1_{name}", "continual",
                 f"E1: {E1_ROWS[name]} reaches ACC {acc:.3f} and FGT {fgt:.3f}",
                 f"ACC {acc:.3f}, FGT {fgt:.3f}", E1_TABLE)


CLAIMS: tuple[Claim, ...] = (
    *(_learner_claim(n) for n in E1_ROWS),
    Claim("continual.between_replay_and_oracle", "continual",
          "Prizma (DFA) sits between replay and the task-id oracle in ACC",
          "replay 0.737 < Prizma 0.834 < oracle 0.879", f"{SEED}, text under the E1 table"),
    Claim("continual.beats_backprop_and_ewc", "continual",
          "zero forgetting while beating naive backprop and (boundary-using) EWC",
          "Prizma ACC 0.834, FGT 0.000 vs backprop 0.445 / EWC 0.456",
          f"{SEED}, 'Prizma' thread summary and E1 table"),
    Claim("continual.dfa_is_best_variant", "continual",
          "the W^T-free DFA variant is the best Prizma variant (beats exact weight transport)",
          "DFA 0.834 vs exact W^T 0.708", f"{SEED}, text under the E1 table"),
    Claim("continual.routing_is_causal", "continual",
          "the noRoute ablation shows recognition routing is the causal mechanism",
          "noRoute ACC 0.446, FGT 0.489 vs Prizma 0.834, 0.000", E1_TABLE),
    Claim("continual.no_benefit_ambiguous", "continual",
          "no benefit in the fully ambiguous regime, impossible for any single-head learner",
          "no number in the seed (the reference's E5: ceiling 0.780, Prizma 0.570, "
          "backprop 0.694)", f"{SEED}, 'Prizma' section; spec §5 E5"),
    Claim("continual.runtime", "continual",
          "the whole E1-E5 suite runs in about 2.5 minutes", "~2.5 min",
          f"{SEED}, run_continual.py usage line"),
)


def _spread(ms: dict, n: int) -> str:
    return (f"ACC ± {ms['acc']['ci95']:.3f}, FGT ± {ms['fgt']['ci95']:.3f} "
            f"(95% t-CI, {n} seed{'s' if n != 1 else ''})")


def _greater(a, b) -> bool:
    """mean(a) > mean(b), significantly (Welch one-sided p < 0.05) when both have >= 2 seeds."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        return bool(a.mean() > b.mean())
    return bool(a.mean() > b.mean() and welch(a, b).p_greater < P_SIGNIFICANT)


def _m(claim_id: str, measured: str, spread, ok: bool, command: str, why: str) -> Measurement:
    return Measurement(claim_id, measured, spread, "reproduced" if ok else "refuted", command,
                       "" if ok else why)


def e1_measurements(results: dict, cfg: E1Config, command: str) -> list[Measurement]:
    """Measurements of the E1 claims from {learner: {"R": [S, T, T]}} of a run with `cfg`."""
    ms = {n: summarize(r["R"]) for n, r in results.items() if not n.startswith("_")}
    n = len(cfg.seeds)
    per = {name: {k: ms[name][k]["per_seed"] for k in ("acc", "fgt")} for name in ms}
    out = []
    for name in E1_ROWS:
        cid = f"continual.e1_{name}"
        if name not in ms:
            out.append(Measurement(cid, "–", None, "not measured", command,
                                   f"{name} was not among the learners run"))
            continue
        acc, fgt = ms[name]["acc"]["mean"], ms[name]["fgt"]["mean"]
        ref_acc, ref_fgt = E1_REFERENCE[name]
        text = f"ACC {acc:.3f}, FGT {fgt:.3f}"
        note = ""
        if name == "prizma_exact_reference" and "prizma_exact" in ms:
            note = (f"; with the encoder sign fixed (spec §1.3) exact W^T reaches ACC "
                    f"{ms['prizma_exact']['acc']['mean']:.3f}")
        if cfg.scale != "full":
            out.append(Measurement(cid, text, _spread(ms[name], n), "not reproducible at this "
                                   "scale", command, f"the seed figure is E1 at 15 epochs x "
                                   f"6000 samples x 5 domains; this run used {cfg.epochs} "
                                   f"epochs{note}"))
            continue
        ok = abs(acc - ref_acc) <= cfg.tolerance and abs(fgt - ref_fgt) <= cfg.tolerance
        why = (f"ACC off by {acc - ref_acc:+.3f}, FGT by {fgt - ref_fgt:+.3f} "
               f"(tolerance ±{cfg.tolerance})")
        m = _m(cid, text, _spread(ms[name], n), ok, command, why)
        out.append(Measurement(m.claim_id, m.measured, m.spread, m.verdict, m.command,
                               (m.why + note).lstrip("; ")))
    stream = (f"on the stream this scale ran ({n} seeds x {cfg.epochs} epochs)"
              if cfg.scale != "full" else "")
    need = {"between_replay_and_oracle": ("replay", "prizma_dfa", "oracle"),
            "beats_backprop_and_ewc": ("prizma_dfa", "backprop", "ewc"),
            "dfa_is_best_variant": ("prizma_dfa", "prizma_exact"),
            "routing_is_causal": ("prizma_dfa", "noroute")}
    for key, names in need.items():
        cid = f"continual.{key}"
        if any(x not in ms for x in names):
            out.append(Measurement(cid, "–", None, "not measured", command,
                                   f"needs learners {names}"))
            continue
        a = {x: ms[x]["acc"]["mean"] for x in names}
        if key == "between_replay_and_oracle":
            ok = _greater(per["prizma_dfa"]["acc"], per["replay"]["acc"]) and \
                _greater(per["oracle"]["acc"], per["prizma_dfa"]["acc"])
            text = f"replay {a['replay']:.3f} < Prizma {a['prizma_dfa']:.3f} < oracle " \
                   f"{a['oracle']:.3f}"
            why = "the ACC order replay < Prizma < oracle does not hold significantly"
        elif key == "beats_backprop_and_ewc":
            fg = ms["prizma_dfa"]["fgt"]["mean"]
            ok = fg < ZERO_FGT_TOL and all(_greater(per["prizma_dfa"]["acc"], per[x]["acc"])
                                           for x in ("backprop", "ewc"))
            text = (f"Prizma ACC {a['prizma_dfa']:.3f}, FGT {fg:.3f} vs backprop "
                    f"{a['backprop']:.3f} / EWC {a['ewc']:.3f}")
            why = f"needs Prizma FGT < {ZERO_FGT_TOL} and ACC significantly above both"
        elif key == "dfa_is_best_variant":
            ok = _greater(per["prizma_dfa"]["acc"], per["prizma_exact"]["acc"])
            text = f"DFA {a['prizma_dfa']:.3f} vs exact W^T (sign fixed) {a['prizma_exact']:.3f}"
            why = ("with the encoder's sign error fixed (spec §1.3), exact weight transport is "
                   "not worse than DFA; the seed's 0.708 is the sign-flipped variant")
        else:
            ok = _greater(per["noroute"]["fgt"], per["prizma_dfa"]["fgt"]) and \
                _greater(per["prizma_dfa"]["acc"], per["noroute"]["acc"])
            text = (f"noRoute ACC {a['noroute']:.3f}, FGT {ms['noroute']['fgt']['mean']:.3f} vs "
                    f"Prizma {a['prizma_dfa']:.3f}, {ms['prizma_dfa']['fgt']['mean']:.3f}")
            why = "removing routing does not significantly raise FGT and lower ACC"
        out.append(_m(cid, text, f"{n} seeds, Welch one-sided p < {P_SIGNIFICANT}", ok, command,
                      f"{why} {stream}".strip()))
    return out


def e5_measurement(payload: dict, command: str) -> Measurement:
    """The ambiguous-regime claim from an E5 payload: every learner at or below the single-head
    ceiling measured on its own test points (a benefit from routing would have to exceed it).
    The Prizma-vs-backprop row of E5 is context, not part of this verdict: it depends on how
    long each is trained, not on whether routing helps."""
    bounds = [c for c in payload["checks"] if "ceiling +" in c["name"]]
    ok = all(c["passed"] for c in bounds)
    by = {r["learner"]: r["metrics"]["acc"]["mean"] for r in payload["rows"]}
    ceiling = float(np.mean(payload["ceiling"]))
    text = (f"ceiling {ceiling:.3f}; Prizma raw {by['prizma_dfa']:.3f}, Prizma RBF "
            f"{by['prizma_dfa_rbf']:.3f}, backprop RBF {by['backprop']:.3f}")
    n = len(payload["ceiling"])
    failed = "; ".join(f"{c['name']} ({c['measured']}, {c['target']})" for c in bounds
                       if not c["passed"])
    return _m("continual.no_benefit_ambiguous", text, f"{n} seeds", ok, command,
              f"failed: {failed}")


def measure(scale: str, out: Path, device: str = "auto",
            seeds: list[int] | None = None) -> list[Measurement]:
    """One Measurement per claim in CLAIMS, from E1 and E5 run at `scale` under `out`.

    `device` is accepted for the ledger's common signature; these learners are small batched
    CPU programs and always run on the CPU. Records are cached in <out>/{e1,e5}/cells/.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    out = Path(out)
    if scale == "smoke":
        s = tuple(seeds) if seeds else (0, 1, 2)
        e1_cfg = small_e1_config(seeds=s)
        e5_cfg = E5Config(seeds=s[:2], epochs=10, mlp_epochs=10)
    else:
        e1_cfg = E1Config(seeds=tuple(seeds)) if seeds else E1Config()
        e5_cfg = E5Config(seeds=tuple(seeds)) if seeds else E5Config()
    e1_cmd = (f"prismlm continual e1 --seeds {len(e1_cfg.seeds)} --epochs {e1_cfg.epochs}")
    e1_payload = e1(e1_cfg, out / "e1", workers=1 if scale == "smoke" else 2, progress=False)
    results = {r["learner"]: {"R": e1_payload["R"][r["learner"]]} for r in e1_payload["rows"]}
    found = e1_measurements(results, e1_cfg, e1_cmd)
    found.append(e5_measurement(e5(e5_cfg, out / "e5", progress=False),
                                f"prismlm continual e5 --seeds {len(e5_cfg.seeds)}"))
    found.append(Measurement("continual.runtime", "–", None, "not measured",
                             "prismlm continual bench",
                             "a wall time of the reference's script on the author's machine; "
                             "timings on this shared CPU are not comparable (the spec measured "
                             "the reference itself at ≈3 min on 2 cores; `prismlm continual "
                             "bench` times this implementation's E1)"))
    by_id = {m.claim_id: m for m in found}
    return [by_id[c.id] for c in CLAIMS]


__all__ = ["CLAIMS", "e1_measurements", "e5_measurement", "measure"]
