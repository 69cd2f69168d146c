"""The PRISM speed benchmark: its table and files, and that the chunked scan it times computes
what the recurrent loop computes on the same inputs."""

import dataclasses
import json

import torch

from prismlm.bench.prism_speed import (
    SCAN_COLUMNS,
    STEP_ARMS,
    STEP_RATIO_TARGET,
    STEP_VOCAB,
    bench_inputs,
    bench_prism_speed,
    scan_rates,
)
from prismlm.experiment.arms import resolve_arm
from prismlm.models import count_parameters
from prismlm.ops.multirate_scan import multirate_scan_chunked, multirate_scan_recurrent


def test_benchmark_writes_every_row_and_column(tmp_path):
    before = torch.get_num_threads()
    result = bench_prism_speed(
        tmp_path, lengths=(16, 80), batches=(1, 2), d_model=8, quick=True, log=lambda s: None,
        threads=1,
    )
    assert torch.get_num_threads() == before  # the run's thread setting does not leak
    step = result["train_step"]
    assert result["environment"]["threads"] == 1 and step["batch"] == 4
    assert step["target"] == STEP_RATIO_TARGET and step["passed"] == (step["ratio"] <= STEP_RATIO_TARGET)
    assert [(r["batch"], r["T"]) for r in result["mrb"]] == [(1, 16), (1, 80), (2, 16), (2, 80)]
    assert all(set(SCAN_COLUMNS) <= set(r) for r in result["mrb"])
    assert all(r["scan_max_abs_diff"] < 1e-5 for r in result["mrb"])
    saved = json.loads((tmp_path / "bench_prism.json").read_text())
    assert saved["environment"]["threads"] >= 1 and len(saved["mrb"]) == 4
    md = (tmp_path / "bench_prism.md").read_text()
    assert md.count("\n| 1 | ") == 2 and "step-time ratio" in md
    verdict = "pass" if step["passed"] else "FAIL"
    assert f"| <= {STEP_RATIO_TARGET:.1f} | {verdict} |" in md and "1 threads, load average" in md
    # the Transformer baseline is parameter-matched: within half an FFN step (8 units) of PRISM
    step = result["train_step"]["models"]
    arm = {"model": "transformer", "d_model": 32, "n_layers": 4, "n_heads": 4, "match_to": STEP_ARMS["quick"]}
    tf = resolve_arm(arm, STEP_VOCAB, result["train_step"]["T"])
    per_step = count_parameters(dataclasses.replace(tf, d_ff=tf.d_ff + 8)) - count_parameters(tf)
    assert abs(step["transformer"]["params"] - step["prism"]["params"]) <= per_step / 2


def test_chunked_scan_equals_the_recurrent_loop_on_the_benchmark_inputs():
    for batch, length in ((1, 256), (2, 1000)):
        x = bench_inputs(batch, length, 128)
        torch.testing.assert_close(
            multirate_scan_chunked(x, scan_rates()),
            multirate_scan_recurrent(x, scan_rates()),
            atol=1e-5,
            rtol=1e-5,
        )
