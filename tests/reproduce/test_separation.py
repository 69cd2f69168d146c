"""The separation search: its gap / confirmation rule, the walk up the rungs, and the report."""

import json

import pytest

from prismlm.reproduce.prizma_seq import separation as sep
from prismlm.reproduce.prizma_seq.legs import LEGS, SEARCH_LEGS, resolve


def _fake_sweep(acc):
    """A run_sweep stand-in: acc(model, num_pairs, seed) -> that cell's best accuracy."""

    def run(cells, cache, device, progress):
        return [
            {"label": c.label, "best": {"acc": acc(c.arm["model"], c.task["num_pairs"], c.seed)},
             "params": 1000, "steps": 10, "step_ms": 1.0}
            for c in cells
        ]

    return run


def _search(monkeypatch, tmp_path, acc):
    monkeypatch.setattr(sep, "run_sweep", _fake_sweep(acc))
    return sep.leg_separation("smoke", [0], tmp_path)


def test_search_stops_at_the_first_rung_where_quad2_leads_and_confirms_on_three_seeds(monkeypatch, tmp_path):
    hard = sep.SEARCHES["smoke"]["rungs"][1]["task"]["num_pairs"]

    def acc(model, d, seed):  # every arm solves the easy rung; only quad2 the hard one
        return 0.99 - 0.001 * seed if model == sep.QUAD2 or d < hard else 0.4 + 0.01 * seed

    record = _search(monkeypatch, tmp_path, acc)
    assert record["chosen_rung"] == 1 and record["headline"]["separates"]
    assert record["headline"]["measured"].startswith(f"separates at MQAR V=16 D={hard}")
    assert {r["rung"] for r in record["grid"]} == {0, 1} and len(record["grid"]) == 2 * len(sep.SEARCH_ARMS)
    assert all(len(r["per_seed"]) == sep.CONFIRM_SEEDS for r in record["confirm"])
    assert all(p < sep.ALPHA for p in record["tests"]["p_greater"].values())
    saved = json.loads((tmp_path / "separation" / "separation.json").read_text())
    assert saved["grid"] == record["grid"]
    assert (tmp_path / "separation" / "separation.png").stat().st_size > 0


def test_a_rival_within_the_margin_means_no_separation_and_the_whole_grid_is_reported(monkeypatch, tmp_path):
    def acc(model, d, seed):  # rand_linear keeps up with quad2 everywhere
        return 0.3 if model == "prizma-none" else 0.9 - 0.01 * d

    record = _search(monkeypatch, tmp_path, acc)
    last = sep.SEARCHES["smoke"]["rungs"][-1]["task"]["num_pairs"]
    assert record["chosen_rung"] is None and not record["headline"]["separates"]
    verdict = record["headline"]["measured"]
    assert verdict.startswith(f"no separation found within budget, grid up to MQAR V=16 D={last}")
    assert len(record["grid"]) == len(sep.SEARCHES["smoke"]["rungs"]) * len(sep.SEARCH_ARMS)


def test_a_noisy_gap_does_not_confirm(monkeypatch, tmp_path):
    def acc(model, d, seed):  # the search seed shows a gap the other seeds contradict
        if model != sep.QUAD2:
            return 0.5
        return 1.0 if seed == 0 else (0.3, 0.9)[seed % 2]

    record = _search(monkeypatch, tmp_path, acc)
    assert record["chosen_rung"] == 0 and not record["headline"]["separates"]
    assert record["headline"]["measured"].startswith("candidate")


def test_the_search_trains_a_two_rung_grid_at_two_steps(tmp_path):
    record = sep.leg_separation("smoke", [0], tmp_path, device="cpu")
    assert {r["rung"] for r in record["grid"]} <= {0, 1}
    assert all(r["steps"] == [sep.SEARCHES["smoke"]["train"]["steps"]] for r in record["grid"])
    assert (tmp_path / "separation" / "separation.md").read_text().startswith("# separation (smoke scale)")


def test_separation_is_a_named_only_leg():
    assert "separation" in SEARCH_LEGS and "separation" not in LEGS
    assert resolve(["separation"], "cpu", None)[0] == ["separation"]
    assert "separation" not in resolve(None, "cpu", None)[0]
    with pytest.raises(ValueError, match="leg"):
        resolve(["separatio"], "cpu", None)


def test_report_only_mode_trains_nothing_and_names_what_is_missing(monkeypatch, tmp_path):
    def no_training(*args, **kwargs):
        raise AssertionError("train=False must not train")

    monkeypatch.setattr(sep, "run_sweep", no_training)
    record = sep.leg_separation("smoke", [0], tmp_path, train=False)
    assert record["grid"] == [] and record["incomplete"] == ["rung 0: search cells not all trained"]
    assert record["headline"]["measured"] == "not run"
