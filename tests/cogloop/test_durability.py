"""Kills, concurrent processes and restarts: a consolidation is all there or absent."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from prismlm.cogloop import CogLoop, LongTermMemory

SRC = str(Path(__file__).resolve().parents[2] / "src")
ENV = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _python(code: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=ENV, text=True, **kw)


def test_kill_9_mid_consolidation_loses_nothing_and_leaves_no_half(ltm_path):
    big = " ".join(f"Item{i} is value{i}." for i in range(200))
    proc = _python(f"""
        import sys, time
        from prismlm.cogloop import CogLoop, Episode, LongTermMemory
        m = LongTermMemory({str(ltm_path)!r}, encoder="lexical")
        CogLoop(m).turn("remember: The capital of Zorbia is Quex.")
        def hang(i):
            if i == 50:  # inside the consolidation's transaction, 50 facts written
                print("MID", flush=True)
                time.sleep(60)
        m.consolidate([Episode({big!r}, 0.9)], on_fact=hang)
    """, stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == "MID"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    with LongTermMemory(ltm_path, create=False, encoder="lexical") as m:
        assert [e.text for e in m.entries()] == ["The capital of Zorbia is Quex."]
        assert m.store.count_facts() == 1 and m.store.damaged_facts() == []
        assert CogLoop(m).turn("What is the capital of Zorbia?").answer.value == "Quex"


def test_two_processes_on_one_profile_keep_every_entry(ltm_path):
    code = """
        import sys
        from prismlm.cogloop import CogLoop, LongTermMemory
        m = LongTermMemory({path!r}, encoder="lexical")
        loop = CogLoop(m)
        for i in range(8):
            loop.turn(f"remember: The code of {tag}{{i}} is {tag}value{{i}}.")
    """
    procs = [_python(code.format(path=str(ltm_path), tag=t)) for t in ("alpha", "beta")]
    assert [p.wait(120) for p in procs] == [0, 0]
    with LongTermMemory(ltm_path, create=False, encoder="lexical") as m:
        texts = {e.text for e in m.entries()}
        assert len(texts) == 16 and m.store.damaged_facts() == []
        loop = CogLoop(m)
        assert loop.turn("What is the code of beta7?").answer.value == "betavalue7"


def _chat(db: Path, lines: list[str]) -> str:
    cmd = [sys.executable, "-m", "prismlm", "chat", "--db", str(db), "--encoder", "lexical"]
    out = subprocess.run(cmd, input="\n".join(lines) + "\n", env=ENV, text=True, capture_output=True,
                         timeout=120, check=True)  # fmt: skip
    return out.stdout


def test_scripted_chat_remembers_restarts_and_answers(ltm_path, tmp_path):
    first = _chat(ltm_path, ["remember: The capital of Zorbia is Quex.",
                             "Arin Tosk founded the Velmora Guild.", "/list"])  # fmt: skip
    assert "remembered as entry" in first and "consolidated 1 entry on exit" in first
    second = _chat(ltm_path, ["What is the capital of Zorbia?", "Who founded the Velmora Guild?",
                              "What is the moon made of?", f"/export {tmp_path / 'e.json'}"])  # fmt: skip
    replies = second.splitlines()
    assert replies[0].startswith("Quex") and "from memory" in replies[0]
    assert replies[1].startswith("Arin Tosk") and "from memory" in replies[1]
    assert replies[2].startswith("I don't know")
    entries = json.loads((tmp_path / "e.json").read_text())["entries"]
    assert len(entries) == 2
    gone = entries[0]["id"]
    cmd = [sys.executable, "-m", "prismlm", "chat", "--db", str(ltm_path), "--forget", gone, "--list"]
    listed = subprocess.run(cmd, env=ENV, text=True, capture_output=True, timeout=120, check=True).stdout
    assert f"forgot {gone}" in listed and "1 remembered" in listed
