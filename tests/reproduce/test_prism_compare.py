"""Smoke runs of the PRISM comparison (table + routing report) and the speed benchmark."""

import json

import pytest

from prismlm.models.prism import PrismConfig, PrismLM
from prismlm.models.ssm import SSMLM, SSMConfig
from prismlm.reproduce.prism import PRESETS, Preset, bench_prism, compare_prism, register_preset


def test_compare_writes_table_and_routing_report(tmp_path):
    register_preset(
        "prism-test",
        Preset(
            models={
                "prism": lambda v, n: PrismLM(
                    PrismConfig(v, d_model=16, n_layers=2, d_mem=4, num_slots=3)
                ),
                "ssm": lambda v, n: SSMLM(SSMConfig(v, d_model=8, n_layers=1, d_state=2)),
            },
            tasks=dict(PRESETS["prism-toy"].tasks),
            train=dict(steps=2, batch_size=4, warmup=1, eval_every=2, eval_batches=1,
                       monitor="bpc", plateau_patience=0, device="cpu"),
        ),
    )
    summary = compare_prism(
        "prism-test", ["induction"], seeds=(0,), out=tmp_path, models=["prism", "ssm"],
        log=lambda s: None,
    )
    agg = summary["tasks"]["induction"]["models"]
    assert agg["prism"]["ce"]["n"] == 1 and agg["prism"]["params"] > agg["ssm"]["params"]
    layers = agg["prism"]["routing"]
    assert len(layers) == 2 and set(layers[-1]["fractions"]) == {"neural", "symbolic"}
    for name in ("compare_prism-test.json", "compare_prism-test.md",
                 "compare_prism-test_routing.png"):
        assert (tmp_path / name).exists()
    assert "1.78" in (tmp_path / "compare_prism-test.md").read_text()
    with pytest.raises(ValueError, match="unknown task"):
        compare_prism("prism-test", ["nope"], out=tmp_path)


def test_speed_benchmark_smoke(tmp_path):
    result = bench_prism(tmp_path, lengths=(32,), batches=(1,), quick=True, log=lambda s: None)
    assert result["mrb"][0]["scan_speedup"] > 0
    assert result["train_step"]["ratio"] > 0
    assert json.loads((tmp_path / "bench_prism.json").read_text())["mrb"]
