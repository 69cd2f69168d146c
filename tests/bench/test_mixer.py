import json

import torch

from prismlm.bench.mixer import MixerBenchConfig, run_mixer_benchmark, train_flops
from prismlm.models import PrizmaSeqConfig, PrizmaSeqLM, TransformerLM, match_transformer


def test_mixer_benchmark_writes_json_markdown_and_plot_with_ratios(tmp_path):
    cfg = MixerBenchConfig(lengths=(24, 40), d_model=32, n_layers=1, n_heads=2, feat_n2=16,
                           vocab_size=64, decode_tokens=2, repeats=1, recurrent_max_len=40)
    result = run_mixer_benchmark(tmp_path, config=cfg)
    for name in ("mixer.json", "mixer.md", "mixer.png"):
        assert (tmp_path / name).stat().st_size > 0
    saved = json.loads((tmp_path / "mixer.json").read_text())
    assert [r["T"] for r in saved["op"]] == [24, 40]
    assert [r["T"] for r in saved["train"]] == [24, 40]
    assert [r["context"] for r in saved["decode"]] == [24, 40]
    assert saved["environment"]["threads"] >= 1 and len(saved["environment"]["load_average"]) == 3
    floats = {r["prizma_state_floats"] for r in saved["decode"]}
    assert len(floats) == 1  # constant decode state
    tf_floats = [r["transformer_state_floats"] for r in saved["decode"]]
    assert tf_floats[1] > tf_floats[0]  # the KV cache grows with the context
    assert any(v["claim"].startswith("Prizma decode state constant") for v in result["verdicts"])
    for row in saved["train"]:
        assert row["batch"] == cfg.train_batch and row["threads"] == torch.get_num_threads()
        for name in ("prizma", "transformer"):
            assert row[f"{name}_gflop"] > 0
            expected = row[f"{name}_gflop"] / (row[f"{name}_ms"] / 1e3)
            assert abs(row[f"{name}_gflop_per_s"] - expected) <= 1e-9 * expected
        assert abs(row["ratio"] - row["prizma_ms"] / row["transformer_ms"]) < 1e-12


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
