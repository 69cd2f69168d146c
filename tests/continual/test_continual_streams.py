"""The domain streams: shapes, the permutation structure, separability, determinism, errors."""

import numpy as np
import pytest
import torch

from prismlm.continual.streams import (
    CheckerboardConfig,
    DigitsConfig,
    Stream,
    StructuredPermutedConfig,
    checkerboard,
    checkerboard_ceiling,
    digits,
    single_head_ceiling,
    structured_permuted,
)
from prismlm.reproduce.continual.configs import E5_CEILING_REFERENCE


@pytest.fixture(scope="module")
def stream():
    return structured_permuted(StructuredPermutedConfig(), [0, 1])


def test_structured_stream_has_reference_shapes(stream):
    assert stream.x_train.shape == (2, 5, 4800, 24)
    assert stream.x_test.shape == (2, 5, 1200, 24)
    assert stream.y_train.shape == (2, 5, 4800)


def test_domains_are_column_permutations_with_shared_labels(stream):
    x = stream.x_train[0]
    assert torch.equal(stream.y_train[0, 0], stream.y_train[0, 3])
    for t in range(1, 5):
        cols = [int(torch.nonzero((x[t][:, [k]] == x[0]).all(0))[0]) for k in range(24)]
        assert sorted(cols) == list(range(24))
        assert cols != list(range(24))


def test_columns_have_unit_std(stream):
    std = stream.x_train[0, 0].std(0)
    assert torch.allclose(std, torch.ones(24), atol=0.05)


def test_rank8_pca_separates_domains(stream):
    x = stream.x_train[0].double().numpy()
    xt = stream.x_test[0].double().numpy()
    _, _, vt = np.linalg.svd(x[0] - x[0].mean(0), full_matrices=False)
    basis = vt[:8]

    def mse(a):
        c = a - x[0].mean(0)
        return float(((c - c @ basis.T @ basis) ** 2).mean())

    assert mse(xt[0]) < 1e-3
    assert min(mse(xt[t]) for t in range(1, 5)) > 0.4


def test_stream_is_a_pure_function_of_config_and_seed():
    a = structured_permuted(StructuredPermutedConfig(n_samples=500), [3])
    b = structured_permuted(StructuredPermutedConfig(n_samples=500), [3])
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)


def test_noise_perturbs_inputs_and_also_the_teacher():
    clean = structured_permuted(StructuredPermutedConfig(n_samples=500), [0])
    noisy = structured_permuted(StructuredPermutedConfig(n_samples=500, noise=0.3), [0])
    assert not torch.allclose(clean.x_train, noisy.x_train)
    # as in the reference, the noise draw precedes the teacher, so labels change with sigma
    assert not torch.equal(clean.y_train, noisy.y_train)


def test_digits_stream_is_real_data_in_unit_range():
    s = digits(DigitsConfig(kind="rotated", n_tasks=4), [0])
    assert s.n_in == 64 and s.n_classes == 10 and s.n_tasks == 4
    assert float(s.x_train.min()) >= 0 and float(s.x_train.max()) <= 1
    img = s.x_train[0, 0, 0].reshape(8, 8)
    assert torch.equal(s.x_train[0, 2, 0].reshape(8, 8), torch.rot90(img, 2))


def test_checkerboard_ceiling_matches_reference():
    assert abs(checkerboard_ceiling(3) - E5_CEILING_REFERENCE) < 0.01


def test_ceiling_on_test_points_agrees_with_the_monte_carlo_ceiling():
    board = checkerboard(CheckerboardConfig(), [0])
    x = board.x_test[0].numpy()
    assert abs(single_head_ceiling(x) - checkerboard_ceiling(3)) < 0.02


def test_one_domain_has_no_ambiguity_so_its_ceiling_is_one():
    board = checkerboard(CheckerboardConfig(n_tasks=1, n_per_split=200), [0])
    assert single_head_ceiling(board.x_test[0].numpy()) == 1.0


def _raw(x, y, n_classes=2):
    return Stream("t", (0,), n_classes, x, y, x, y)


def test_nan_inputs_are_rejected_with_a_clear_error():
    x = torch.zeros(1, 1, 4, 3)
    x[0, 0, 1, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        _raw(x, torch.zeros(1, 1, 4, dtype=torch.long))


def test_empty_stream_is_rejected():
    with pytest.raises(ValueError, match="empty"):
        _raw(torch.zeros(1, 1, 0, 3), torch.zeros(1, 1, 0, dtype=torch.long))


def test_out_of_range_labels_are_rejected():
    with pytest.raises(ValueError, match="labels"):
        _raw(torch.zeros(1, 1, 4, 3), torch.full((1, 1, 4), 5, dtype=torch.long))


def test_invalid_stream_config_names_the_field():
    with pytest.raises(ValueError, match="latent"):
        StructuredPermutedConfig(latent=40)
