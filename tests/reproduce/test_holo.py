"""PRISM-Holo claims ledger entry: one Measurement per claim, and verdicts that can fail."""

import copy
import json

import pytest

from prismlm.experiment.stats import summarize
from prismlm.reproduce import holo
from prismlm.reproduce.claim import VERDICTS
from prismlm.reproduce.holo import CLAIMS, REFERENCE, judge, measure, reproduce_holo


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("holo_smoke")
    captured = {}
    real_collect = holo.collect

    def spy(*args, **kwargs):
        captured["numbers"] = real_collect(*args, **kwargs)
        return captured["numbers"]

    holo.collect = spy
    try:
        rows = measure("smoke", out)
    finally:
        holo.collect = real_collect
    return out, rows, captured["numbers"]


def _verdicts(numbers):
    return {m.claim_id: m.verdict for m in judge(numbers, "smoke")}


def _with_values(summary, values):
    return {**summary, **summarize(values).to_dict(), "values": list(values)}


def test_every_claim_has_a_unique_holo_id_and_a_source():
    ids = [c.id for c in CLAIMS]
    assert len(ids) == len(set(ids)) >= 6
    assert all(c.id.startswith("holo.") and c.system == "holo" and c.source for c in CLAIMS)


def test_smoke_measures_one_row_per_claim_with_a_valid_verdict_and_command(smoke):
    out, rows, _ = smoke
    assert [m.claim_id for m in rows] == [c.id for c in CLAIMS]
    for m in rows:
        assert m.verdict in VERDICTS
        assert m.command == "prismlm reproduce holo --scale smoke"
        assert m.verdict == "reproduced" or m.why
    record = json.loads((out / "holo_claims.json").read_text())
    assert [m["claim_id"] for m in record["measurements"]] == [c.id for c in CLAIMS]
    assert (out / "holo_claims.md").read_text().count("\n| ") == len(CLAIMS) + 1


def test_holo_specificity_is_refuted_when_the_measured_trials_miss_the_seed(smoke):
    numbers = copy.deepcopy(smoke[2])
    assert _verdicts(numbers)["holo.specificity_holo"] == "reproduced"
    shifted = [v - 0.05 for v in numbers["holo"]["values"]]
    numbers["holo"] = _with_values(numbers["holo"], shifted)
    assert _verdicts(numbers)["holo.specificity_holo"] == "refuted"


def test_neural_specificity_is_refuted_when_our_trials_are_clearly_not_zero(smoke):
    numbers = copy.deepcopy(smoke[2])
    shifted = [v + 0.3 for v in numbers["neural"]["values"]]
    numbers["neural"] = _with_values(numbers["neural"], shifted)
    assert _verdicts(numbers)["holo.specificity_neural"] == "refuted"


def test_the_ratio_is_judged_only_when_the_neural_mean_is_distinguishable_from_zero(smoke):
    numbers = copy.deepcopy(smoke[2])
    holo_mean = numbers["holo"]["mean"]
    ratio = REFERENCE["specificity_ratio"]
    near = [holo_mean / ratio * (1 + d) for d in (-0.01, 0, 0.01)]  # neural ≈ holo / 59
    numbers["neural"] = _with_values(numbers["neural"], near)
    assert _verdicts(numbers)["holo.specificity_ratio"] == "reproduced"
    numbers["neural"] = _with_values(numbers["neural"], [0.1, 0.101, 0.099])  # ratio ≈ 3.5
    assert _verdicts(numbers)["holo.specificity_ratio"] == "refuted"
    numbers["neural"] = _with_values(numbers["neural"], [-0.2, 0.0, 0.2])
    assert _verdicts(numbers)["holo.specificity_ratio"] == "not measured"


def test_retrieval_claims_are_refuted_below_their_thresholds(smoke):
    numbers = copy.deepcopy(smoke[2])
    numbers["facts_200"] = _with_values(numbers["facts_200"], [0.99, 1.0])
    numbers["facts_10"] = _with_values(numbers["facts_10"], [0.8, 1.0])
    v = _verdicts(numbers)
    assert v["holo.facts_200"] == v["holo.facts_10"] == "refuted"


def test_zero_gradient_knowledge_needs_unchanged_weights_and_recall_above_chance(smoke):
    numbers = copy.deepcopy(smoke[2])
    assert _verdicts(numbers)["holo.knowledge_zero_gradient"] == "reproduced"
    numbers["e2e"]["top1_hits"] = 0
    assert _verdicts(numbers)["holo.knowledge_zero_gradient"] == "refuted"
    numbers = copy.deepcopy(smoke[2])
    numbers["e2e"]["params_unchanged"] = False
    assert _verdicts(numbers)["holo.knowledge_zero_gradient"] == "refuted"


def test_parameter_and_capacity_claims_follow_the_measured_numbers(smoke):
    numbers = copy.deepcopy(smoke[2])
    numbers["params"]["holo"] = int(0.75 * numbers["params"]["tape"])
    numbers["capacity"]["measured_capacity"] = round(numbers["capacity"]["reference_formula"])
    v = _verdicts(numbers)
    assert v["holo.fewer_params"] == v["holo.capacity_formula"] == "reproduced"
    numbers["params"]["holo"] = numbers["params"]["tape"]
    numbers["capacity"]["measured_capacity"] *= 2
    v = _verdicts(numbers)
    assert v["holo.fewer_params"] == v["holo.capacity_formula"] == "refuted"


def test_reproduce_holo_writes_the_report(smoke, tmp_path, monkeypatch):
    monkeypatch.setattr(holo, "collect", lambda *a, **k: copy.deepcopy(smoke[2]))
    rec = reproduce_holo(tmp_path, quick=True, seed=3)
    assert [m.claim_id for m in rec["measurements"]] == [c.id for c in CLAIMS]
    assert {m.command for m in rec["measurements"]} == {"prismlm reproduce holo --quick --seed 3"}
    for ext in ("json", "md", "png"):
        assert (tmp_path / f"reproduce_holo.{ext}").stat().st_size > 0


def test_unknown_scale_is_rejected():
    with pytest.raises(ValueError, match="scale"):
        holo.collect("huge")
