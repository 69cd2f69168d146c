"""The separation ladder: its cells (order, window, matched parameters), the report built from the
cache, and the three verdicts it hands the claims ledger."""

import json

import pytest

from prismlm.experiment.sweep import Cell
from prismlm.models import build_model
from prismlm.reproduce.prizma_seq import separation as sep
from prismlm.reproduce.prizma_seq.claims import JUDGES
from prismlm.reproduce.prizma_seq.legs import LEGS, SEARCH_LEGS, resolve
from prismlm.reproduce.prizma_seq.verdicts import NOT_HERE, PARAM_EFFICIENCY_BAR

SEEDS = [0, 1, 2]


def _fake_cache(monkeypatch, acc, params=lambda model, dims: 1000, final=None, post=None):
    """Every cell "cached" with acc(model, D, seed); final/post(model, D, seed) -> acc at 1x (and
    beyond the window) / per length factor."""

    def cached(cells, cache, device):
        def at(fn, c):
            return fn(c.arm["model"], c.task["num_pairs"], c.seed)

        return [
            {
                "label": c.label, "params": params(c.arm["model"], c.arm["d_model"]),
                "best": {"acc": at(acc, c)},
                "final": {"acc": at(final or acc, c)},
                # the judged post (every query beyond the window) reads like the final 1x accuracy
                "post": {k: {"acc": at((final or acc) if k == sep.BEYOND else (post or acc), c)}
                         for k in c.post},
                "steps": 10, "step_ms": 1.0,
            }
            for c in cells
        ]

    monkeypatch.setattr(sep, "_cached", cached)


def _verdicts(monkeypatch, tmp_path, acc, **kw):
    _fake_cache(monkeypatch, acc, **kw)
    return sep.collect("cpu", SEEDS, tmp_path)


def _ratio(model, d):  # D/d_h at the cpu ladder's width
    return d / sep.head_width(sep.SEARCHES["cpu"]["dims"])


def test_blocks_run_in_seed_rounds_with_every_arm_of_a_rung_together():
    spec = sep.SEARCHES["cpu"]
    bs = sep.blocks(spec, SEEDS)
    ladder = [(b["rung"], b["seed"]) for b in bs if b["stage"] == "ladder"]
    n = len(spec["pairs"])
    assert ladder[:n] == [(i, 0) for i in range(n)]  # one seed of every rung before any second seed
    assert [r for r, s in ladder].count(0) == spec["first_rung_seeds"]
    assert all(sorted({s for r, s in ladder if r == i}) == SEEDS for i in range(1, n))
    arms = [[c.arm["model"] for c in b["cells"]] for b in bs if b["stage"] == "ladder"]
    assert all(a == list(sep.SEARCH_ARMS) for a in arms)
    stages = [b["stage"] for b in bs]
    assert stages == sorted(stages)  # "ladder" blocks all come before "width" blocks


def test_the_ladder_crosses_the_key_width_and_keeps_queries_beyond_the_window():
    spec = sep.SEARCHES["cpu"]
    ratios = [_ratio(None, d) for d in spec["pairs"]]
    assert min(ratios) < 1 and max(ratios) >= sep.CAPACITY_BOUND
    for b in sep.blocks(spec, SEEDS):
        cell = b["cells"][0]
        model = cell.resolve("cpu").model
        if hasattr(model, "window"):  # no judged query sees a pair through the window head
            judged = cell.post[sep.BEYOND] if spec["judge_gap"] is not None else cell.task
            assert judged["gap"] >= model.window


def test_the_three_ablation_arms_have_equal_parameter_counts():
    spec = sep.SEARCHES["cpu"]
    cells = sep.blocks(spec, [0])[-1 - len(spec["widths"])]["cells"]  # a ladder block
    counts = {c.arm["model"]: build_model(c.resolve("cpu").model).num_parameters() for c in cells}
    assert counts[sep.QUAD2] == counts["prizma-rand_linear"] == counts["prizma-none"]


def test_length_posts_score_the_same_rung_at_each_factor_of_its_length():
    spec = sep.SEARCHES["cpu"]
    cell = Cell({"model": "prizma-none", **spec["dims"]}, sep.rung_task(spec, 8), spec["train"], 0,
                post=sep.post_tasks(spec, 8))
    res = cell.resolve("cpu")
    lengths = {k: p["task"].max_seq_len for k, p in res.post.items() if k != sep.BEYOND}
    assert lengths == {f"{f}x": f * res.task.max_seq_len for f in spec["length_factors"]}


def test_the_judged_post_is_the_rung_with_every_query_beyond_the_window():
    spec = sep.SEARCHES["cpu"]
    post = sep.post_tasks(spec, 16)
    assert post[sep.BEYOND] == sep.rung_task(spec, 16, spec["judge_gap"])
    assert spec["judge_gap"] >= build_model(Cell({"model": "prizma-none", **spec["dims"]},
                                                 post[sep.BEYOND], spec["train"], 0)
                                            .resolve("cpu").model).config.window
    assert sep.BEYOND not in sep.post_tasks({**spec, "judge_gap": None}, 16)


def test_quad2_leading_at_the_capacity_bound_with_significance_is_reproduced(monkeypatch, tmp_path):
    def acc(model, d, seed):  # every arm solves below the key width; only quad2 beyond it
        return 0.99 - 0.002 * seed if model == sep.QUAD2 or _ratio(model, d) < 1 else 0.3 + 0.01 * seed

    record = _verdicts(monkeypatch, tmp_path, acc)
    v = record["verdicts"]["ablation"]
    assert v["verdict"] == "reproduced" and record["headline"]["separates"]
    saved = json.loads((tmp_path / "separation" / "separation.json").read_text())
    assert saved["grid"] == record["grid"] and not saved["missing"]
    assert len(record["grid"]) == len(sep.SEARCHES["cpu"]["pairs"]) * len(sep.SEARCH_ARMS)
    assert (tmp_path / "separation" / "separation.png").stat().st_size > 0


def test_a_rival_solving_beyond_its_key_width_refutes_the_claim(monkeypatch, tmp_path):
    def acc(model, d, seed):  # none stores 2·d_h pairs as well as quad2 does
        return 0.3 if model == "prizma-rand_linear" else 0.97 + 0.005 * seed

    v = _verdicts(monkeypatch, tmp_path, acc)["verdicts"]["ablation"]
    assert v["verdict"] == "refuted" and "prizma-none" in v["why"]


def test_a_gap_below_the_margin_or_nothing_learned_is_not_separable(monkeypatch, tmp_path):
    def acc(model, d, seed):  # a small gap, never significant enough to pass the margin
        return 0.99 if _ratio(model, d) < 1 else 0.1 + 0.01 * seed + (0.05 if model == sep.QUAD2 else 0)

    v = _verdicts(monkeypatch, tmp_path, acc)["verdicts"]["ablation"]
    assert v["verdict"] == NOT_HERE and "no rung separates" in v["why"]


def test_a_noisy_gap_does_not_separate(monkeypatch, tmp_path):
    def acc(model, d, seed):  # quad2's mean leads by the margin, but its seeds scatter widely
        return 0.5 if model != sep.QUAD2 else (1.0, 0.3, 0.99)[seed]

    assert _verdicts(monkeypatch, tmp_path, acc)["verdicts"]["ablation"]["verdict"] == NOT_HERE


def test_the_smallest_solving_transformer_decides_parameter_efficiency(monkeypatch, tmp_path):
    def params(model, d_model):
        return d_model**2 * (4 if model == sep.TF else 1)

    spec = sep.SEARCHES["cpu"]
    q_min = spec["dims"]["d_model"]  # quad2 solves from the ladder width, the Transformer only at the widest
    tf_min = max(w["d_model"] for w in spec["widths"])

    def acc(model, d, seed):
        return 0.99 if model in (sep.QUAD2, sep.TF) else 0.2

    _fake_cache(monkeypatch, acc, params)
    real = sep._cached

    def cached(cells, cache, device):  # narrower quad2s and Transformers fail
        recs = real(cells, cache, device)
        for c, r in zip(cells, recs, strict=True):
            small = c.arm["d_model"] < q_min or (c.arm["model"] == sep.TF and c.arm["d_model"] < tf_min)
            if small:  # every accuracy the report could read
                r["best"]["acc"] = r["final"]["acc"] = 0.1
                for p in r["post"].values():
                    p["acc"] = 0.1
        return recs

    monkeypatch.setattr(sep, "_cached", cached)
    v = sep.collect("cpu", SEEDS, tmp_path)["verdicts"]["efficiency"]
    ratio = params(sep.TF, tf_min) / params(sep.QUAD2, q_min)
    assert ratio >= PARAM_EFFICIENCY_BAR and v["verdict"] == "reproduced" and f"{ratio:.2f}x" in v["measured"]


def test_retention_counts_only_where_the_transformer_learned_the_training_length(monkeypatch, tmp_path):
    def acc(model, d, seed):
        return 0.99

    def post(model, d, seed):  # quad2 keeps its accuracy at longer lengths, the Transformer loses it
        return 0.9 if model == sep.QUAD2 else 0.1

    v = _verdicts(monkeypatch, tmp_path, acc, post=post)["verdicts"]["lengen"]
    assert v["verdict"] == "reproduced" and "9.00x" in v["measured"]

    def final(model, d, seed):  # the Transformer never learned the training length
        return 0.5 if model == sep.TF else 0.99

    v = _verdicts(monkeypatch, tmp_path, acc, final=final, post=post)["verdicts"]["lengen"]
    assert v["verdict"] == NOT_HERE


def test_one_trained_block_reports_its_cells_and_lists_the_rest_as_missing(monkeypatch, tmp_path):
    spec = sep.SEARCHES["smoke"]
    first = sep.blocks(spec, SEEDS)[0]
    sep.run_sweep(first["cells"], tmp_path / "cache", "cpu")
    record = sep.collect("smoke", SEEDS, tmp_path, "cpu")
    assert {r["arm"] for r in record["grid"]} == {c.label for c in first["cells"]}
    assert len(record["missing"]) == len(sep.blocks(spec, SEEDS)) - 1
    assert record["verdicts"]["ablation"]["verdict"] == "not measured"


def test_report_only_mode_trains_nothing_and_names_what_is_missing(monkeypatch, tmp_path):
    def no_training(*args, **kwargs):
        raise AssertionError("train=False must not train")

    monkeypatch.setattr(sep, "run_sweep", no_training)
    record = sep.leg_separation("smoke", [0], tmp_path, train=False)
    assert record["grid"] == [] and len(record["missing"]) == len(sep.blocks(sep.SEARCHES["smoke"], SEEDS))
    assert record["verdicts"]["ablation"]["verdict"] == "not measured"


@pytest.mark.slow  # ~35 two-step cells and a report per block: ~1-2 min on a loaded 2-core box
def test_the_smoke_ladder_trains_every_block_at_two_steps(tmp_path):
    record = sep.leg_separation("smoke", [0], tmp_path, device="cpu")
    assert not record["missing"] and {r["rung"] for r in record["grid"]} == {0, 1}
    assert all(r["steps"] == [sep.SEARCHES["smoke"]["train"]["steps"]] * r["seeds"] for r in record["grid"])
    text = (tmp_path / "separation" / "separation.md").read_text()
    assert text.startswith("# separation ladder (smoke scale)")
    assert sep.leg_separation("smoke", [0], tmp_path, train=False)["grid"] == record["grid"]  # cached


def test_separation_is_a_named_only_leg_whose_claims_read_its_record():
    assert "separation" in SEARCH_LEGS and "separation" not in LEGS
    assert resolve(["separation"], "cpu", None)[0] == ["separation"]
    assert "separation" not in resolve(None, "cpu", None)[0]
    assert sum(leg == "separation" for leg, _ in JUDGES.values()) == 3
    with pytest.raises(ValueError, match="leg"):
        resolve(["separatio"], "cpu", None)


def test_a_rung_every_arm_fails_on_its_first_seed_is_skipped_not_awaited(monkeypatch, tmp_path):
    spec = sep.SEARCHES["cpu"]
    hard = spec["pairs"][-1]

    def acc(model, d, seed):  # quad2 separates on the easier rungs; nothing learns the hardest
        if d == hard:
            return 0.05
        return 0.99 if model == sep.QUAD2 else 0.3

    _fake_cache(monkeypatch, acc)
    fake = sep._cached

    def cached(cells, cache, device):  # the hardest rung trained on its first seed only
        recs = fake(cells, cache, device)
        return [None if c.task["num_pairs"] == hard and c.seed != SEEDS[0] else r
                for c, r in zip(cells, recs, strict=True)]

    monkeypatch.setattr(sep, "_cached", cached)
    record = sep.collect("cpu", SEEDS, tmp_path)
    assert record["missing"] == [] and len(record["skipped"]) == len(SEEDS) - 1
    assert record["verdicts"]["ablation"]["verdict"] == "reproduced"
    trained = []
    monkeypatch.setattr(sep, "run_sweep", lambda cells, *a, **k: trained.append(cells))
    sep.leg_separation("cpu", SEEDS, tmp_path)
    assert trained == []  # the skipped blocks are not trained either


def test_a_rung_with_one_arm_above_the_margin_is_not_hopeless(monkeypatch, tmp_path):
    spec = sep.SEARCHES["cpu"]
    hard = spec["pairs"][-1]
    _fake_cache(monkeypatch, lambda model, d, seed: 0.5 if (d == hard and model == sep.TF) else 0.05)
    assert sep.hopeless_rungs(spec, SEEDS, tmp_path, "cpu") == set(range(len(spec["pairs"]) - 1))
