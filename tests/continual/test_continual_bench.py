"""The E1 wall-time benchmark writes its record, table and figure, with the environment beside."""

import json

from prismlm.bench.continual import REFERENCE_E1_SECONDS, run_continual_benchmark


def test_bench_writes_json_markdown_and_png_with_the_environment(tmp_path):
    record = run_continual_benchmark(tmp_path, seeds=1, epochs=1, workers=1,
                                     include_slow_paths=False)
    for ext in ("json", "md", "png"):
        assert (tmp_path / f"bench_e1.{ext}").stat().st_size > 0
    stored = json.loads((tmp_path / "bench_e1.json").read_text())
    assert stored["environment_before"]["cpu_count"] >= 1
    assert stored["fast"]["median_s"] == record["fast"]["median_s"] > 0
    assert [r["seconds"] for r in stored["rows"] if not r["measured"]] == [REFERENCE_E1_SECONDS]
