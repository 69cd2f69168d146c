"""ACC, FGT, BWT, LA on hand-computed matrices, and their Student-t summary over seeds."""

import numpy as np
import pytest

from prismlm.continual.metrics import (
    average_accuracy,
    backward_transfer,
    forgetting,
    learning_accuracy,
    summarize,
)
from prismlm.experiment.stats import ci95

R = np.array([[0.9, 0.1, 0.2],
              [0.5, 0.8, 0.3],
              [0.6, 0.4, 0.7]])


def test_average_accuracy_is_the_mean_of_the_final_row():
    assert average_accuracy(R) == pytest.approx((0.6 + 0.4 + 0.7) / 3)


def test_forgetting_takes_the_max_before_the_final_row():
    # task 0: max(0.9, 0.5) - 0.6 = 0.3; task 1: max(0.8) - 0.4 = 0.4
    assert forgetting(R) == pytest.approx(0.35)


def test_forgetting_is_not_clamped_so_it_can_be_negative():
    up = np.array([[0.5, 0.0], [0.9, 0.9]])
    assert forgetting(up) == pytest.approx(-0.4)


def test_backward_transfer_and_learning_accuracy():
    assert backward_transfer(R) == pytest.approx(((0.6 - 0.9) + (0.4 - 0.8)) / 2)
    assert learning_accuracy(R) == pytest.approx((0.9 + 0.8 + 0.7) / 3)


def test_metrics_keep_leading_seed_axes():
    assert forgetting(np.stack([R, R])).shape == (2,)


def test_summary_uses_the_student_t_interval_not_the_normal_one():
    stack = np.stack([R, R * 0.9, R * 0.8, R * 0.5])
    s = summarize(stack)["acc"]
    per_seed = average_accuracy(stack)
    lo, hi = ci95(per_seed)
    assert s["per_seed"] == pytest.approx(per_seed.tolist())
    assert (s["ci_low"], s["ci_high"]) == pytest.approx((lo, hi))
    assert s["ci95"] == pytest.approx((hi - lo) / 2)
    assert s["ci95"] > 1.96 * np.std(per_seed, ddof=1) / 2  # t(3) is wider than z


def test_non_square_matrix_is_rejected():
    with pytest.raises(ValueError, match="T, T"):
        average_accuracy(np.zeros((2, 3)))
