"""scripts/gpu_check.py imports everywhere, skips cleanly without CUDA, and on CUDA its accuracy
table stays within the per-dtype tolerances."""

import importlib.util
from pathlib import Path

import pytest
import torch

from prismlm.ops.numerics import TOLERANCE

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gpu_check.py"


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA path")
def test_without_cuda_the_script_says_it_skipped(capsys):
    assert load_script().main(["--quick"]) == 0
    assert "skipped" in capsys.readouterr().out


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_cuda_every_backend_is_within_tolerance():
    for row in load_script().accuracy(T=128, repeats=1):
        tol = TOLERANCE[getattr(torch, row["dtype"].removeprefix("torch."))]
        for name in ("chunked", "fla"):
            if f"{name}_err_o" in row:
                assert row[f"{name}_err_o"] < tol and row[f"{name}_err_S"] < tol, row
