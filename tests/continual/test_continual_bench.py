"""The E1 wall-time benchmark: a real recomputation (never a cache hit), its record, table and
figure with the environment beside, the 30 s target row, and the identity check against a
committed E1 record."""

import copy
import json

import pytest

from prismlm.bench.continual import (
    REFERENCE_E1_SECONDS,
    TARGET_SECONDS,
    compare_with_record,
    fresh_e1,
    run_continual_benchmark,
)
from prismlm.reproduce.continual.configs import E1Config
from prismlm.reproduce.continual.experiments import e1

TINY = E1Config(seeds=(0, 1), epochs=1, n_samples=600, learners=("prizma_dfa", "backprop"))


def test_bench_writes_json_markdown_and_png_with_the_environment(tmp_path):
    record = run_continual_benchmark(tmp_path, seeds=1, epochs=1, workers=1, committed=None)
    for ext in ("json", "md", "png"):
        assert (tmp_path / f"bench_e1.{ext}").stat().st_size > 0
    stored = json.loads((tmp_path / "bench_e1.json").read_text())
    assert stored["environment_before"]["cpu_count"] >= 1
    assert stored["environment_before"]["threads"] == stored["threads_per_worker"] == 1
    assert stored["fast"]["median_s"] == record["fast"]["median_s"] > 0
    assert [r["seconds"] for r in stored["rows"] if not r["measured"]] == [REFERENCE_E1_SECONDS]
    assert stored["target_s"] == TARGET_SECONDS == 30.0
    assert stored["passed"] == (stored["fast"]["median_s"] <= TARGET_SECONDS)
    assert f"target <= {TARGET_SECONDS:.0f} s wall: " in stored["markdown"]
    assert stored["identity"] is None


def test_a_benchmark_run_recomputes_even_when_the_cache_holds_the_run(tmp_path):
    e1(TINY, out=tmp_path, workers=1, progress=False)
    assert e1(TINY, out=tmp_path, workers=1, progress=False)["cached"] is True
    assert fresh_e1(TINY, workers=1)["cached"] is False
    assert e1(TINY, out=tmp_path, workers=1, progress=False, fresh=True)["cached"] is False


def test_identity_check_passes_on_equal_numbers_and_fails_on_one_changed_seed():
    payload = fresh_e1(TINY, workers=1)
    same = compare_with_record(payload, copy.deepcopy(payload))
    assert same["comparable"] and same["identical"] and same["max_abs_diff"] == 0.0
    changed = copy.deepcopy(payload)
    changed["rows"][0]["metrics"]["fgt"]["per_seed"][1] += 1e-9
    diff = compare_with_record(payload, changed)
    assert diff["identical"] is False and diff["max_abs_diff"] == pytest.approx(1e-9)
    other = dict(copy.deepcopy(payload), fingerprint="another-config")
    assert compare_with_record(payload, other)["comparable"] is False


@pytest.mark.slow
def test_fresh_e1_equals_the_committed_record_seed_by_seed():
    """The speed work changes no number: E1 at its committed settings, recomputed, is identical
    (per-seed ACC and FGT of every learner) to results/continual/e1/e1.json."""
    from prismlm.bench.continual import COMMITTED_E1

    if not COMMITTED_E1.exists():
        pytest.skip("no committed E1 record in this checkout")
    check = compare_with_record(fresh_e1(E1Config(), workers=2),
                                json.loads(COMMITTED_E1.read_text()))
    assert check["comparable"] and check["identical"], check["learners"]


def test_row_gathers_equal_advanced_indexing():
    import torch

    from prismlm.continual.learner import pick, put
    from prismlm.continual.protocol import gather_rows

    g = torch.Generator().manual_seed(0)
    t = torch.randn(5, 4, 3, 2, generator=g)
    idx = torch.tensor([0, 3, 1, 1, 2])
    ar = torch.arange(5)
    assert torch.equal(pick(t, idx), t[ar, idx])
    v = torch.randn(5, 3, 2, generator=g)
    expect = t.clone()
    expect[ar, idx] = v
    put(t, idx, v)
    assert torch.equal(t, expect)
    x = torch.randn(3, 10, 4, generator=g).transpose(1, 2).transpose(1, 2)  # any layout
    rows = torch.randint(0, 10, (3, 6), generator=g)
    assert torch.equal(gather_rows(x, rows), x[torch.arange(3)[:, None], rows])


def test_parallel_jobs_give_the_numbers_of_one_process():
    from prismlm.continual.runner import run_learners
    from prismlm.reproduce.continual.experiments import e1_configs

    cfg = E1Config(seeds=(0, 1), epochs=1, n_samples=600)
    c = e1_configs(cfg)
    one = run_learners(c["stream"], c["run"], workers=1)
    two = run_learners(c["stream"], c["run"], workers=2)
    for name in cfg.learners:
        assert (one[name]["R"] == two[name]["R"]).all(), name
