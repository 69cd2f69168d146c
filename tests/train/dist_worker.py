"""Run under torchrun by test_distributed.py: train a tiny Transformer, write what came out.

argv: a JSON list of jobs, run one after the other in the same processes (one launch), each
{"out": folder, "train": TrainConfig fields, "run_dir": folder or null, "kill_at_eval": n or 0}.
A job {"out": folder, "dcp_roundtrip": true} instead saves an FSDP2 model and its AdamW state
as a sharded DCP folder, loads it into a fresh sharded model and optimizer, and writes both
gathered states (<out>/saved.safetensors, <out>/loaded.safetensors) and <out>/refused.json
(what loading a folder with a tampered shard raised).
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


def _gathered(model, opt):
    from torch.distributed.checkpoint.state_dict import get_state_dict

    full = StateDictOptions(full_state_dict=True, cpu_offload=True)
    weights, optim = get_state_dict(model, opt, options=full)  # empty on ranks other than 0
    flat = {f"model/{k}": v for k, v in weights.items()}
    for name, moments in optim.get("state", {}).items():
        flat.update({f"optim/{name}/{k}": torch.as_tensor(v) for k, v in moments.items()})
    return {k: v.detach().clone().contiguous() for k, v in flat.items()}


def _sharded(seed):
    from torch.distributed.fsdp import fully_shard

    model = tiny_model()
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    for block in model.blocks:
        fully_shard(block)
    fully_shard(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    return model, opt


def dcp_roundtrip(args):
    from prismlm.train.checkpoint import CheckpointError
    from prismlm.train.distributed import setup_distributed
    from prismlm.train.sharded_checkpoint import load_sharded, save_sharded

    out = Path(args["out"])
    info = setup_distributed(torch.device("cpu"))
    model, opt = _sharded(1)
    model(torch.randint(0, 8, (2, 6))).float().pow(2).mean().backward()
    opt.step()  # AdamW moments to save
    folder = save_sharded(out / "ckpt", 3, model, opt, info)
    fresh, fresh_opt = _sharded(2)
    load_sharded(folder, fresh, fresh_opt, info)
    saved, loaded = _gathered(model, opt), _gathered(fresh, fresh_opt)
    refused = ""
    if info.is_main:
        save_file(saved, str(out / "saved.safetensors"))
        save_file(loaded, str(out / "loaded.safetensors"))
        shard = sorted(folder.glob("*.distcp"))[0]
        shard.write_bytes(shard.read_bytes()[:-1] + b"x")
    dist.barrier()
    try:
        load_sharded(folder, fresh, fresh_opt, info)
    except CheckpointError as err:
        refused = str(err)
    if info.is_main:
        (out / "refused.json").write_text(json.dumps({"error": refused, "files": sorted(
            p.name for p in folder.iterdir())}))
    dist.barrier()


def run_job(args):
    if args.get("dcp_roundtrip"):
        return dcp_roundtrip(args)
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
