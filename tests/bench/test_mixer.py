import json

import pytest
import torch

from prismlm.bench.mixer import MixerBenchConfig, run_mixer_benchmark, train_flops
from prismlm.bench.mixer_decode import DECODE_TARGETS, decode_verdicts
from prismlm.models import PrizmaSeqConfig, PrizmaSeqLM, TransformerLM, match_transformer


def test_mixer_benchmark_writes_json_markdown_and_plot_with_ratios(tmp_path):
    cfg = MixerBenchConfig(lengths=(24, 40), contexts=(24, 40), decode_batches=(1, 2),
                           compiled=False, d_model=32, n_layers=1, n_heads=2, feat_n2=16,
                           vocab_size=64, decode_tokens=2, repeats=1, recurrent_max_len=40)
    result = run_mixer_benchmark(tmp_path, config=cfg)
    for name in ("mixer.json", "mixer.md", "mixer.png"):
        assert (tmp_path / name).stat().st_size > 0
    saved = json.loads((tmp_path / "mixer.json").read_text())
    assert [r["T"] for r in saved["op"]] == [24, 40]
    assert [r["T"] for r in saved["train"]] == [24, 40]
    assert [(r["batch"], r["context"]) for r in saved["decode"]] == [(1, 24), (1, 40), (2, 24), (2, 40)]
    assert saved["environment"]["threads"] >= 1 and len(saved["environment"]["load_average"]) == 3
    for B in (1, 2):
        rows = [r for r in saved["decode"] if r["batch"] == B]
        assert len({r["prizma_state_floats"] for r in rows}) == 1  # constant decode state
        assert rows[1]["transformer_state_floats"] > rows[0]["transformer_state_floats"]  # KV grows
    for row in saved["decode"]:
        assert row["threads"] == torch.get_num_threads() and "compiled_ratio" not in row
        assert abs(row["ratio"] - row["prizma_ms_per_token"] / row["transformer_ms_per_token"]) < 1e-12
        assert abs(row["ops_ratio"] - row["prizma_ops_ms_per_token"]
                   / row["transformer_ops_ms_per_token"]) < 1e-12
    b1, b2 = saved["decode"][0], saved["decode"][2]
    assert b2["prizma_state_floats"] == 2 * b1["prizma_state_floats"]  # the state holds B rows
    assert any(v["claim"].startswith("Prizma decode state constant") for v in result["verdicts"])
    for row in saved["train"]:
        assert row["batch"] == cfg.train_batch and row["threads"] == torch.get_num_threads()
        for name in ("prizma", "transformer"):
            assert row[f"{name}_gflop"] > 0
            expected = row[f"{name}_gflop"] / (row[f"{name}_ms"] / 1e3)
            assert abs(row[f"{name}_gflop_per_s"] - expected) <= 1e-9 * expected
        assert abs(row["ratio"] - row["prizma_ms"] / row["transformer_ms"]) < 1e-12
        for variant in ("prizma_lean", "prizma_v2"):  # the v2 levers, timed against the same TF
            assert abs(row[f"{variant}_ratio"] - row[f"{variant}_ms"] / row["transformer_ms"]) < 1e-12
    lean = saved["models"]["prizma_lean"]["config"]
    assert lean["feat_map"] == "quad2_lowrank" and saved["models"]["prizma_v2"]["config"]["out_gate"]


def test_benchmark_defaults_are_batch_8_on_all_the_machines_threads():
    import os

    cfg = MixerBenchConfig()
    assert cfg.train_batch == 8 and cfg.op_batch == 8 and cfg.threads == os.cpu_count()


def test_train_flops_per_token_grow_with_T_for_the_transformer_only():
    prizma_cfg = PrizmaSeqConfig(vocab_size=64, d_model=32, n_layers=1, n_heads=2, feat_n2=16)
    prizma, tf = PrizmaSeqLM(prizma_cfg), TransformerLM(match_transformer(prizma_cfg))
    # doubling T adds a constant per token to the Transformer's attention, ~nothing to Prizma's
    tf_steps = [train_flops(tf, T) for T in (128, 256, 512)]
    assert tf_steps[2] - tf_steps[1] == 2 * (tf_steps[1] - tf_steps[0]) > 0
    assert abs(train_flops(prizma, 512) - train_flops(prizma, 256)) < 1e-3 * train_flops(prizma, 256)
    weights_only = 6 * sum(p.numel() for n, p in prizma.named_parameters() if "pos" not in n)
    assert train_flops(prizma, 256) > weights_only


def test_parts_run_alone(tmp_path):
    cfg = MixerBenchConfig(lengths=(24,), contexts=(16,), decode_batches=(1,), parts=("decode",),
                           compiled=False, d_model=32, n_layers=1, n_heads=2, feat_n2=16,
                           vocab_size=64, decode_tokens=2, repeats=1)
    saved = run_mixer_benchmark(tmp_path, config=cfg)
    assert saved["op"] == [] and saved["train"] == [] and len(saved["decode"]) == 1
    with pytest.raises(ValueError, match="'parts'"):
        MixerBenchConfig(parts=("decode", "prefill"))
    with pytest.raises(ValueError, match="'contexts'"):
        MixerBenchConfig(contexts=(0,))


def test_decode_verdicts_pass_or_fail_against_the_batch_1_targets():
    def row(n, batch, ratio, ops_ratio, compiled_ratio):
        return {"context": n, "batch": batch, "ratio": ratio, "ops_ratio": ops_ratio,
                "compiled_ratio": compiled_ratio, "prizma_state_floats": 100}

    (n_short, short), (n_long, long) = sorted(DECODE_TARGETS.items())
    rows = [row(n_short, 1, short * 0.99, short * 1.2, short * 1.01),
            row(n_long, 1, long * 1.01, long * 0.5, long * 0.99),
            row(n_short, 8, 9.0, 9.0, 9.0)]  # batch 8 is reported, not judged
    verdicts = {v["claim"]: v["pass"] for v in decode_verdicts(rows)}
    judged = [c for c in verdicts if "Transformer KV decode" in c]
    assert len(judged) == 6 and all("B=1" in c for c in judged)
    # per n: eager with the kernels, eager as torch ops, compiled
    assert [verdicts[c] for c in judged] == [True, False, False, False, True, True]
    assert verdicts["Prizma decode state constant in n (B=1)"]
