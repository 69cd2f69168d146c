"""Run under torchrun by test_distributed.py: train a tiny Transformer, write what came out.

argv: a JSON list of jobs, run one after the other in the same processes (one launch), each
{"out": folder, "train": TrainConfig fields, "run_dir": folder or null, "kill_at_eval": n or 0}.
A job writes <out>/weights.safetensors and <out>/result.json from rank 0, and
<out>/rank<r>.safetensors (the rows this rank trained on) from every rank. With kill_at_eval,
rank 0 SIGKILLs itself at its n-th eval (torchrun then stops the others).
"""

import json
import os
import signal
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import save_file
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

from prismlm.data.copy import Copy
from prismlm.models import TransformerConfig, build_model
from prismlm.train import TrainConfig, train

TASK = Copy(vocab_size=8, length=4)


def tiny_model():
    torch.manual_seed(0)
    return build_model(TransformerConfig(vocab_size=8, d_model=16, n_layers=2, n_heads=2, max_len=16))


def run_job(args):
    out = Path(args["out"])
    out.mkdir(parents=True, exist_ok=True)
    model = tiny_model()
    seen = []
    model.register_forward_pre_hook(lambda m, inp: seen.append(inp[0].clone()) if m.training else None)
    evals = []

    def maybe_die(_model):
        evals.append(1)
        if dist.get_rank() == 0 and len(evals) == args.get("kill_at_eval", 0):
            os.kill(os.getpid(), signal.SIGKILL)
        return {}

    run_dir = Path(args["run_dir"]) if args.get("run_dir") else None
    res = train(model, TASK, TrainConfig(**args["train"]), run_dir, eval_fn=maybe_die)
    rank = dist.get_rank()
    save_file({f"{i}": x for i, x in enumerate(seen)}, str(out / f"rank{rank}.safetensors"))
    # the full weights on rank 0 (gathered from the shards under FSDP2)
    weights = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if rank == 0:
        save_file({k: v.contiguous().clone() for k, v in weights.items()}, str(out / "weights.safetensors"))
        curve = [r["loss"] for r in res.train_log]
        (out / "result.json").write_text(json.dumps({"curve": curve, "final": res.final,
                                                     "resumed_from": res.resumed_from}))
    dist.barrier()


if __name__ == "__main__":
    for job in json.loads(sys.argv[1]):
        run_job(job)
    dist.destroy_process_group()
