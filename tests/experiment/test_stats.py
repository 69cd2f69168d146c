import math

import numpy as np
import pytest
from scipy import stats as sps

from prismlm.experiment.stats import ci95, holm, summarize, tost, welch, welch_from_stats

A = [0.61, 0.72, 0.55, 0.69, 0.64]
B = [0.50, 0.58, 0.41, 0.47]


def test_welch_reproduces_scipy():
    ref = sps.ttest_ind(A, B, equal_var=False)
    got = welch(A, B)
    assert got.t == pytest.approx(ref.statistic, abs=1e-6)
    assert got.p_two_sided == pytest.approx(ref.pvalue, abs=1e-6)
    one = sps.ttest_ind(A, B, equal_var=False, alternative="greater")
    assert got.p_greater == pytest.approx(one.pvalue, abs=1e-6)


def test_identical_arms_give_p_half_one_sided():
    assert welch(A, A).p_greater == pytest.approx(0.5, abs=1e-9)


def test_charlm_summaries_give_welch_t_about_6_7():
    # spec §7.1: Prizma-v2 n=7 1.7449 ± 0.0028 vs Transformer n=10 1.7243 ± 0.0091
    t = welch_from_stats(1.7449, 0.0028, 7, 1.7243, 0.0091, 10).t
    assert t == pytest.approx(6.7, abs=0.05)


def test_ci95_is_the_student_t_interval():
    lo, hi = ci95(A)
    ref = sps.t.interval(0.95, len(A) - 1, loc=np.mean(A), scale=sps.sem(A))
    assert (lo, hi) == pytest.approx(ref, abs=1e-9)


def test_summary_solve_rate_and_median():
    s = summarize([0.999, 0.997, 0.935, 0.2], threshold=0.9)
    assert s.n_solved == 3 and s.solve_rate == 0.75
    assert s.median == pytest.approx(0.966)
    assert s.mean == pytest.approx(np.mean([0.999, 0.997, 0.935, 0.2]))


def test_tost_matches_two_one_sided_scipy_tests():
    margin = 0.2
    x, y = np.array(A), np.array(B)
    p1 = sps.ttest_ind(x + margin, y, equal_var=False, alternative="greater").pvalue
    p2 = sps.ttest_ind(y + margin, x, equal_var=False, alternative="greater").pvalue
    assert tost(A, B, margin) == pytest.approx(max(p1, p2), abs=1e-6)


def test_holm_adjustment_known_values():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]


def test_single_seed_summary_has_a_degenerate_interval():
    s = summarize([0.5])
    assert s.ci_low == s.ci_high == 0.5 and s.sd == 0.0 and not math.isnan(s.mean)
