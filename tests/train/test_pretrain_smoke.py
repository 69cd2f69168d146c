"""`prismlm pretrain --smoke`: offline, CPU, a few steps on the text bundled with the package."""

import socket

from typer.testing import CliRunner

from prismlm.cli import app


def test_pretrain_smoke_runs_offline(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access in the smoke run")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.chdir(tmp_path)  # as from a fresh clone: nothing read from the checkout's folders
    for phase in ("pretrain", "instruct"):
        out = tmp_path / phase
        res = CliRunner().invoke(app, ["pretrain", "--smoke", "--phase", phase, "--out", str(out)])
        assert res.exit_code == 0, res.output
        assert "steps 5" in res.output and (out / "metrics.jsonl").is_file()
        assert (out / "checkpoints").is_dir()  # the final checkpoint, whose generator holds the position
