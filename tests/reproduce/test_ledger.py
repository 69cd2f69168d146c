"""The claims ledger: one row per claim of every system, whatever each system's measure() does."""

import json
import sys
import types

import pytest
from typer.testing import CliRunner

from prismlm.config import fingerprint
from prismlm.reproduce import ledger
from prismlm.reproduce.claim import VERDICTS, Claim, Measurement


def _system(name, n_claims, measure):
    """A fake system module keeping the ledger contract, importable as `fake_<name>`."""
    mod = types.ModuleType(f"fake_{name}")
    mod.CLAIMS = tuple(Claim(f"{name}.c{i}", name, f"claim {i}", f"{i}.0", "test") for i in range(n_claims))
    mod.measure = measure
    mod.settings = lambda scale: {"size": {"smoke": 1, "cpu": 2, "paper": 3}[scale]}
    return mod


def _measure_first_two(scale, out, device="auto", seeds=None):
    out.mkdir(parents=True, exist_ok=True)
    (out / "touched").write_text(scale)
    return [
        Measurement("good.c0", "0.99", "± 0.01 (95% t-CI, 2 seeds)", "reproduced", "cmd 0"),
        Measurement("good.c1", "0.20", None, "refuted", "cmd 1", "below the bar"),
    ]


def _raise(scale, out, device="auto", seeds=None):
    raise RuntimeError("the GPU caught fire")


@pytest.fixture
def systems(monkeypatch):
    """Replace the registry with two fake systems (good, broken) and one that cannot be imported."""
    mods = {"good": _system("good", 3, _measure_first_two), "broken": _system("broken", 2, _raise)}
    for mod in mods.values():
        monkeypatch.setitem(sys.modules, mod.__name__, mod)
    registry = {name: mod.__name__ for name, mod in mods.items()}
    registry["absent"] = "fake_no_such_module"
    monkeypatch.setattr(ledger, "SYSTEMS", registry)
    return mods


def test_every_claim_gets_a_row_measured_or_not(systems, tmp_path):
    rows = ledger.run_ledger(["good"], "smoke", tmp_path, seeds=[0, 1])
    assert [r["id"] for r in rows] == ["good.c0", "good.c1", "good.c2"]
    assert [r["verdict"] for r in rows] == ["reproduced", "refuted", "not measured"]
    assert rows[0]["spread"].startswith("± 0.01") and rows[1]["why"] == "below the bar"
    assert "no measurement" in rows[2]["why"] and rows[2]["command"].startswith("prismlm reproduce good")
    assert rows[0]["seed_figure"] == "0.0" and rows[0]["claim"] == "claim 0"
    assert (tmp_path / "good" / "touched").read_text() == "smoke"  # each system writes in its own folder


def test_a_failing_system_is_recorded_and_the_others_still_run(systems, tmp_path):
    rows = ledger.run_ledger(["broken", "absent", "good"], "smoke", tmp_path)
    by_system = {s: [r for r in rows if r["system"] == s] for s in ("broken", "absent", "good")}
    assert len(by_system["broken"]) == 2
    for r in by_system["broken"]:
        assert r["verdict"] == "not measured" and "the GPU caught fire" in r["why"]
    # a module that cannot be imported has no CLAIMS to list: it still keeps one row
    (absent,) = by_system["absent"]
    assert absent["verdict"] == "not measured" and "ModuleNotFoundError" in absent["why"]
    assert [r["verdict"] for r in by_system["good"]] == ["reproduced", "refuted", "not measured"]


def test_a_measurement_of_an_unknown_claim_is_an_error_of_that_system(systems, tmp_path, monkeypatch):
    stray = [Measurement("good.nope", "1", None, "reproduced", "cmd")]
    monkeypatch.setattr(systems["good"], "measure", lambda *a, **k: stray)
    rows = ledger.run_ledger(["good"], "smoke", tmp_path)
    assert all(r["verdict"] == "not measured" and "good.nope" in r["why"] for r in rows)


def test_the_ledger_files_hold_rows_counts_and_settings(systems, tmp_path):
    rows = ledger.run_ledger(["good", "broken"], "cpu", tmp_path, device="cpu", seeds=[3])
    data = json.loads((tmp_path / "ledger.json").read_text())
    assert data["rows"] == rows and data["scale"] == "cpu" and data["seeds"] == [3]
    assert data["counts"]["good"] == {"reproduced": 1, "refuted": 1, "not reproducible at this scale": 0,
                                      "not measured": 1}
    assert data["counts"]["broken"]["not measured"] == 2
    assert data["summary"] == (
        "5 claims: 1 reproduced, 1 refuted, 0 not reproducible at this scale, 3 not measured"
    )
    assert data["fingerprint"] == fingerprint({"device": "cpu", "settings": {"good": {"size": 2}}})
    assert {"load_average", "torch", "threads"} <= set(data["environment"])
    md = (tmp_path / "ledger.md").read_text()
    assert data["summary"] in md and md.count("| good.c") == 3
    assert "| claim id | system | claim | seed figure | measured | spread | verdict | command | why |" in md
    assert (tmp_path / "ledger.png").stat().st_size > 0


def test_verdict_counts_cover_every_verdict():
    rows = [{"system": "a", "verdict": v} for v in VERDICTS] + [{"system": "b", "verdict": "refuted"}]
    counts = ledger.verdict_counts(rows)
    assert counts["a"] == dict.fromkeys(VERDICTS, 1)
    assert counts["b"] == {**dict.fromkeys(VERDICTS, 0), "refuted": 1}


def test_a_pipe_in_a_reason_does_not_break_the_markdown_table():
    row = {"id": "x.1", "system": "x", "claim": "a | b", "seed_figure": "1", "measured": "2",
           "spread": None, "verdict": "refuted", "command": "c", "why": "p | q"}
    table_line = [ln for ln in ledger.ledger_markdown([row], "smoke", None).splitlines() if "x.1" in ln][0]
    assert table_line.count(" | ") == len(ledger.COLUMNS) - 1


def test_bad_settings_are_rejected_by_name(systems, tmp_path):
    with pytest.raises(ValueError, match="scale"):
        ledger.run_ledger(["good"], "huge", tmp_path)
    with pytest.raises(ValueError, match="systems"):
        ledger.run_ledger(["nobody"], "smoke", tmp_path)
    with pytest.raises(ValueError, match="per_system_dirs"):
        ledger.run_ledger(["good", "broken"], "smoke", tmp_path, per_system_dirs=False)


def test_cli_reproduce_all_writes_one_ledger(systems, tmp_path):
    from prismlm.cli import app

    result = CliRunner().invoke(app, ["reproduce", "all", "--scale", "smoke", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "ledger.json").read_text())["rows"]
    assert {r["system"] for r in rows} == {"good", "broken", "absent"}
    bad = CliRunner().invoke(app, ["reproduce", "all", "--seeds", "0,x", "--out", str(tmp_path)])
    assert bad.exit_code != 0 and "--seeds" in bad.output


@pytest.mark.parametrize("command", ["all", "prizma-seq", "continual", "prism", "holo"])
def test_every_reproduce_command_is_registered(command):
    from prismlm.cli import app

    assert CliRunner().invoke(app, ["reproduce", command, "--help"]).exit_code == 0
