"""The sweep engine: a cell resolves to config objects and is cached under their fingerprint."""

import json

import pytest

from prismlm.experiment.cache import record_path
from prismlm.experiment.sweep import Cell, run_cell, run_sweep
from prismlm.models import PrizmaSeqConfig, TransformerConfig
from prismlm.reproduce.prizma_seq.legs import reproduce
from prismlm.train import TrainConfig

ARM = {"model": "prizma-none", "d_model": 16, "n_layers": 1, "n_heads": 2}
TASK = {"name": "mqar", "vocab_size": 16, "num_pairs": 2, "num_queries": 4}
TRAIN = dict(steps=2, batch_size=4, warmup=1, eval_every=2, eval_batches=1, plateau_patience=0)


def change_default(monkeypatch, cls, field, value):
    """Simulate editing a dataclass default in the source: calls that omit `field` now get `value`."""
    init = cls.__init__

    def patched(self, *args, **kwargs):
        kwargs.setdefault(field, value)
        init(self, *args, **kwargs)

    monkeypatch.setattr(cls, "__init__", patched)


def test_cache_key_covers_the_written_fields_not_just_the_seed():
    a = Cell(ARM, TASK, TRAIN, seed=0)
    assert a.key() == Cell(dict(ARM), dict(TASK), dict(TRAIN), seed=0).key()
    assert a.key() != Cell(ARM, TASK, TRAIN, seed=1).key()
    assert a.key() != Cell(ARM, TASK, {**TRAIN, "lr": 1e-4}, seed=0).key()
    assert a.key() != Cell(ARM, {**TASK, "num_pairs": 3}, TRAIN, seed=0).key()
    assert a.key() != Cell({**ARM, "model": "prizma-quad2"}, TASK, TRAIN, seed=0).key()
    assert a.key() != Cell(ARM, TASK, TRAIN, seed=0, probes=("routing",)).key()


def test_writing_a_default_out_changes_nothing():
    # the key is of the resolved configs, so spelling out a default is the same experiment
    explicit = Cell({**ARM, "window": PrizmaSeqConfig.window}, TASK, {**TRAIN, "betas": TrainConfig.betas}, 0)
    assert explicit.key() == Cell(ARM, TASK, TRAIN, 0).key()


@pytest.mark.parametrize(
    "cls, field, value",
    [
        (TrainConfig, "betas", (0.9, 0.99)),
        (PrizmaSeqConfig, "window", 7),
        (TransformerConfig, "rope_base", 500.0),
    ],
)
def test_a_changed_code_default_changes_the_key(monkeypatch, cls, field, value):
    arm = ARM if cls is not TransformerConfig else {**ARM, "model": "transformer"}
    before = Cell(arm, TASK, TRAIN, 0).key()
    change_default(monkeypatch, cls, field, value)
    assert Cell(arm, TASK, TRAIN, 0).key() != before


def test_an_identical_cell_is_reused_and_a_changed_default_reruns(tmp_path, monkeypatch):
    cell = Cell(ARM, TASK, TRAIN, seed=0)
    first = run_cell(cell, tmp_path, "cpu")
    assert not first["cached"] and run_cell(cell, tmp_path, "cpu")["cached"]
    assert first["configs"]["model"]["window"] == PrizmaSeqConfig.window  # resolved, not as written
    assert first["configs"]["train"]["betas"] == list(TrainConfig.betas)
    change_default(monkeypatch, TrainConfig, "betas", (0.8, 0.9))
    again = run_cell(cell, tmp_path, "cpu")
    assert not again["cached"] and again["configs"]["train"]["betas"] == [0.8, 0.9]
    assert again["key"] != first["key"]


def test_a_record_stores_every_resolved_config(tmp_path):
    rec = run_cell(Cell(ARM, TASK, TRAIN, 0, post={"long": {**TASK, "num_pairs": 3}}), tmp_path, "cpu")
    configs = rec["configs"]
    assert configs["model"]["config_class"] == "PrizmaSeqConfig" and configs["model"]["vocab_size"] == 16
    assert configs["train"]["device"] == "cpu" and configs["train"]["amp"] is False
    assert configs["task"] == {
        "config_class": "MQAR",
        "vocab_size": 16,
        "num_pairs": 2,
        "num_queries": 4,
        "gap": 0,
        "key_frac": 0.5,
    }
    assert configs["post"]["long"]["task"]["num_pairs"] == 3 and configs["post"]["long"]["batches"] == 1
    for field in (
        "key",
        "label",
        "params",
        "steps",
        "step_ms",
        "best",
        "final",
        "history",
        "post",
        "wall_time",
        "stop_reason",
    ):
        assert field in rec, field
    assert json.loads(record_path(tmp_path, rec["key"]).read_text())["configs"] == configs


def test_a_cached_record_from_another_config_is_never_reused(tmp_path):
    a = Cell(ARM, TASK, TRAIN, seed=0)
    b = Cell(ARM, TASK, {**TRAIN, "lr": 1e-4}, seed=0)
    rec_a = run_cell(a, tmp_path, "cpu")
    # plant a's record under b's key: b must notice the configs differ and retrain
    record_path(tmp_path, b.key()).write_text(json.dumps(rec_a))
    rec_b = run_cell(b, tmp_path, "cpu")
    assert not rec_b["cached"] and rec_b["configs"]["train"]["lr"] == 1e-4
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
        (Cell(ARM, TASK, TRAIN, 0, probes=("nope",)), "'probes'"),
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
