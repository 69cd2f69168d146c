"""PRISM benchmarks: the toy comparison (PRISM vs Transformer vs SSM), routing report, speed.

    compare_prism("prism-toy", ["induction"], seeds=(0, 1, 2), out=Path("results/prism"))
    bench_prism(out=Path("results/prism"))     # MRB chunked vs recurrent, train step vs Transformer

The comparison trains every model of a preset with the one prismlm trainer (`prismlm.train`) —
same loop, AdamW, LR schedule, step budget, batch and seeds — and reports the held-out
cross-entropy per model (mean ± Student-t 95% CI over seeds) beside the seed's reference figures
(which come from a model that leaks future tokens through its tape, spec §7), the parameter
counts, and for PRISM the fraction of tokens each layer routes to each expert kind and the mean
MRB scale gates. Writes JSON + Markdown + PNG, atomically.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..data.arithmetic import ChainedArithmetic
from ..data.copy import Copy
from ..data.mini_lm import MiniLM
from ..data.mqar import MQAR
from ..experiment.stats import summarize
from ..io import atomic_write_bytes
from ..models.base import SequenceLM
from ..models.prism import PrismConfig, PrismLM
from ..models.ssm import SSMLM, SSMConfig

ModelBuilder = Callable[[int, int], SequenceLM]  # (vocab_size, max_len) -> model

# The seed's README table (400 steps, CPU). Produced by a non-causal model (spec §7).
REFERENCE_CE = {
    "induction": {"prism": 1.78, "transformer": 1.95, "ssm": 2.04},
    "copy": {"prism": 2.11, "transformer": 1.64, "ssm": 1.45},
    "mini_lm": {"prism": 0.89, "transformer": 1.33, "ssm": 0.31},
}


def _transformer(d_model: int, n_layers: int, n_heads: int) -> ModelBuilder:
    def build(vocab_size: int, max_len: int) -> SequenceLM:
        from ..models.transformer import TransformerConfig, TransformerLM

        return TransformerLM(
            TransformerConfig(vocab_size, d_model, n_layers, n_heads, max_len=max(max_len, 8))
        )

    return build


@dataclass
class Preset:
    """Models, tasks and the shared training budget of one comparison."""

    models: dict[str, ModelBuilder]
    tasks: dict[str, Callable[[], Any]]
    train: dict[str, Any] = field(default_factory=dict)
    seeds: tuple[int, ...] = (0, 1, 2)


PRESETS: dict[str, Preset] = {
    "prism-toy": Preset(
        models={
            # Sizes follow the reference's ratios (PRISM ~190k > Transformer ~130k > SSM ~90k).
            "prism": lambda v, n: PrismLM(
                PrismConfig(v, d_model=64, n_layers=4, num_rates=4, d_mem=32, num_slots=16)
            ),
            "transformer": _transformer(64, 3, 4),
            "ssm": lambda v, n: SSMLM(SSMConfig(v, d_model=64, n_layers=2, d_state=8)),
            # Not in the reference: the spec's rates give half-lives of 0.125–1 token, so its
            # MRB barely remembers; this variant spans 1–256 tokens instead.
            "prism_slow": lambda v, n: PrismLM(
                PrismConfig(
                    v,
                    d_model=64,
                    n_layers=4,
                    num_rates=4,
                    d_mem=32,
                    num_slots=16,
                    min_rate=math.log(2.0) / 256,
                    max_rate=math.log(2.0),
                )
            ),
        },
        tasks={
            # Spec §6: 3 key→value pairs over a 12-token vocabulary, then one query key.
            "induction": lambda: MQAR(vocab_size=12, num_pairs=3, num_queries=1, key_frac=0.5),
            "copy": lambda: Copy(vocab_size=16, length=8),
            "mini_lm": lambda: MiniLM(seq_len=64),
            "reasoning": lambda: ChainedArithmetic(modulus=10, num_ops=3),
            # Not in the reference: the same chains with every running result scored.
            "reasoning_steps": lambda: ChainedArithmetic(modulus=10, num_ops=3, scratchpad=True),
        },
        train=dict(
            steps=400,
            batch_size=32,
            lr=3e-3,
            warmup=40,
            eval_every=400,
            eval_batches=16,
            monitor="bpc",  # "loss" trips a tqdm postfix clash in the trainer
            plateau_patience=0,
            log_every=100,
            device="cpu",
        ),
    ),
}


DEFAULT_MODELS = ("prism", "transformer", "ssm")


def register_preset(name: str, preset: Preset) -> None:
    PRESETS[name] = preset


def _json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=2).encode())


@torch.no_grad()
def routing_report(model: PrismLM, task: Any, batches: int = 4, seed: int = 12345) -> list[dict]:
    """Mean routing fractions and MRB gates per layer over held-out batches of `task`."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    acc: list[dict] | None = None
    for _ in range(batches):
        model(task.eval_sample(32, gen).inputs)
        stats = model.routing_stats()
        if acc is None:
            acc = stats
            continue
        for a, s in zip(acc, stats, strict=True):
            a["fractions"] = {k: a["fractions"][k] + s["fractions"][k] for k in a["fractions"]}
            a["gates"] = [x + y for x, y in zip(a["gates"], s["gates"], strict=True)]
    for a in acc or []:
        a["fractions"] = {k: v / batches for k, v in a["fractions"].items()}
        a["gates"] = [g / batches for g in a["gates"]]
    return acc or []


def run_one(preset: Preset, model_name: str, task: Any, seed: int) -> dict[str, Any]:
    """Train one (model, task, seed) cell with the shared trainer; return its record."""
    from ..train import TrainConfig, train

    torch.manual_seed(seed)
    model = preset.models[model_name](task.vocab_size, task.max_seq_len)
    result = train(model, task, TrainConfig(**{**preset.train, "seed": seed}))
    rec = {
        "model": model_name,
        "seed": seed,
        "params": model.num_parameters(),
        "eval_ce": result.final["loss"],
        "eval_acc": result.final["acc"],
        "train_ce_last": result.train_log[-1]["loss"] if result.train_log else None,
        "wall_s": result.wall_time,
    }
    if isinstance(model, PrismLM):
        rec["routing"] = routing_report(model, task)
    return rec


def _aggregate(records: list[dict]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in dict.fromkeys(r["model"] for r in records):
        rows = [r for r in records if r["model"] == name]
        s = summarize([r["eval_ce"] for r in rows])
        acc = summarize([r["eval_acc"] for r in rows])
        out[name] = {
            "ce": s.to_dict(),
            "acc_mean": acc.mean,
            "params": rows[0]["params"],
            "wall_s_mean": sum(r["wall_s"] for r in rows) / len(rows),
        }
        routs = [r["routing"] for r in rows if "routing" in r]
        if routs:
            layers = []
            for i in range(len(routs[0])):
                kinds = list(routs[0][i]["fractions"])
                layers.append(
                    {
                        "fractions": {
                            k: sum(r[i]["fractions"][k] for r in routs) / len(routs) for k in kinds
                        },
                        "gates": [
                            sum(r[i]["gates"][j] for r in routs) / len(routs)
                            for j in range(len(routs[0][i]["gates"]))
                        ],
                        "half_lives": routs[0][i]["half_lives"],
                    }
                )
            out[name]["routing"] = layers
    return out


def _markdown(summary: dict[str, Any]) -> str:
    lines = [
        "# PRISM toy comparison",
        "",
        f"Preset `{summary['preset']}`; seeds {summary['seeds']}; training "
        f"{summary['train']}. Held-out cross-entropy (nats, scored positions only), "
        "mean ± 95% CI (Student t) over seeds. Reference = the seed's README figures, "
        "measured on a model whose tape leaks future tokens (spec §7): not valid next-token "
        "figures.",
        "",
        "| task | model | params | CE (ours) | acc | reference CE |",
        "|---|---|---|---|---|---|",
    ]
    for task, agg in summary["tasks"].items():
        for name, a in agg["models"].items():
            ce = a["ce"]
            half = (ce["ci_high"] - ce["ci_low"]) / 2
            ref = REFERENCE_CE.get(task, {}).get(name)
            lines.append(
                f"| {task} | {name} | {a['params']:,} | {ce['mean']:.3f} ± {half:.3f} "
                f"(n={ce['n']}) | {a['acc_mean']:.3f} | {'—' if ref is None else ref} |"
            )
        lines.append(f"| {task} | chance | | {agg['chance_ce']:.3f} | | |")
    lines += ["", "## Routing (fraction of tokens per layer; mean MRB gate per rate)", ""]
    lines += ["| task | model | layer | neural | memory | symbolic | MRB gate@half-life |"]
    lines += ["|---|---|---|---|---|---|---|"]
    for task, agg in summary["tasks"].items():
        for name, a in agg["models"].items():
            for i, layer in enumerate(a.get("routing", [])):
                f = layer["fractions"]
                cells = [f"{f[k]:.0%}" if k in f else "—" for k in ("neural", "memory", "symbolic")]
                gates = ", ".join(
                    f"{g:.2f}@{h:.3g}"
                    for g, h in sorted(
                        zip(layer["gates"], layer["half_lives"], strict=True), key=lambda p: p[1]
                    )
                )
                lines.append(f"| {task} | {name} | {i} | " + " | ".join(cells) + f" | {gates} |")
    return "\n".join(lines) + "\n"


def _plot(summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import io

    import matplotlib.pyplot as plt

    tasks = [t for t, a in summary["tasks"].items() if "routing" in a["models"].get("prism", {})]
    if not tasks:
        return
    fig, axes = plt.subplots(2, len(tasks), figsize=(3.6 * len(tasks), 6), squeeze=False)
    colors = {"neural": "tab:blue", "memory": "tab:orange", "symbolic": "tab:green"}
    for j, task in enumerate(tasks):
        layers = summary["tasks"][task]["models"]["prism"]["routing"]
        ax = axes[0, j]
        bottom = [0.0] * len(layers)
        for kind, col in colors.items():
            vals = [lay["fractions"].get(kind, 0.0) for lay in layers]
            ax.bar(range(len(layers)), vals, bottom=bottom, color=col, label=kind)
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
        ax.set_title(f"{task}: routing")
        ax.set_xlabel("layer")
        ax.set_ylim(0, 1)
        ax = axes[1, j]
        for i, lay in enumerate(layers):
            ax.plot(lay["half_lives"], lay["gates"], marker="o", label=f"layer {i}")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("rate half-life (tokens)")
        ax.set_ylabel("mean gate")
        ax.set_title(f"{task}: MRB gates")
    axes[0, 0].legend(fontsize=7)
    axes[1, 0].legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def compare_prism(
    preset_name: str,
    tasks: Sequence[str],
    seeds: Sequence[int] | None = None,
    out: Path = Path("results/prism"),
    steps: int | None = None,
    models: Sequence[str] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the comparison; cells are cached in `out/cells/*.json` so a rerun resumes."""
    if preset_name not in PRESETS:
        raise ValueError(f"unknown preset {preset_name!r}; known: {sorted(PRESETS)}")
    preset = PRESETS[preset_name]
    if steps is not None:
        preset = Preset(preset.models, preset.tasks, {**preset.train, "steps": steps}, preset.seeds)
    seeds = tuple(preset.seeds if seeds is None else seeds)
    names = list(models or DEFAULT_MODELS)
    for t in tasks:
        if t not in preset.tasks:
            raise ValueError(f"unknown task {t!r} for {preset_name}; known: {sorted(preset.tasks)}")
    for m in names:
        if m not in preset.models:
            raise ValueError(f"unknown model {m!r}; known: {sorted(preset.models)}")
    summary: dict[str, Any] = {
        "preset": preset_name,
        "seeds": list(seeds),
        "train": preset.train,
        "tasks": {},
    }
    for task_name in tasks:
        task = preset.tasks[task_name]()
        records = []
        for name in names:
            for seed in seeds:
                key = f"{preset_name}-{task_name}-{name}-s{seed}-n{preset.train['steps']}"
                cell = out / "cells" / f"{key}.json"
                if cell.exists():
                    rec = json.loads(cell.read_text())
                else:
                    t0 = time.perf_counter()
                    rec = run_one(preset, name, task, seed)
                    _json(cell, rec)
                    log(f"{key}: CE {rec['eval_ce']:.3f} ({time.perf_counter() - t0:.0f}s)")
                records.append(rec)
        summary["tasks"][task_name] = {
            "models": _aggregate(records),
            "chance_ce": _chance(task),
            "records": records,
        }
    stem = f"compare_{preset_name}"
    _json(out / f"{stem}.json", summary)
    atomic_write_bytes(out / f"{stem}.md", _markdown(summary).encode())
    _plot(summary, out / f"{stem}_routing.png")
    log(_markdown(summary))
    return summary


def _chance(task: Any) -> float:
    """Cross-entropy of the uniform guess over the answers a task can score."""
    if isinstance(task, MQAR):
        n_key = max(task.num_pairs + 1, int(math.floor(task.vocab_size * task.key_frac)))
        return math.log(task.vocab_size - n_key)
    if isinstance(task, Copy):
        return math.log(task.vocab_size - 2)
    if isinstance(task, ChainedArithmetic):
        return math.log(task.modulus)
    return math.log(task.vocab_size)


# ------------------------------------------------------------------------------------ speed
def _time(fn: Callable[[], None], repeats: int) -> float:
    fn()
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_prism(
    out: Path = Path("results/prism"),
    lengths: Sequence[int] = (256, 1024, 4096),
    batches: Sequence[int] = (1, 8),
    quick: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """MRB (fwd+bwd) chunked vs recurrent loop, and PrismLM vs Transformer train-step time."""
    from ..layers.multirate_bus import MultiRateBus
    from ..ops.multirate_scan import (
        log_spaced_rates,
        multirate_scan_chunked,
        multirate_scan_recurrent,
    )

    repeats = 1 if quick else 3
    rates = log_spaced_rates(4)
    rows = []
    for b in batches:
        for t in lengths:
            x = torch.randn(b, t, 128, requires_grad=True)
            rec = {"batch": b, "T": t, "d_model": 128}
            for label, fn in (
                ("scan_chunked", lambda x=x: multirate_scan_chunked(x, rates)),
                ("scan_recurrent", lambda x=x: multirate_scan_recurrent(x, rates)),
            ):
                rec[label] = _time(lambda fn=fn: fn().sum().backward(), repeats)
            for label, rec_flag in (("mrb_chunked", False), ("mrb_recurrent", True)):
                layer = MultiRateBus(128, 4, recurrent=rec_flag)
                rec[label] = _time(lambda layer=layer, x=x: layer(x)[0].sum().backward(), repeats)
            rec["scan_speedup"] = rec["scan_recurrent"] / rec["scan_chunked"]
            rec["mrb_speedup"] = rec["mrb_recurrent"] / rec["mrb_chunked"]
            rows.append(rec)
            log(
                f"B={b} T={t}: scan {rec['scan_speedup']:.1f}x "
                f"({rec['scan_recurrent'] * 1e3:.1f} vs {rec['scan_chunked'] * 1e3:.1f} ms), "
                f"MRB layer {rec['mrb_speedup']:.1f}x"
            )
    step = _train_step_bench(repeats, log, quick)
    result = {"mrb": rows, "train_step": step, "threads": torch.get_num_threads()}
    _json(out / "bench_prism.json", result)
    md = ["# PRISM speed (CPU, fp32, forward+backward)", "", "## Multi-Rate Bus", ""]
    md += ["| B | T | scan loop ms | scan chunked ms | scan × | MRB loop ms | MRB chunked ms | MRB × |"]
    md += ["|---|---|---|---|---|---|---|---|"]
    for r in rows:
        md.append(
            f"| {r['batch']} | {r['T']} | {r['scan_recurrent'] * 1e3:.1f} | "
            f"{r['scan_chunked'] * 1e3:.1f} | {r['scan_speedup']:.1f} | "
            f"{r['mrb_recurrent'] * 1e3:.1f} | {r['mrb_chunked'] * 1e3:.1f} | "
            f"{r['mrb_speedup']:.1f} |"
        )
    md += ["", "## Training step (AdamW, B × T tokens)", ""]
    md += ["| model | params | ms / step |", "|---|---|---|"]
    for name, r in step["models"].items():
        md.append(f"| {name} | {r['params']:,} | {r['step_s'] * 1e3:.1f} |")
    md.append(f"\nPRISM / Transformer step-time ratio: {step['ratio']:.2f} "
              f"(B={step['batch']}, T={step['T']}).")
    atomic_write_bytes(out / "bench_prism.md", ("\n".join(md) + "\n").encode())
    log("\n".join(md))
    return result


def _train_step_bench(repeats: int, log: Callable[[str], None], quick: bool) -> dict[str, Any]:
    """PrismLM toy (d 128) vs a Transformer whose FFN width is chosen to match its parameters."""
    from ..models.transformer import TransformerConfig, TransformerLM

    vocab, b, t = 256, (4 if quick else 16), (64 if quick else 256)
    prism = PrismLM(PrismConfig(vocab, d_model=32 if quick else 128, num_slots=8 if quick else 32))
    d = prism.config.d_model

    def transformer(d_ff: int) -> TransformerLM:
        return TransformerLM(TransformerConfig(vocab, d, 4, 4, d_ff=d_ff, max_len=t))

    # Parameters are affine in d_ff: solve for the width that matches PRISM's count.
    p64, p128 = transformer(64).num_parameters(), transformer(128).num_parameters()
    d_ff = 64 + (prism.num_parameters() - p64) * 64 / (p128 - p64)
    tf = transformer(max(8, int(round(d_ff / 8)) * 8))
    models = {"prism": prism, "transformer": tf}
    x = torch.randint(0, vocab, (b, t), generator=torch.Generator().manual_seed(0))
    res = {}
    for name, model in models.items():
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

        def step(model=model, opt=opt):
            logits, aux = model(x, return_aux=True)
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), x.flatten()) + aux
            opt.zero_grad()
            loss.backward()
            opt.step()

        res[name] = {"params": model.num_parameters(), "step_s": _time(step, repeats)}
        log(f"train step {name}: {res[name]['step_s'] * 1e3:.1f} ms, {res[name]['params']:,} params")
    ratio = res["prism"]["step_s"] / res["transformer"]["step_s"]
    return {"models": res, "ratio": ratio, "batch": b, "T": t}


__all__ = ["PRESETS", "Preset", "REFERENCE_CE", "bench_prism", "compare_prism", "register_preset"]


# ------------------------------------------------------- hooks into `prismlm compare` / sweeps
TOY_ARMS = {
    "prism": {"model": "prism", "d_model": 64, "n_layers": 4, "d_mem": 32, "num_slots": 16},
    "transformer": {"model": "transformer", "d_model": 64, "n_layers": 3, "n_heads": 4,
                    "match": False},
    "ssm": {"model": "ssm", "d_model": 64, "n_layers": 2, "d_state": 8},
}
TOY_TASKS = {
    "induction": {"name": "mqar", "vocab_size": 12, "num_pairs": 3, "num_queries": 1,
                  "key_frac": 0.5},
    "copy": {"name": "copy", "vocab_size": 16, "length": 8},
    "mini_lm": {"name": "mini_lm", "seq_len": 64},
    "reasoning": {"name": "arithmetic", "modulus": 10, "num_ops": 3},
    "reasoning_steps": {"name": "arithmetic", "modulus": 10, "num_ops": 3, "scratchpad": True},
}


def register_compare_hooks() -> bool:
    """Add the "prism" and "ssm" arms and the "prism-toy[-<task>]" presets to the shared
    `prismlm compare` machinery (bench.arms / bench.presets), when it is installed."""
    try:
        from ..experiment import arms
        from ..experiment import compare as presets
    except ImportError:
        return False

    def _arm(cls, cfg_cls):
        def build(fields: dict[str, Any], vocab_size: int, max_len: int) -> SequenceLM:
            return cls(arms._config(cfg_cls, fields, vocab_size=vocab_size))

        return build

    arms.ARMS.setdefault("prism", _arm(PrismLM, PrismConfig))
    arms.ARMS.setdefault("ssm", _arm(SSMLM, SSMConfig))
    train = {k: v for k, v in PRESETS["prism-toy"].train.items() if k != "device"}

    def preset(task: str):
        def spec(scale: str):
            return presets.ComparisonSpec(
                [dict(a) for a in TOY_ARMS.values()], dict(TOY_TASKS[task]), dict(train),
                0.9, list(PRESETS["prism-toy"].seeds),
            )

        return spec

    presets.PRESETS.setdefault("prism-toy", preset("induction"))
    for task in TOY_TASKS:
        presets.PRESETS.setdefault(f"prism-toy-{task}", preset(task))
    return True
