"""Experiment records: files written, measured values next to reference figures, CLI wiring."""

import json

import pytest
from typer.testing import CliRunner

from prismlm.cli import app
from prismlm.reproduce.continual.experiments import E1_REFERENCE, E1Config, e1, small_e1_config


def test_e1_writes_json_markdown_and_figure_with_reference_figures(tmp_path):
    cfg = E1Config(n_seeds=2, epochs=1, n_samples=1200, learners=("prizma_dfa", "backprop"),
                   workers=1)
    payload = e1(cfg, out=tmp_path, progress=False)
    for ext in ("json", "md", "png"):
        assert (tmp_path / f"e1.{ext}").stat().st_size > 0
    record = json.loads((tmp_path / "e1.json").read_text())
    assert {r["learner"] for r in record["rows"]} == {"prizma_dfa", "backprop"}
    assert record["fingerprint"] == payload["fingerprint"]
    assert "ACC ± CI" in (tmp_path / "e1.md").read_text()


def test_full_e1_rows_carry_the_published_reference():
    assert E1_REFERENCE["prizma_dfa"] == (0.834, 0.0)
    assert E1_REFERENCE["prizma_exact_reference"] == (0.708, 0.0)


def test_e1_config_rejects_bad_fields():
    with pytest.raises(ValueError, match="n_seeds"):
        E1Config(n_seeds=0)


def test_cli_registers_every_experiment():
    out = CliRunner().invoke(app, ["continual", "--help"]).output
    for cmd in ("e1", "e2", "e3", "e4", "e5", "digits", "bench"):
        assert cmd in out


@pytest.mark.slow
def test_full_e1_reproduces_the_reference_table(tmp_path):
    payload = e1(E1Config(), out=tmp_path, progress=False)
    assert all(r["passed"] for r in payload["rows"] if r["passed"] is not None)
    assert all(c["passed"] for c in payload["checks"])


@pytest.mark.slow
def test_small_e1_all_learners_pass_the_spec_checks(tmp_path):
    payload = e1(small_e1_config(), out=tmp_path, progress=False)
    assert all(c["passed"] for c in payload["checks"])
