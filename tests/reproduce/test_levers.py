"""The lever measurement: verdict rule, time-to-loss, a cached smoke run, and the CLI's modular
phases ending in an assembled model whose experts are the phase checkpoints' experts."""

import json

import pytest
import torch
from typer.testing import CliRunner

from prismlm.cli import app
from prismlm.models import PrismLM
from prismlm.reproduce.levers import ALPHA, measure_levers, time_to_loss, verdict
from prismlm.train.modular import expert_of


def test_verdict_follows_welch_and_the_direction_of_the_loss():
    plain = [2.0, 2.01, 1.99]
    assert verdict([1.5, 1.51, 1.49], plain)[0] == "helps"
    assert verdict([2.5, 2.51, 2.49], plain)[0] == "hurts"
    word, p = verdict([2.02, 1.98, 2.0], plain)
    assert word == "no effect" and p >= ALPHA


def test_time_to_loss_is_the_first_eval_at_or_below_the_target():
    history = [{"loss": 3.0, "time": 1.0}, {"loss": 2.0, "time": 2.0}, {"loss": 1.0, "time": 3.0}]
    assert time_to_loss(history, 2.0) == 2.0
    assert time_to_loss(history, 0.5) is None


def test_a_smoke_measurement_writes_every_row_and_reuses_its_cache(tmp_path):
    payload = measure_levers(tmp_path, "smoke", device="cpu", levers=["modular"])
    assert [(r["lever"], r["task"]) for r in payload["rows"]] == [("modular", "mix")]
    assert all(r["verdict"] in ("helps", "no effect", "hurts") for r in payload["rows"])
    assert len(payload["modular_speedup"]) == len(payload["seeds"])
    assert (tmp_path / "levers.md").read_text().startswith("# PRISM training levers")
    cells = sorted((tmp_path / "cache" / "cells").iterdir())
    again = measure_levers(tmp_path, "smoke", device="cpu", levers=["modular"])
    assert again["rows"] == payload["rows"] and sorted((tmp_path / "cache" / "cells").iterdir()) == cells


def test_unknown_levers_and_single_seeds_are_refused(tmp_path):
    with pytest.raises(ValueError, match="'lever'"):
        measure_levers(tmp_path, "smoke", levers=["nope"])
    with pytest.raises(ValueError, match="'seeds'"):
        measure_levers(tmp_path, "smoke", seeds=[0])


def test_the_cli_trains_each_kind_then_assembles_them_by_kind(tmp_path):
    runner = CliRunner()
    common = ["--steps", "2", "--batch-size", "2", "--device", "cpu",
              "--model", json.dumps({"d_model": 16, "n_layers": 2, "d_mem": 8, "num_slots": 4})]
    for kind in ("neural", "memory", "symbolic"):
        args = ["prism-train", "--out", str(tmp_path / kind), "--modular-phase", kind, *common]
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
    kinds = ("neural", "memory", "symbolic")
    ckpts = [x for k in kinds for x in (f"--modular-{k}-ckpt", str(tmp_path / k / "model"))]
    args = ["prism-train", "--out", str(tmp_path / "full"), "--modular-phase", "assemble", "--freeze-experts"]
    res = runner.invoke(app, [*args, *ckpts, *common])
    assert res.exit_code == 0, res.output
    full = PrismLM.from_pretrained(tmp_path / "full" / "model")
    for kind in ("neural", "memory", "symbolic"):
        src = PrismLM.from_pretrained(tmp_path / kind / "model")
        for b, blk in enumerate(full.blocks):
            if kind in blk.kinds:  # frozen, so still the phase checkpoint's expert after fine-tuning
                mine, theirs = expert_of(full, b, kind), expert_of(src, b, kind)
                pairs = zip(mine.parameters(), theirs.parameters(), strict=True)
                assert all(torch.equal(x, y) for x, y in pairs), (kind, b)


def test_the_cli_names_a_bad_modular_phase(tmp_path):
    res = CliRunner().invoke(app, ["prism-train", "--out", str(tmp_path), "--modular-phase", "nope"])
    assert res.exit_code != 0 and "modular_phase" in res.output
