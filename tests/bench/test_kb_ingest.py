"""KB ingest memory: streaming keeps the marginal cost under the target per 1,000 facts."""

import json

import pytest

from prismlm.bench.kb_ingest import TARGET_MB_PER_1000, run_kb_ingest_benchmark


def test_ingest_memory_per_1000_facts_is_under_target_at_the_default_dim(tmp_path):
    rec = run_kb_ingest_benchmark(tmp_path, sizes=(200, 1000), rss=False)
    assert [r["facts"] for r in rec["traced"]] == [200, 1000]
    assert rec["traced_slope_mb_per_1000"] < TARGET_MB_PER_1000
    # streaming: 5x the facts must not cost anywhere near 5x the memory
    assert rec["traced"][1]["peak_mb"] < rec["traced"][0]["peak_mb"] + 0.8 * TARGET_MB_PER_1000
    saved = json.loads((tmp_path / "bench_kb_ingest.json").read_text())
    assert saved["dim"] == 8192 and (tmp_path / "bench_kb_ingest.md").read_text().startswith("# KB")


@pytest.mark.slow
def test_ingest_rss_per_1000_facts_is_under_target(tmp_path):
    rec = run_kb_ingest_benchmark(None, sizes=(500, 2500), rss=True)
    assert rec["rss_slope_mb_per_1000"] < TARGET_MB_PER_1000


def test_bench_rejects_bad_sizes():
    with pytest.raises(ValueError, match="sizes"):
        run_kb_ingest_benchmark(None, sizes=(1000,))
