"""Run by test_ddp_gloo.py under torchrun: train the stand-in model and save its weights."""

import sys

import torch
import torch.distributed as dist
from seq_standin import TinyGRUConfig, TinyGRULM

from prismlm.data.copy import Copy
from prismlm.train import TrainConfig, train

if __name__ == "__main__":
    torch.manual_seed(0)
    model = TinyGRULM(TinyGRUConfig(vocab_size=8))
    cfg = TrainConfig(steps=8, batch_size=8, lr=5e-3, warmup=2, eval_every=4, eval_batches=2, device="cpu")
    res = train(model, Copy(vocab_size=8, length=4), cfg)
    if dist.get_rank() == 0:
        torch.save({"state": model.state_dict(), "final": res.final}, sys.argv[1])
    dist.destroy_process_group()
