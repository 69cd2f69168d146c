"""`experiment.compare`: one preset registry, comparisons as lists of cells."""

import json

import pytest

from prismlm.experiment.compare import Comparison, compare, spec_from_names
from prismlm.reproduce.presets import PRESETS, preset_spec
from prismlm.reproduce.prism import TOY_TASKS

TASK = {"name": "mqar", "vocab_size": 16, "num_pairs": 2, "num_queries": 4}
TRAIN = dict(steps=2, batch_size=4, warmup=1, eval_every=2, eval_batches=1, plateau_patience=0)
DIMS = {"d_model": 16, "n_layers": 1, "n_heads": 2}


def test_the_preset_table_holds_every_reproduction_preset():
    expected = {"prizma-ablation", "prism-toy"} | {f"prism-toy-{t}" for t in TOY_TASKS}
    assert expected <= set(PRESETS)
    spec = preset_spec("prism-toy-copy", "smoke")
    assert {c.label for c in spec.cells} == {"prism", "transformer", "ssm"}
    assert {c.task["name"] for c in spec.cells} == {"copy"}
    ablation = preset_spec("prizma-ablation", "smoke")
    assert [c.arm["model"] for c in ablation.cells[:: len(ablation.seeds)]] == [
        "prizma-quad2",
        "prizma-rand_linear",
        "prizma-none",
        "transformer",
    ]
    with pytest.raises(ValueError, match="'preset'"):
        preset_spec("nope", "smoke")
    with pytest.raises(ValueError, match="'scale'"):
        preset_spec("prizma-ablation", "huge")


def test_with_seeds_replaces_the_seeds_of_each_experiment():
    spec = spec_from_names(["prizma-none", "transformer"], TASK, TRAIN, [0, 1, 2], DIMS)
    two = spec.with_seeds([5, 6])
    assert len(two.cells) == 4 and two.seeds == [5, 6]
    assert [c.arm["model"] for c in two.cells] == ["prizma-none"] * 2 + ["transformer"] * 2


def test_compare_by_names_writes_rows_and_welch(tmp_path):
    spec = spec_from_names(["prizma-none", "transformer"], TASK, TRAIN, [0, 1], DIMS)
    rows = compare(spec, tmp_path, device="cpu", scale="smoke")
    assert [r["arm"].split(" ")[0] for r in rows] == ["prizma-none", "transformer"]
    assert all(r["seeds"] == 2 and r["task"] == "mqar" for r in rows)
    saved = json.loads((tmp_path / "compare.json").read_text())
    assert "prizma-none d16L1H2 vs transformer d16L1H2" in saved["welch"]
    assert (tmp_path / "compare.md").exists()
    assert isinstance(spec, Comparison) and len(saved["records"]) == 4
