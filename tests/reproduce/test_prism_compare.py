"""The PRISM toy comparison on the one engine: cells keyed by resolved configs, aggregated
numbers, routing report, files; and its claims-ledger entry."""

import json
import math

import pytest

from prismlm.data.registry import build_task
from prismlm.experiment.stats import summarize
from prismlm.models import PrismConfig
from prismlm.reproduce import prism
from prismlm.reproduce.claim import VERDICTS
from prismlm.reproduce.prism import CLAIMS, TOY_TASKS, compare_prism, measure

FAST = {"steps": 2, "eval_every": 2, "eval_batches": 1, "warmup": 1, "batch_size": 4}


@pytest.fixture
def fast_smoke(monkeypatch):
    """The smoke scale, cut to two steps on small batches."""
    monkeypatch.setitem(prism.SCALES, "smoke", {"train": FAST, "seeds": [0]})


def change_default(monkeypatch, cls, field, value):
    init = cls.__init__

    def patched(self, *args, **kwargs):
        kwargs.setdefault(field, value)
        init(self, *args, **kwargs)

    monkeypatch.setattr(cls, "__init__", patched)


def test_compare_aggregates_the_cells_and_writes_table_and_routing(tmp_path, fast_smoke):
    summary = compare_prism(
        ["induction"],
        [0, 1],
        tmp_path,
        models=["prism", "ssm"],
        scale="smoke",
        device="cpu",
        log=lambda s: None,
    )
    agg = summary["tasks"]["induction"]
    cells = [json.loads(p.read_text()) for p in sorted((tmp_path / "cache" / "cells").glob("*.json"))]
    assert len(cells) == 4 and all(c["configs"]["train"]["steps"] == 2 for c in cells)
    prism_ce = [c["final"]["loss"] for c in cells if c["label"] == "prism"]
    assert agg["models"]["prism"]["ce"]["mean"] == pytest.approx(summarize(prism_ce).mean)
    assert agg["models"]["prism"]["params"] > agg["models"]["ssm"]["params"]
    assert agg["chance_ce"] == pytest.approx(-math.log(build_task(TOY_TASKS["induction"]).chance))
    layers = agg["models"]["prism"]["routing"]
    assert len(layers) == 4 and set(layers[-1]["fractions"]) == {"neural", "symbolic"}  # last: no memory
    assert all(sum(lay["fractions"].values()) == pytest.approx(1.0, abs=1e-5) for lay in layers)
    assert "routing" not in agg["models"]["ssm"]
    for ext in ("json", "md", "png"):
        assert (tmp_path / f"compare_prism-toy.{ext}").exists()
    with pytest.raises(ValueError, match="'task'"):
        compare_prism(["nope"], [0], tmp_path)


def test_an_identical_cell_is_reused_and_a_changed_model_default_reruns_only_that_model(
    tmp_path, fast_smoke, monkeypatch
):
    def run():
        compare_prism(
            ["copy"], [0], tmp_path, models=["prism", "ssm"], scale="smoke", device="cpu", log=lambda s: None
        )
        return {json.loads(p.read_text())["label"] for p in (tmp_path / "cache" / "cells").glob("*.json")}

    assert run() == {"prism", "ssm"}
    n_before = len(list((tmp_path / "cache" / "cells").glob("*.json")))
    assert run() and len(list((tmp_path / "cache" / "cells").glob("*.json"))) == n_before  # all reused
    change_default(monkeypatch, PrismConfig, "epsilon", 0.2)
    run()
    cells = [json.loads(p.read_text()) for p in (tmp_path / "cache" / "cells").glob("*.json")]
    assert sorted(c["label"] for c in cells) == ["prism", "prism", "ssm"]  # only PRISM re-ran
    assert {c["configs"]["model"]["epsilon"] for c in cells if c["label"] == "prism"} == {0.05, 0.2}


def test_measure_gives_one_measurement_per_claim(tmp_path, fast_smoke):
    rows = measure("smoke", tmp_path, device="cpu")
    assert [m.claim_id for m in rows] == [c.id for c in CLAIMS]
    assert all(c.id.startswith("prism.") and c.system == "prism" for c in CLAIMS)
    assert all(m.verdict in VERDICTS and (m.verdict == "reproduced" or m.why) for m in rows)
    by_id = {m.claim_id: m for m in rows}
    # tiny steps say nothing about the 400-step claims ...
    for cid in (*prism.WINNER_CLAIMS, *prism.ROUTING_CLAIMS):
        assert by_id[cid].verdict == "not reproducible at this scale"
    # ... but parameter counts do not depend on the scale
    assert by_id["prism.preset_params"].verdict == "reproduced", by_id["prism.preset_params"].why


def test_preset_counts_off_by_more_than_the_tolerance_are_refuted():
    claimed = {"tiny": 7.3e6, "1b": 1807.2e6}
    assert prism.params_verdict({"tiny": 7.3e6, "1b": 1.5e9}, claimed)[2] == "refuted"
    assert prism.params_verdict({"tiny": 7.31e6, "1b": 1.81e9}, claimed)[2] == "reproduced"


def _agg(ce: dict[str, list[float]]) -> dict:
    return {m: {"ce": summarize(xs).to_dict()} for m, xs in ce.items()}


def test_winner_verdict_can_refute():
    models = _agg({"prism": [1.2, 1.3], "transformer": [0.9, 1.0], "ssm": [1.5, 1.4]})
    measured, _, verdict, why = prism.winner_verdict(models, "prism", at_scale=True)
    assert verdict == "refuted" and "transformer" in why and measured.startswith("transformer")
    assert prism.winner_verdict(models, "transformer", at_scale=True)[2] == "reproduced"


def test_routing_and_speed_verdicts_use_their_tolerances():
    layers = [{"fractions": {"neural": 0.2, "memory": 0.53 + prism.ROUTING_TOL * 1.5, "symbolic": 0.0}}]
    assert prism.routing_verdict(layers, 0, "memory", 0.53, at_scale=True)[2] == "refuted"
    layers[0]["fractions"]["memory"] = 0.53 + prism.ROUTING_TOL / 2
    assert prism.routing_verdict(layers, 0, "memory", 0.53, at_scale=True)[2] == "reproduced"
    assert prism.linear_verdict(2.0)[2] == "refuted" and prism.linear_verdict(1.05)[2] == "reproduced"
