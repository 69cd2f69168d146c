"""GPU check for the delta rule and model training throughput (run on a CUDA machine).

    PYTHONPATH=src python scripts/gpu_check.py [--quick] [--out results.json]

1. Accuracy: fla vs chunked vs recurrent at bf16 and fp32, on random and correlated (cos ≈ 0.9)
   keys, with and without decay, each against the float64 recurrence on the same rounded inputs
   (max relative error of o and S_T, `numerics.TOLERANCE` beside it), plus forward+backward time.
   fla only runs where `select_backend` allows (bf16/fp16, K ≤ 256); other cells say why not.
2. Throughput: tokens/s of one training step (bf16 autocast forward, cross-entropy, backward,
   AdamW) for PrizmaSeqLM and TransformerLM at d512 L8, T = 2048 and T = 8192. PrizmaSeqLM runs
   twice: the default d_φ = 288 (beyond fla's K ≤ 256: chunked fallback) and feat_n2 = 192
   (d_φ = 256: fla where installed).

Without CUDA it prints that it was skipped and exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings

import torch
import torch.nn.functional as F

from prismlm.bench.timing import environment, time_call
from prismlm.ops.delta_rule import delta_rule, delta_rule_chunked, delta_rule_recurrent
from prismlm.ops.delta_rule_fla import fla_installed, select_backend
from prismlm.ops.numerics import TOLERANCE, max_relative_error


def delta_inputs(T, K, cosine, gated, device, B=2, H=4, V=64, seed=0):
    g = torch.Generator(device="cpu").manual_seed(seed)

    def keys():
        shared = F.normalize(torch.randn(B, H, 1, K, generator=g, dtype=torch.float64), dim=-1)
        noise = F.normalize(torch.randn(B, H, T, K, generator=g, dtype=torch.float64), dim=-1)
        return F.normalize(cosine**0.5 * shared + (1 - cosine) ** 0.5 * noise, dim=-1)

    q, k = keys(), keys()
    v = torch.randn(B, H, T, V, generator=g, dtype=torch.float64)
    beta = 0.99 * torch.rand(B, H, T, generator=g, dtype=torch.float64)
    alpha = 0.5 + 0.5 * torch.rand(B, H, T, generator=g, dtype=torch.float64) if gated else None
    s0 = torch.randn(B, H, V, K, generator=g, dtype=torch.float64)
    return [None if x is None else x.to(device) for x in (q, k, v, beta, alpha, s0)]


def accuracy(T: int, repeats: int) -> list[dict]:
    rows = []
    for K in (64, 320):
        for cosine in (0.0, 0.9):
            for gated in (False, True):
                exact = delta_inputs(T, K, cosine, gated, "cuda")
                for dtype in (torch.bfloat16, torch.float32):
                    rounded = [None if x is None else x.to(dtype) for x in exact]
                    o_ref, s_ref = delta_rule_recurrent(*[None if x is None else x.double() for x in rounded])
                    forms = {"chunked": delta_rule_chunked, "recurrent": delta_rule_recurrent}
                    backend, _ = select_backend("auto", "cuda", dtype, K, fla_installed())
                    if backend == "fla":
                        forms["fla"] = lambda *a: delta_rule(*a, backend="fla")
                    row = dict(K=K, cosine=cosine, gated=gated, dtype=str(dtype), tol=TOLERANCE[dtype],
                               auto_backend=backend)
                    for name, fn in forms.items():
                        o, s = fn(*rounded)
                        row[f"{name}_err_o"] = max_relative_error(o, o_ref)
                        row[f"{name}_err_S"] = max_relative_error(s, s_ref)
                        if name != "recurrent":
                            row[f"{name}_fwd_bwd_s"] = time_call(
                                lambda fn=fn, x=rounded: _fwd_bwd(fn, x), repeats, 1, "cuda")["median_s"]
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    return rows


def _fwd_bwd(fn, inputs):
    leaves = [None if x is None else x.detach().requires_grad_() for x in inputs]
    o, s = fn(*leaves)
    (o.float().sum() + s.float().sum()).backward()


def throughput(lengths, repeats: int) -> list[dict]:
    from prismlm.models.prizma_seq import PrizmaSeqConfig, PrizmaSeqLM
    from prismlm.models.transformer import TransformerConfig, TransformerLM

    shape = dict(vocab_size=256, d_model=512, n_layers=8, n_heads=8)
    models = {
        "prizma_seq(d_phi=288)": lambda: PrizmaSeqLM(PrizmaSeqConfig(**shape)),
        "prizma_seq(d_phi=256)": lambda: PrizmaSeqLM(PrizmaSeqConfig(**shape, feat_n2=192)),
        "transformer": lambda: TransformerLM(TransformerConfig(**shape, max_len=max(lengths))),
    }
    rows = []
    for T in lengths:
        for name, make in models.items():
            row = dict(model=name, T=T, batch=1)
            try:
                row.update(_train_speed(make().cuda(), T, repeats))
            except torch.cuda.OutOfMemoryError as err:
                row["error"] = f"out of memory: {err}"[:200]
            torch.cuda.empty_cache()
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def _train_speed(model, T, repeats):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    tokens = torch.randint(0, 256, (1, T + 1), device="cuda")

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(tokens[:, :-1])
        loss = F.cross_entropy(logits.float().flatten(0, 1), tokens[:, 1:].flatten())
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    torch.cuda.reset_peak_memory_stats()
    seconds = time_call(step, repeats, 2, "cuda")["median_s"]
    return dict(step_s=seconds, tokens_per_s=T / seconds,
                peak_gib=torch.cuda.max_memory_allocated() / 2**30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="T=256 accuracy, T=2048 only, 2 repeats")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_check: CUDA is not available; skipped (nothing measured)")
        return 0
    warnings.simplefilter("default")  # show the one-time fla fallback warnings
    repeats = 2 if args.quick else 5
    results = {
        "environment": environment(),
        "fla_installed": fla_installed(),
        "accuracy": accuracy(256 if args.quick else 2048, repeats),
        "throughput": throughput([2048] if args.quick else [2048, 8192], repeats),
    }
    if args.out:
        from pathlib import Path

        from prismlm.io import atomic_write_json

        atomic_write_json(Path(args.out), results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
