"""`prismlm bench scale`: one row per model × checkpointing, written through write_record."""

import json

import pytest
from typer.testing import CliRunner

from prismlm.bench.scale import COLUMNS, ScaleBenchConfig, run_scale_benchmark
from prismlm.cli import app


def test_quick_benchmark_reports_every_model_with_and_without_checkpointing(tmp_path):
    payload = run_scale_benchmark(tmp_path, ScaleBenchConfig.quick())
    rows = payload["rows"]
    assert [(r["model"], r["checkpointing"]) for r in rows] == [
        (m, c) for m in ("prism", "prizma-seq", "transformer") for c in (False, True)
    ]
    for r in rows:
        assert r["tokens_per_s"] > 0 and r["flops_per_token"] > 6 * r["params"] * 0.99
        assert r["mfu"] is None  # no peak FLOP/s on a CPU
        assert set(COLUMNS) <= set(r)
    for plain, checked in zip(rows[::2], rows[1::2], strict=True):
        assert checked["peak_mem_mb"] < plain["peak_mem_mb"]  # checkpointing holds fewer activations
    saved = json.loads((tmp_path / "bench_scale.json").read_text())
    assert saved["rows"][0]["model"] == "prism" and "load_average" in saved["environment"]
    assert "tokens_per_s" in (tmp_path / "bench_scale.md").read_text()


def test_bad_fields_are_named():
    with pytest.raises(ValueError, match="'models'"):
        ScaleBenchConfig(models=("rnn",))
    with pytest.raises(ValueError, match="'seq_len'"):
        ScaleBenchConfig(seq_len=0)


def test_cli_runs_the_quick_benchmark(tmp_path):
    result = CliRunner().invoke(app, ["bench", "scale", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "bench_scale.md").exists() and "tok/s" in result.output
