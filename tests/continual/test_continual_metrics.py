"""ACC, FGT, BWT, LA and the confidence interval on hand-computed matrices."""

import numpy as np
import pytest

from prismlm.continual.metrics import acc, bwt, fgt, la, mean_ci

R = np.array([[0.9, 0.1, 0.2],
              [0.5, 0.8, 0.3],
              [0.6, 0.4, 0.7]])


def test_acc_is_the_mean_of_the_final_row():
    assert acc(R) == pytest.approx((0.6 + 0.4 + 0.7) / 3)


def test_fgt_takes_the_max_before_the_final_row():
    # task 0: max(0.9, 0.5) - 0.6 = 0.3; task 1: max(0.8) - 0.4 = 0.4
    assert fgt(R) == pytest.approx(0.35)


def test_fgt_is_not_clamped_so_it_can_be_negative():
    up = np.array([[0.5, 0.0], [0.9, 0.9]])
    assert fgt(up) == pytest.approx(-0.4)


def test_bwt_and_la():
    assert bwt(R) == pytest.approx(((0.6 - 0.9) + (0.4 - 0.8)) / 2)
    assert la(R) == pytest.approx((0.9 + 0.8 + 0.7) / 3)


def test_metrics_keep_leading_seed_axes():
    assert fgt(np.stack([R, R])).shape == (2,)


def test_ci_is_normal_approximation_with_ddof1():
    v = [0.1, 0.2, 0.3, 0.6]
    m, h = mean_ci(v)
    assert m == pytest.approx(0.3)
    assert h == pytest.approx(1.96 * np.std(v, ddof=1) / 2)


def test_non_square_matrix_is_rejected():
    with pytest.raises(ValueError, match="T, T"):
        acc(np.zeros((2, 3)))
