"""Continual experiment records: cached by resolved configs, reference figures beside measured
ones, verdicts that can fail, the CLI wiring, and the claims-ledger entry."""

import json
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from prismlm.cli import app
from prismlm.config import fingerprint
from prismlm.reproduce.claim import VERDICTS
from prismlm.reproduce.continual import CLAIMS, measure
from prismlm.reproduce.continual.claims import e1_measurements, e5_measurement
from prismlm.reproduce.continual.configs import (
    E1_REFERENCE,
    NOROUTE_FGT_BAND,
    DigitsRunConfig,
    E1Config,
    E2Config,
    E3Config,
    E4Config,
    E5Config,
    small_e1_config,
)
from prismlm.reproduce.continual.experiments import (
    _band_check,
    e1,
    e1_configs,
    ordering_checks,
)
from prismlm.reproduce.continual.report import learner_rows

TINY = E1Config(seeds=(0, 1), epochs=1, n_samples=1200, learners=("prizma_dfa", "backprop"))


def fake_results(figures: dict, n_seeds: int = 5) -> dict:
    """{learner: {"R": [S, 2, 2]}} whose ACC and FGT are `figures[learner]` (± 0.002 by seed)."""
    out = {}
    for name, (acc, fgt) in figures.items():
        rs = []
        for s in range(n_seeds):
            a = acc + 0.002 * (s - n_seeds // 2)
            rs.append([[a + fgt, 0.125], [a, a]])  # ACC = a, FGT = (a + fgt) - a
        out[name] = {"R": np.array(rs)}
    return out


def test_e1_record_carries_its_resolved_configs_and_their_fingerprint(tmp_path):
    payload = e1(TINY, out=tmp_path, workers=1, progress=False)
    for ext in ("json", "md", "png"):
        assert (tmp_path / f"e1.{ext}").stat().st_size > 0
    record = json.loads((tmp_path / "e1.json").read_text())
    assert record["fingerprint"] == fingerprint(e1_configs(TINY))
    assert record["fingerprint"] != fingerprint(e1_configs(replace(TINY, epochs=2)))
    assert record["configs"]["run"]["prizma"]["n_experts"] == TINY.n_tasks + 3
    assert record["configs"]["stream"]["seeds"] == [0, 1]
    assert {r["learner"] for r in record["rows"]} == {"prizma_dfa", "backprop"}
    assert payload["cached"] is False
    assert "ACC ± CI" in (tmp_path / "e1.md").read_text()


def test_an_unchanged_config_is_read_from_the_cache(tmp_path):
    first = e1(TINY, out=tmp_path, workers=1, progress=False)
    again = e1(TINY, out=tmp_path, workers=2, progress=False)  # workers do not key the cache
    assert again["cached"] is True and again["key"] == first["key"]
    assert again["R"] == first["R"]


def test_full_e1_rows_carry_the_published_reference():
    rows = learner_rows(fake_results(E1_REFERENCE), E1_REFERENCE, E1Config().tolerance)
    assert {r["learner"]: (r["reference"]["acc"], r["reference"]["fgt"]) for r in rows} \
        == E1_REFERENCE
    assert all(r["passed"] for r in rows)
    off = dict(E1_REFERENCE, backprop=(0.445 + 2 * E1Config().tolerance, 0.553))
    rows = learner_rows(fake_results(off), E1_REFERENCE, E1Config().tolerance)
    assert [r["learner"] for r in rows if not r["passed"]] == ["backprop"]


def test_ordering_checks_fail_when_the_order_is_broken():
    good = learner_rows(fake_results(E1_REFERENCE), E1_REFERENCE)
    assert all(c["passed"] for c in ordering_checks(good, E1_REFERENCE))
    swapped = dict(E1_REFERENCE, replay=E1_REFERENCE["prizma_dfa"],
                   prizma_dfa=E1_REFERENCE["replay"])
    bad = learner_rows(fake_results(swapped), E1_REFERENCE)
    checks = ordering_checks(bad, E1_REFERENCE)
    acc_check = next(c for c in checks if c["name"] == "ACC ordering")
    assert not acc_check["passed"] and acc_check["reference"].startswith("0.879 > 0.834")


def test_noroute_forgetting_band_is_two_sided():
    centre, half = NOROUTE_FGT_BAND["full"]
    assert _band_check("b", centre, centre, half, "")["passed"]
    assert not _band_check("b", centre + 1.5 * half, centre, half, "")["passed"]
    assert not _band_check("b", centre - 1.5 * half, centre, half, "")["passed"]


@pytest.mark.parametrize("make, field", [
    (lambda: E1Config(seeds=()), "seeds"), (lambda: E1Config(learners=("sgd",)), "learners"),
    (lambda: E2Config(sigmas=(-1.0,)), "sigmas"), (lambda: E3Config(capacities=(0,)), "capacities"),
    (lambda: E4Config(max_gap=0), "max_gap"), (lambda: E5Config(ceiling_margin=-1), "ceiling_margin"),
    (lambda: DigitsRunConfig(kind="mnist"), "kind"), (lambda: E1Config(epochs=0), "epochs"),
])
def test_experiment_configs_reject_bad_fields_by_name(make, field):
    with pytest.raises(ValueError, match=field):
        make()


@pytest.mark.parametrize("cmd", ["e1", "e2", "e3", "e4", "e5", "digits", "bench"])
def test_cli_registers_every_experiment(cmd):
    result = CliRunner().invoke(app, ["continual", cmd, "--help"])
    assert result.exit_code == 0, result.output


def test_cli_rejects_an_unknown_experiment():
    assert CliRunner().invoke(app, ["continual", "e9", "--help"]).exit_code != 0


def test_claims_are_continual_claims_with_unique_ids():
    ids = [c.id for c in CLAIMS]
    assert len(ids) == len(set(ids)) >= 12
    assert all(c.id.startswith("continual.") and c.system == "continual" for c in CLAIMS)
    assert all(c.seed_figure and c.source for c in CLAIMS)


def test_e1_claims_can_come_out_reproduced_or_refuted():
    full = E1Config()
    good = {m.claim_id: m for m in e1_measurements(fake_results(E1_REFERENCE), full, "cmd")}
    assert good["continual.e1_backprop"].verdict == "reproduced"
    assert good["continual.routing_is_causal"].verdict == "reproduced"
    off = dict(E1_REFERENCE, backprop=(0.60, 0.553), prizma_exact=(0.90, 0.0))
    bad = {m.claim_id: m for m in e1_measurements(fake_results(off), full, "cmd")}
    assert bad["continual.e1_backprop"].verdict == "refuted"
    assert "ACC off by" in bad["continual.e1_backprop"].why
    assert bad["continual.dfa_is_best_variant"].verdict == "refuted"
    small = {m.claim_id: m for m in e1_measurements(fake_results(E1_REFERENCE),
                                                    small_e1_config(), "cmd")}
    assert small["continual.e1_backprop"].verdict == "not reproducible at this scale"


def test_ambiguous_claim_is_refuted_when_a_learner_beats_the_ceiling():
    rows = [{"learner": n, "metrics": {"acc": {"mean": a}}}
            for n, a in (("prizma_dfa", 0.57), ("prizma_dfa_rbf", 0.70), ("backprop", 0.69))]
    bound = {"name": "x: ACC <= ceiling + 0.03", "measured": "", "target": "<= 0.810"}
    payload = {"ceiling": [0.78], "rows": rows,
               "checks": [dict(bound, passed=True), dict(bound, passed=False)]}
    assert e5_measurement(payload, "cmd").verdict == "refuted"
    payload["checks"] = [dict(bound, passed=True)]
    assert e5_measurement(payload, "cmd").verdict == "reproduced"


def test_smoke_measure_gives_one_valid_measurement_per_claim(tmp_path):
    found = measure("smoke", tmp_path, seeds=[0])
    assert [m.claim_id for m in found] == [c.id for c in CLAIMS]
    assert all(m.verdict in VERDICTS for m in found)
    assert all(m.why for m in found if m.verdict != "reproduced")
    with pytest.raises(ValueError, match="scale"):
        measure("huge", tmp_path)


@pytest.mark.slow
def test_full_e1_reproduces_the_reference_table(tmp_path):
    payload = e1(E1Config(), out=tmp_path, progress=False)
    assert all(r["passed"] for r in payload["rows"] if r["passed"] is not None)
    assert all(c["passed"] for c in payload["checks"])


@pytest.mark.slow
def test_small_e1_all_learners_pass_the_spec_checks(tmp_path):
    payload = e1(small_e1_config(), out=tmp_path, progress=False)
    assert all(c["passed"] for c in payload["checks"])
