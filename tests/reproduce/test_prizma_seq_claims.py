"""Prizma-Seq verdicts from synthetic sweep records: each claim can be reproduced, refuted or
undecidable at a scale, and says which (no training: records go through the legs' own rows)."""

import pytest
from scipy import stats as sps

from prismlm.reproduce.prizma_seq.charlm import MARGIN
from prismlm.reproduce.prizma_seq.claims import CLAIMS, JUDGES
from prismlm.reproduce.prizma_seq.recall import CLAIM_BAR, RECALL_LEGS
from prismlm.reproduce.prizma_seq.scales import SCALES
from prismlm.reproduce.prizma_seq.verdicts import NOT_HERE, RETENTION_BAR, lasting_crossover

SCALE = "cpu"


def _records(accs, params=None, post=None):
    """Sweep records: one per (arm label, seed value); post[label] -> per-seed {name: acc}."""
    recs = []
    for label, xs in accs.items():
        for i, x in enumerate(xs):
            recs.append(
                {
                    "label": label,
                    "params": (params or {}).get(label, 1000),
                    "best": {"acc": x},
                    "steps": 10,
                    "step_ms": 1.0,
                    "config": {"task": {}},
                    "post": {k: {"acc": v} for k, v in ((post or {}).get(label, [{}] * len(xs))[i]).items()},
                }
            )
    return recs


def _judge(leg_name, claim, records):
    leg = RECALL_LEGS[leg_name]
    spec = SCALES[SCALE][leg.spec]
    rows = leg.rows(spec, records)
    return JUDGES[f"prizma_seq.{claim}"][1]({"rows": rows, "headline": leg.headline(spec, rows)}, spec)


def test_every_claim_has_a_judge_and_a_seed_figure():
    assert set(JUDGES) == {c.id for c in CLAIMS} and len(CLAIMS) >= 8
    assert all(c.system == "prizma_seq" and c.seed_figure and c.source.startswith("seed 000") for c in CLAIMS)


def test_rows_carry_the_student_t_interval_of_the_seeds():
    xs = [0.5, 0.7, 0.65]
    rows = RECALL_LEGS["mqar"].rows(SCALES[SCALE]["mqar"], _records({"prizma-quad2 d16L2H2": xs}))
    lo, hi = sps.t.interval(0.95, len(xs) - 1, loc=sps.tmean(xs), scale=sps.sem(xs))
    assert rows[0]["ci95_low"] == pytest.approx(lo) and rows[0]["ci95_high"] == pytest.approx(hi)
    assert rows[0]["median_acc"] == pytest.approx(0.65)


ABL = ("prizma-quad2 d16L2H2", "prizma-rand_linear d16L2H2", "prizma-none d16L2H2", "transformer d16L2H2")


@pytest.mark.parametrize(
    "accs, verdict",
    [
        ([[0.99, 0.98], [0.5, 0.6], [0.5, 0.52], [0.1, 0.1]], "reproduced"),
        ([[0.99, 0.98], [0.5, 0.6], [0.95, 0.96], [0.1, 0.1]], NOT_HERE),  # too easy: none solves too
        ([[0.3, 0.4], [0.5, 0.6], [0.95, 0.97], [0.1, 0.1]], "refuted"),
        ([[0.2, 0.2], [0.2, 0.3], [0.2, 0.2], [0.1, 0.1]], NOT_HERE),  # nothing learned
    ],
)
def test_ablation_verdicts(accs, verdict):
    j = _judge("ablation", "ablation_monomials_carry_gain", _records(dict(zip(ABL, accs, strict=True))))
    assert j.verdict == verdict and j.why


def test_added_parameters_refute_the_zero_parameter_claim():
    params = dict(zip(ABL, (1010, 1000, 1000, 990), strict=True))
    j = _judge("ablation", "quad2_zero_added_params", _records({a: [0.1, 0.1] for a in ABL}, params))
    assert j.verdict == "refuted" and j.measured.startswith("+10")


@pytest.mark.parametrize(
    "tf_accs, tf_params, quad2_acc, verdict",
    [
        ([0.1, 0.95], [2000, 4000], 0.95, "reproduced"),  # smallest solving TF is 4x >= the bar
        ([0.95, 0.95], [2000, 4000], 0.95, "refuted"),  # a 2x Transformer solves too
        ([0.1, 0.1], [2000, 3000], 0.95, NOT_HERE),  # grid tops out below the bar
        ([0.1, 0.1], [2000, 4000], 0.95, "reproduced"),  # nothing up to 4x solves: a lower bound
        ([0.95, 0.95], [2000, 4000], 0.2, "refuted"),  # quad2 fails where a 2x TF solves
        ([0.1, 0.95], [2000, 4000], 0.2, NOT_HERE),
    ],
)
def test_parameter_efficiency_verdicts(tf_accs, tf_params, quad2_acc, verdict):
    labels = ["prizma-quad2 d16L2H2", "transformer d16L2H2", "transformer d32L2H2"]
    accs = dict(zip(labels, [[quad2_acc] * 2] + [[a] * 2 for a in tf_accs], strict=True))
    params = dict(zip(labels, [1000, *tf_params], strict=True))
    assert _judge("mqar", "mqar_param_efficiency", _records(accs, params)).verdict == verdict


@pytest.mark.parametrize(
    "quad2, tf, verdict",
    [
        ([CLAIM_BAR, 0.999], [0.5, 0.5], "reproduced"),
        ([0.999, 0.95], [0.99, 0.995], "refuted"),  # one seed misses while the baseline learns
        ([0.5, 0.4], [0.3, 0.3], NOT_HERE),
    ],
)
def test_induction_bar_verdicts(quad2, tf, verdict):
    accs = {"prizma-quad2 d32L2H2": quad2, "prizma-none d32L2H2": [0.3, 0.3], "transformer d32L2H2": tf}
    post = {a: [{f"L{n}": 0.5 for n in (16, 32, 64, 128)}] * 2 for a in accs}
    assert _judge("induction", "induction_quad2", _records(accs, post=post)).verdict == verdict


@pytest.mark.parametrize(
    "tf_1x, tf_8x, verdict",
    [(0.99, 0.04, "reproduced"), (0.99, 0.3, "refuted"), (0.2, 0.1, NOT_HERE)],
)
def test_length_extrapolation_verdicts(tf_1x, tf_8x, verdict):
    def post(a1, a8):
        return [{"L16": a1, "L32": a1, "L64": a8, "L128": a8}] * 2

    accs = {"prizma-quad2 d32L2H2": [0.99, 0.99], "transformer d32L2H2": [tf_1x, tf_1x]}
    posts = {"prizma-quad2 d32L2H2": post(0.99, 0.5), "transformer d32L2H2": post(tf_1x, tf_8x)}
    j = _judge("lengen", "lengen_retention", _records(accs, post=posts))
    assert j.verdict == verdict
    if verdict != NOT_HERE:
        assert ((0.5 / 0.99) / (tf_8x / tf_1x) >= RETENTION_BAR) == (verdict == "reproduced")


def _charlm(q_bpc, tf_bpc, unigram=4.5, skipped=False):
    head = {"delta": q_bpc - tf_bpc, "unigram_bpc": unigram, "skipped": skipped, "measured": "not run: x"}
    rows = [
        {"median_test_bpc": q_bpc, "per_seed_test": [q_bpc, q_bpc + 0.01]},
        {"median_test_bpc": tf_bpc, "per_seed_test": [tf_bpc, tf_bpc]},
    ]
    judge = JUDGES["prizma_seq.charlm_within_margin"][1]
    return judge({"rows": rows, "headline": head}, SCALES[SCALE]["charlm"])


def test_charlm_verdicts():
    assert _charlm(2.60, 2.60 - MARGIN / 2).verdict == "reproduced"
    assert _charlm(2.60, 2.60 - 2 * MARGIN).verdict == "refuted"
    assert _charlm(5.0, 4.99).verdict == NOT_HERE  # the baseline is above the unigram entropy
    assert _charlm(2.6, 2.6, skipped=True).verdict == "not measured"


def _latency_rows(tf_ms, prizma_ms, floats=(100, 100, 100)):
    ns = [256, 1024, 4096]
    return [
        {"size": "small", "n": n, "transformer_ms": t, "prizma_ms": p, "speedup": t / p, "state_floats": f,
         "kv_floats": 8 * n, "memory_ratio": 8 * n / f, "prizma_ms_runs": [p, p * 1.1]}
        for n, t, p, f in zip(ns, tf_ms, prizma_ms, floats, strict=True)
    ]


def test_a_crossover_counts_only_when_it_lasts():
    assert lasting_crossover(_latency_rows([1, 3, 4], [2, 2, 2])) == 1024
    assert lasting_crossover(_latency_rows([3, 1, 1], [2, 2, 2])) is None  # a noisy first point


def test_latency_verdicts():
    judge_cross = JUDGES["prizma_seq.decode_latency_crossover"][1]
    judge_state = JUDGES["prizma_seq.decode_state_constant"][1]

    def rec(rows):
        return {"rows": rows, "headline": {"prizma_max_over_min_ms": 1.0}}

    assert judge_cross(rec(_latency_rows([1, 3, 4], [2, 2, 2])), {}).verdict == "reproduced"
    assert judge_cross(rec(_latency_rows([1, 1, 1], [2, 2, 2])), {}).verdict == NOT_HERE  # n < 32k
    assert judge_state(rec(_latency_rows([1, 1, 1], [2, 2, 2])), {}).verdict == "reproduced"
    growing = _latency_rows([1, 1, 1], [2, 2, 2], floats=(100, 200, 300))
    assert judge_state(rec(growing), {}).verdict == "refuted"
    short = _latency_rows([1, 1, 1], [2, 2, 2], floats=(10**6,) * 3)
    assert judge_state(rec(short), {}).verdict == NOT_HERE  # the KV cache never outgrows the state
