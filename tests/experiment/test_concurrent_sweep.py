"""Several processes running one sweep on one folder all finish, and each cell trains once."""

import json
import os
import subprocess
import sys
from pathlib import Path

import prismlm

SCRIPT = """
import json, sys
from prismlm.experiment.sweep import grid, run_sweep
arm = {"model": "prizma-none", "d_model": 16, "n_layers": 1, "n_heads": 2}
task = {"name": "mqar", "vocab_size": 16, "num_pairs": 2, "num_queries": 4}
train = dict(steps=2, batch_size=4, warmup=1, eval_every=1, eval_batches=1, plateau_patience=0,
             checkpoint_every=1)
cells = grid([arm, {**arm, "model": "transformer"}], [task], train, seeds=[0, 1])
records = run_sweep(cells, sys.argv[1], "cpu", log=False)
print(json.dumps([[r["key"], bool(r["cached"])] for r in records]))
"""


def test_four_processes_share_one_sweep_folder(tmp_path):
    src = str(Path(prismlm.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(tmp_path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    keys = [[k for k, _ in r] for r in results]
    assert all(k == keys[0] for k in keys) and len(set(keys[0])) == 4
    trained = [k for r in results for k, cached in r if not cached]
    assert sorted(trained) == sorted(keys[0])  # every cell trained exactly once, by one process
    assert not any((tmp_path / "runs").iterdir())  # every run folder cleaned up by its owner
