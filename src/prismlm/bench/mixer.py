"""`prismlm bench mixer`: Prizma-Seq (quad2) against a parameter-matched Transformer, one run.

Three measurements, each reported as a ratio against its baseline measured in the same run:

1. op:     chunked delta rule vs the recurrent reference, forward + backward, per T.
2. train:  one training step (forward + cross-entropy + backward) of PrizmaSeqLM vs TransformerLM
           at batch `train_batch`, per T, with each step's analytic FLOPs (`train_flops`) and
           the achieved GFLOP/s.
3. decode: per-token `step` latency after a parallel prefill of n tokens, per n and batch,
           eager (with and without the fused CPU kernels) and compiled (never mixed in a
           ratio), and the floats each model carries
           (Prizma: constant state; Transformer: its KV cache) — bench/mixer_decode.py.

`parts` picks the measurements and `lengths` / `contexts` their sizes, so the heavy rows
(T = 8192 training, n = 16k decode) can be run alone.

Timings are wall-clock medians over `repeats` runs after a warm-up (bench/timing.py). The
machine's load average is recorded beside them: on a shared CPU, background load inflates every
number (both arms alike, which is why the ratios are the figures to read).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from ..allocator import keep_freed_memory
from ..allocator import setting as allocator_setting
from ..config import require
from ..experiment.report import markdown_table
from ..io import write_record
from ..models import PrizmaSeqConfig, PrizmaSeqLM, TransformerLM, count_parameters, match_transformer
from ..ops.delta_rule import delta_rule_chunked, delta_rule_recurrent
from ..train.flops import flops_per_token
from .mixer_decode import bench_decode, decode_verdicts
from .timing import environment, time_call

TARGETS = {
    "op_speedup_at_1024": 10.0,  # chunked ≥ 10× faster than the recurrent reference
    "train_ratio": {2048: 2.0, 8192: 1.0},  # Prizma train step / Transformer's, per T (issue 19)
}
PARTS = ("op", "train", "decode")
# The seed's v2 levers, timed in the training rows beside the headline quad2 arm: "lean" is its
# fewer-FLOPs target (d_φ = d_h + r(r+1)/2 = 137 at d_h = 32), "v2" the full gate set on quad2.
VARIANTS = {
    "lean": {"feat_map": "quad2_lowrank", "feat_rank": 14},
    "v2": {"gated": True, "decoupled_gate": True, "out_gate": True, "state_norm": True},
}


@dataclass
class MixerBenchConfig:
    lengths: tuple[int, ...] = (256, 512, 1024, 2048, 4096, 8192)  # op and train rows: T
    contexts: tuple[int, ...] = (256, 1024, 2048, 4096, 16384)  # decode rows: n
    decode_batches: tuple[int, ...] = (1, 8)
    compiled: bool = True  # also time `compile_step()` decoding (minutes of compilation)
    parts: tuple[str, ...] = PARTS  # which measurements to run
    variants: tuple[str, ...] = tuple(VARIANTS)  # v2-lever arms added to the training rows
    vocab_size: int = 512
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    feat_n2: int = 224  # d_φ = 256 at d_h = 32: the seed's headline quad2 configuration
    train_batch: int = 8  # the batch the seed benchmarks with; batch 2 flatters the ratio
    op_batch: int = 8
    decode_tokens: int = 32
    repeats: int = 3
    recurrent_max_len: int = 4096  # the reference loop is slow; cap it for quick runs
    threads: int | None = field(default_factory=os.cpu_count)  # None: leave torch's setting
    # glibc keeps freed memory (prismlm.allocator), for both models alike: without it the large
    # per-step temporaries are page-faulted in afresh each step, which dominates Prizma's step
    keep_freed_memory: bool = True
    seed: int = 0

    @classmethod
    def quick(cls) -> MixerBenchConfig:
        return cls(lengths=(64, 128), contexts=(64, 128), decode_batches=(1, 2), compiled=False,
                   d_model=64, n_layers=2, n_heads=2, feat_n2=96, train_batch=2, op_batch=2,
                   decode_tokens=4, repeats=1, recurrent_max_len=128)

    def __post_init__(self) -> None:
        unknown = set(self.parts) - set(PARTS)
        require(not unknown, "parts", f"unknown parts {sorted(unknown)}; choose from {PARTS}")
        unknown = set(self.variants) - set(VARIANTS)
        require(not unknown, "variants",
                f"unknown variants {sorted(unknown)}; choose from {tuple(VARIANTS)}")
        for name in ("lengths", "contexts", "decode_batches"):
            values = getattr(self, name)
            require(all(isinstance(v, int) and v >= 1 for v in values), name,
                    f"must be integers >= 1, got {values}")


def _op_inputs(cfg: MixerBenchConfig, T: int, gen: torch.Generator):
    B, H, dh = cfg.op_batch, cfg.n_heads, cfg.d_model // cfg.n_heads
    K = dh + cfg.feat_n2
    q = F.normalize(torch.randn(B, H, T, K, generator=gen), dim=-1).requires_grad_()
    k = F.normalize(torch.randn(B, H, T, K, generator=gen), dim=-1).requires_grad_()
    v = torch.randn(B, H, T, dh, generator=gen).requires_grad_()
    beta = (0.99 * torch.rand(B, H, T, generator=gen)).requires_grad_()
    return q, k, v, beta


def bench_op(cfg: MixerBenchConfig, T: int, gen: torch.Generator) -> dict:
    inputs = _op_inputs(cfg, T, gen)

    def run(fn):
        def call():
            o, s = fn(*inputs)
            (o.sum() + s.sum()).backward()
        return call

    chunked = time_call(run(delta_rule_chunked), cfg.repeats)["median_s"]
    row = {"T": T, "chunked_ms": 1e3 * chunked, "recurrent_ms": None, "speedup": None}
    if T <= cfg.recurrent_max_len:  # one timed run: the loop is slow and its timing steady
        recurrent = time_call(run(delta_rule_recurrent), repeats=1, warmup=0)["median_s"]
        row.update(recurrent_ms=1e3 * recurrent, speedup=recurrent / chunked)
    return row


def train_flops(model, T: int) -> float:
    """Analytic FLOPs of one training step per token at sequence length T (forward × 3).

    6·N (every weight matmul, forward + backward; N as in train/flops.py) plus 3× the forward
    mixing terms of the spec's FLOP ledger (§6.4), per layer, with d_h = d/H, C the chunk size:
      Transformer: causal QKᵀ and AV, 2·H·(T+1)·d_h.
      Prizma:      φ 2H(n2 + 3d_φ) (+ the lift 4H·d_h·r of quad2_lowrank); delta state
                   H·(4C·d_φ + 4d_φ·d_h + 4C·d_h + 2d_h·d_φ);
                   banded window (ideal) 4H·(w − w(w−1)/(2T))·d_h.
    """
    c = model.config
    dh = c.d_model // c.n_heads
    weights = flops_per_token(model, 0)  # 6·N: with a zero context the attention term vanishes
    if isinstance(model, TransformerLM):
        mixing = 2 * c.n_heads * (T + 1) * dh
    else:
        dphi, C, w = model.blocks[0].mixer.feat_dim, c.chunk_size, min(c.window, T)
        n2 = dphi - dh
        mixing = c.n_heads * (2 * (n2 + 3 * dphi) + 4 * C * dphi + 6 * dphi * dh + 4 * C * dh)
        lift = getattr(model.blocks[0].mixer, "lift", None)
        if lift is not None:  # quad2_lowrank: z = x P for q and k, 2·d_h·r each
            mixing += c.n_heads * 2 * 2 * dh * lift.shape[1]
        if c.use_window:
            mixing += 4 * c.n_heads * (w - w * (w - 1) / (2 * T)) * dh
    return weights + 3.0 * c.n_layers * mixing


def bench_train(models: dict, cfg: MixerBenchConfig, T: int, gen: torch.Generator) -> dict:
    tokens = torch.randint(0, cfg.vocab_size, (cfg.train_batch, T + 1), generator=gen)
    x, y = tokens[:, :-1], tokens[:, 1:]
    row = {"T": T, "batch": cfg.train_batch, "threads": torch.get_num_threads()}
    for name, model in models.items():
        model.train()
        gflop = cfg.train_batch * T * train_flops(model, T) / 1e9

        def step(model=model):
            model.zero_grad(set_to_none=True)
            logits = model(x)
            F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).backward()

        seconds = time_call(step, cfg.repeats)["median_s"]
        row[f"{name}_ms"] = 1e3 * seconds
        row[f"{name}_gflop"] = gflop
        row[f"{name}_gflop_per_s"] = gflop / seconds
    row["flop_ratio"] = row["prizma_gflop"] / row["transformer_gflop"]
    row["ratio"] = row["prizma_ms"] / row["transformer_ms"]
    for name in models:
        if name.startswith("prizma_"):  # a v2-lever variant: its own ratio to the same TF run
            row[f"{name}_ratio"] = row[f"{name}_ms"] / row["transformer_ms"]
    return row


def _verdicts(op_rows, train_rows, decode_rows) -> list[dict]:
    out = []
    op = next((r for r in op_rows if r["T"] == 1024), None)
    if op and op["speedup"] is not None:
        out.append({"claim": "chunked ≥ 10× faster than recurrent at T=1024",
                    "measured": f"{op['speedup']:.1f}×",
                    "pass": op["speedup"] >= TARGETS["op_speedup_at_1024"]})
    for T, target in TARGETS["train_ratio"].items():
        tr = next((r for r in train_rows if r["T"] == T), None)
        if tr:
            out.append({"claim": f"Prizma train step ≤ {target:g}× Transformer at T={T}, "
                                 f"B={tr['batch']}",
                        "measured": f"{tr['ratio']:.2f}×", "pass": tr["ratio"] <= target})
    return out + decode_verdicts(decode_rows)


def _figure(op_rows, train_rows, decode_rows):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    ax = axes[0]
    ax.plot([r["T"] for r in op_rows], [r["chunked_ms"] for r in op_rows], "o-", label="chunked")
    rec = [r for r in op_rows if r["recurrent_ms"] is not None]
    ax.plot([r["T"] for r in rec], [r["recurrent_ms"] for r in rec], "s--", label="recurrent")
    ax.set(title="delta-rule op, fwd+bwd", xlabel="T", ylabel="ms")
    ax = axes[1]
    for name, style in (("prizma", "o-"), ("transformer", "s--")):
        ax.plot([r["T"] for r in train_rows], [r[f"{name}_ms"] for r in train_rows], style, label=name)
    ax.set(title="training step (fwd+bwd)", xlabel="T", ylabel="ms")
    ax = axes[2]
    for B in sorted({r["batch"] for r in decode_rows}):
        rows = [r for r in decode_rows if r["batch"] == B]
        for key, style, label in (("ratio", "o-", "eager"), ("ops_ratio", "^:", "eager, ops only"),
                                  ("compiled_ratio", "s--", "compiled")):
            if key in rows[0]:
                ax.plot([r["context"] for r in rows], [r[key] for r in rows], style,
                        label=f"B={B} {label}")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set(title="decode ms/token, Prizma ÷ Transformer", xlabel="context n", ylabel="ratio")
    for ax, rows, logy in zip(axes, (op_rows, train_rows, decode_rows), (True, True, False),
                              strict=True):
        if rows:  # a part that was not run leaves its panel empty
            ax.set_xscale("log")
            if logy:
                ax.set_yscale("log")
            ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def run_mixer_benchmark(
    out_dir: str | os.PathLike, quick: bool = False, config: MixerBenchConfig | None = None
) -> dict:
    """Run all three measurements; write mixer.json, mixer.md and mixer.png under `out_dir`."""
    cfg = config or (MixerBenchConfig.quick() if quick else MixerBenchConfig())
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.keep_freed_memory:
        keep_freed_memory()
    allocator = allocator_setting()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    max_len = max(cfg.lengths + cfg.contexts) + cfg.decode_tokens + 8
    prizma_cfg = PrizmaSeqConfig(
        vocab_size=cfg.vocab_size, d_model=cfg.d_model, n_layers=cfg.n_layers,
        n_heads=cfg.n_heads, feat_map="quad2", feat_n2=cfg.feat_n2, max_len=max_len,
    )
    tf_cfg = match_transformer(prizma_cfg, max_len=max_len)
    torch.manual_seed(cfg.seed)
    models = {"prizma": PrizmaSeqLM(prizma_cfg), "transformer": TransformerLM(tf_cfg)}
    variant_cfgs = {f"prizma_{v}": replace(prizma_cfg, **VARIANTS[v]) for v in cfg.variants}
    train_models = {**models, **{name: PrizmaSeqLM(c) for name, c in variant_cfgs.items()}}
    gen = torch.Generator().manual_seed(cfg.seed)
    env_before = environment()
    started = time.perf_counter()
    op_rows, train_rows, decode_rows = [], [], []
    for T in cfg.lengths if "op" in cfg.parts else ():
        op_rows.append(bench_op(cfg, T, gen))
        print(f"op T={T}: speedup {op_rows[-1]['speedup'] or float('nan'):.1f}x", flush=True)
    for T in cfg.lengths if "train" in cfg.parts else ():
        train_rows.append(bench_train(train_models, cfg, T, gen))
        print(f"train T={T}: ratio {train_rows[-1]['ratio']:.2f}", flush=True)
    if "decode" in cfg.parts:
        # dynamic shapes: one compiled graph per model serves every n and batch
        compiled = {name: m.compile_step() for name, m in models.items()} if cfg.compiled else {}
        for B in cfg.decode_batches:
            for n in cfg.contexts:
                row = bench_decode(models, compiled, n, B, cfg.decode_tokens, cfg.repeats,
                                   cfg.vocab_size, gen)
                decode_rows.append(row)
                print(f"decode B={B} n={n}: ratio {row['ratio']:.2f}"
                      + (f", compiled {row['compiled_ratio']:.2f}" if compiled else ""), flush=True)
    verdicts = _verdicts(op_rows, train_rows, decode_rows)
    result = {
        "benchmark": "mixer",
        "config": asdict(cfg),
        "models": {
            "prizma": {"config": asdict(prizma_cfg), "parameters": count_parameters(prizma_cfg)},
            "transformer": {"config": asdict(tf_cfg), "parameters": count_parameters(tf_cfg)},
            **{name: {"config": asdict(c), "parameters": count_parameters(c)}
               for name, c in variant_cfgs.items()},
        },
        "environment": {
            **env_before, "load_average_after": os.getloadavg(), "allocator": allocator,
            "wall_seconds": time.perf_counter() - started,
        },
        "op": op_rows, "train": train_rows, "decode": decode_rows, "verdicts": verdicts,
    }
    params = result["models"]
    md = "\n".join([
        "# Mixer benchmark: Prizma-Seq (quad2) vs parameter-matched Transformer\n",
        f"Prizma {params['prizma']['parameters']:,} parameters, Transformer "
        f"{params['transformer']['parameters']:,}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; allocator: {allocator}; load average before/after "
        f"{env_before['load_average'][0]:.1f}/{result['environment']['load_average_after'][0]:.1f}.\n",
        "## Verdicts\n", markdown_table(verdicts),
        "## Delta-rule op: chunked vs recurrent (forward + backward)\n", markdown_table(op_rows),
        f"## Training step (batch {cfg.train_batch}; GFLOP analytic, `train_flops`)\n",
        markdown_table(train_rows),
        f"## Decode per token ({cfg.decode_tokens} tokens after a prefill of n; "
        f"ratio: eager/eager with the fused CPU kernels, ops_ratio: eager/eager as torch ops only, "
        f"compiled_ratio: compiled/compiled)\n",
        markdown_table(decode_rows),
    ])
    write_record(out_dir, "mixer", result, md, _figure(op_rows, train_rows, decode_rows))
    print(md, flush=True)
    return result
