import json

import pytest

from prismlm.experiment.compare import PRESETS, compare, spec_from_names
from prismlm.experiment.sweep import Cell, run_cell, run_sweep
from prismlm.reproduce.prizma_seq.legs import reproduce

ARM = {"model": "prizma-none", "d_model": 16, "n_layers": 1, "n_heads": 2}
TASK = {"name": "mqar", "vocab_size": 16, "num_pairs": 2, "num_queries": 4}
TRAIN = dict(steps=2, batch_size=4, warmup=1, eval_every=2, eval_batches=1, plateau_patience=0)


def test_cache_key_covers_config_not_just_seed():
    a = Cell(ARM, TASK, TRAIN, seed=0)
    assert a.key() == Cell(dict(ARM), dict(TASK), dict(TRAIN), seed=0).key()
    assert a.key() != Cell(ARM, TASK, TRAIN, seed=1).key()
    assert a.key() != Cell(ARM, TASK, {**TRAIN, "lr": 1e-4}, seed=0).key()
    assert a.key() != Cell(ARM, {**TASK, "num_pairs": 3}, TRAIN, seed=0).key()
    assert a.key() != Cell({**ARM, "model": "prizma-quad2"}, TASK, TRAIN, seed=0).key()
    assert a.key("cpu") != a.key("cuda")


def test_a_cached_record_from_another_config_is_never_reused(tmp_path):
    a = Cell(ARM, TASK, TRAIN, seed=0)
    b = Cell(ARM, TASK, {**TRAIN, "lr": 1e-4}, seed=0)
    rec_a = run_cell(a, tmp_path, "cpu")
    # plant a's record under b's key: b must notice the config differs and retrain
    (tmp_path / "cells" / f"{b.key()}.json").write_text(json.dumps(rec_a))
    rec_b = run_cell(b, tmp_path, "cpu")
    assert not rec_b.get("cached") and rec_b["config"]["train"]["lr"] == 1e-4
    assert run_cell(a, tmp_path, "cpu")["cached"]


@pytest.mark.parametrize(
    "cell, field",
    [
        (Cell(ARM, {"name": "mqar_v2"}, TRAIN, 0), "'task'"),
        (Cell(ARM, {**TASK, "vocab_size": 3}, TRAIN, 0), "'vocab_size'"),
        (Cell({**ARM, "n_heads": 3}, TASK, TRAIN, 0), "'n_heads'"),
        (Cell({**ARM, "model": "mamba9"}, TASK, TRAIN, 0), "'model'"),
        (Cell({**ARM, "d_modle": 8}, TASK, TRAIN, 0), "'arm.d_modle'"),
        (Cell(ARM, TASK, {**TRAIN, "steps": 0}, 0), "'steps'"),
    ],
)
def test_bad_configs_fail_before_any_training(tmp_path, cell, field):
    good = Cell(ARM, TASK, TRAIN, 0)
    with pytest.raises(ValueError, match=field):
        run_sweep([good, cell], tmp_path, "cpu")
    assert not (tmp_path / "cells").exists()  # nothing trained, not even the valid cell


def test_reproduce_rejects_unknown_leg_and_scale(tmp_path):
    with pytest.raises(ValueError, match="'leg'"):
        reproduce(["mqar", "nope"], scale="smoke", out=tmp_path)
    with pytest.raises(ValueError, match="'scale'"):
        reproduce(["mqar"], scale="huge", out=tmp_path)


def test_compare_by_names_and_preset_registry(tmp_path):
    assert "prizma-ablation" in PRESETS
    spec = spec_from_names(["prizma-none", "transformer"], TASK, "smoke")
    rows = compare(spec, tmp_path, seeds=[0, 1], device="cpu", scale="smoke")
    assert [r["arm"].split(" ")[0] for r in rows] == ["prizma-none", "transformer"]
    saved = json.loads((tmp_path / "compare.json").read_text())
    assert "prizma-none d16L1H2 vs transformer d16L1H2" in saved["welch"]
