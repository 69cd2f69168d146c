import json

from typer.testing import CliRunner

from prismlm.cli import app

runner = CliRunner()


def test_reproduce_one_leg_at_smoke_scale(tmp_path):
    res = runner.invoke(
        app,
        [
            "reproduce",
            "prizma-seq",
            "--leg",
            "selcopy",
            "--scale",
            "smoke",
            "--seeds",
            "0",
            "--out",
            str(tmp_path),
            "--device",
            "cpu",
        ],
    )
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "selcopy" / "selcopy.json").read_text())["seeds"] == [0]


def test_compare_with_a_bad_task_fails_naming_the_field(tmp_path):
    res = runner.invoke(
        app,
        [
            "compare",
            "--task",
            '{"name": "mqar", "vocab_size": 4}',
            "--scale",
            "smoke",
            "--out",
            str(tmp_path),
        ],
    )
    assert res.exit_code != 0 and "vocab_size" in res.output
    assert not (tmp_path / "cache").exists()


def test_compare_unknown_preset_is_rejected(tmp_path):
    res = runner.invoke(app, ["compare", "--preset", "nope", "--out", str(tmp_path)])
    assert res.exit_code != 0 and "preset" in res.output


def test_compare_runs_a_reproduction_preset_without_any_registration_hook(tmp_path):
    # PRISM's arms are ordinary arms and its presets live in the one registry
    res = runner.invoke(
        app,
        [
            "compare",
            "--preset",
            "prism-toy-copy",
            "--scale",
            "smoke",
            "--out",
            str(tmp_path),
            "--device",
            "cpu",
            "--train",
            '{"steps": 2, "eval_every": 2, "eval_batches": 1, "batch_size": 4}',
        ],
    )
    assert res.exit_code == 0, res.output
    saved = json.loads((tmp_path / "prism-toy-copy.json").read_text())
    assert [r["arm"] for r in saved["rows"]] == ["prism", "transformer", "ssm"]
    assert all(r["task"] == "copy" and r["params"] > 0 for r in saved["rows"])


def test_a_report_name_cannot_escape_the_output_folder(tmp_path):
    res = runner.invoke(
        app, ["compare", "--scale", "smoke", "--name", "../../escaped", "--out", str(tmp_path / "out")]
    )
    assert res.exit_code != 0 and "escaped" in res.output
    assert not (tmp_path / "escaped.json").exists() and not (tmp_path.parent / "escaped.json").exists()


def test_train_refuses_a_run_dir_made_with_other_configs_unless_restarted(tmp_path):
    task = '{"name": "mqar", "vocab_size": 16, "num_pairs": 2, "num_queries": 2}'
    base = ["train", "--model", "prizma-none", "--task", task, "--dims",
            '{"d_model": 8, "n_layers": 1, "n_heads": 1}', "--run-dir", str(tmp_path), "--no-progress"]
    first = runner.invoke(app, base + ["--train", '{"steps": 2, "eval_every": 2, "batch_size": 4}'])
    assert first.exit_code == 0, first.output
    other = base + ["--train", '{"steps": 2, "eval_every": 2, "batch_size": 4, "lr": 0.05}']
    refused = runner.invoke(app, other)
    assert refused.exit_code != 0 and "lr" in refused.output
    assert runner.invoke(app, other + ["--restart"]).exit_code == 0
