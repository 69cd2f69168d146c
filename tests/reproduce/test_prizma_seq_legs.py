import json
import os

import pytest

from prismlm.reproduce.prizma_seq.legs import LEGS, reproduce

HAVE_CORPUS = bool(os.environ.get("PRISMLM_TINYSHAKESPEARE")) and os.path.isfile(
    os.environ.get("PRISMLM_TINYSHAKESPEARE", "")
)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("prizma_seq")
    headlines = reproduce(None, scale="smoke", seeds=[0, 1], out=out, device="cpu")
    return out, headlines


def test_every_leg_runs_at_smoke_scale_and_writes_json_md_png(smoke_run):
    out, headlines = smoke_run
    assert set(headlines) == set(LEGS)
    for leg in LEGS:
        data = json.loads((out / leg / f"{leg}.json").read_text())
        assert data["leg"] == leg and data["scale"] == "smoke"
        assert data["reference"]["claim"] and "measured" in data["headline"]
        assert (out / leg / f"{leg}.md").read_text().count("Seed 000 reference") == 1
        if leg == "charlm" and not HAVE_CORPUS:
            assert data["headline"]["skipped"]
            continue
        assert data["rows"], leg
        assert (out / leg / f"{leg}.png").stat().st_size > 0
    summary = (out / "summary.md").read_text()
    assert all(f"| {leg} |" in summary for leg in LEGS)


def test_cell_records_carry_their_full_config(smoke_run):
    out, _ = smoke_run
    cells = list((out / "cache" / "cells").glob("*.json"))
    assert cells
    for path in cells:
        rec = json.loads(path.read_text())
        assert path.stem == rec["key"]
        cfg = rec["config"]
        assert {"arm", "task", "train", "seed", "post"} <= set(cfg)
        assert cfg["train"]["seed"] == cfg["seed"]
        assert rec["params"] > 0 and rec["history"] and "acc" in rec["best"]
    # runs are deleted once their record is written
    assert not any((out / "cache" / "runs").glob("*/checkpoints/latest.json"))


def test_recall_rows_have_statistics_per_arm(smoke_run):
    out, _ = smoke_run
    data = json.loads((out / "ablation" / "ablation.json").read_text())
    arms = [r["arm"].split(" ")[0] for r in data["rows"]]
    assert arms == ["prizma-quad2", "prizma-rand_linear", "prizma-none", "transformer"]
    for row in data["rows"]:
        assert row["seeds"] == 2 and len(row["per_seed"]) == 2
        assert row["ci95_low"] <= row["mean_acc"] <= row["ci95_high"]
    lat = json.loads((out / "latency" / "latency.json").read_text())
    assert len({r["state_floats"] for r in lat["rows"]}) == 1  # Prizma state is constant
    assert lat["rows"][-1]["kv_floats"] > lat["rows"][0]["kv_floats"]


def test_a_second_run_reuses_every_cached_cell(smoke_run, capsys):
    out, _ = smoke_run
    reproduce(["induction"], scale="smoke", seeds=[0, 1], out=out, device="cpu")
    log = capsys.readouterr().out
    assert log.count("cached") == 6
