import json

from prismlm.bench.mixer import MixerBenchConfig, run_mixer_benchmark


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
