"""Model-size presets of the scaled pipeline: PRISM at the reference's sizes, its holo variant,
and a Prizma-Seq and a Transformer matched to it in parameters.

    cfg = preset_config("350m")                       # PrismConfig, vocab 50304
    cfg = preset_config("350m", model="transformer")  # TransformerConfig with ≈ the same count
    rows = preset_table()                             # what `prismlm presets` prints

The PRISM fields are the reference's (`train_scale.py` of AFKmoney/prism and prism-kb): width,
depth, rate groups K and rates Δ ∈ [min_rate, max_rate], top-k, neural hidden multiple and memory
d_mem × slots; all tie embeddings and use init std 0.02. The reference's "700m" preset has 846M
parameters, so it is named `846m` here (`700m` is kept as an alias). The reference's
`num_read_heads = 2` adds nothing: its memory head never reads it.

Counting. The tape presets set `REFERENCE_MEMORY`, so their memory head has the reference's
parameters: no write-address head (the address is "shared": the read query against fixed slot
keys, so prismlm keeps a causal, slot-addressed write where the reference writes one vector to
every slot), no biases on the query, add and output projections nor on the symbolic output, and a
tape that starts at zeros. `reference_parameter_count(cfg)` is the reference architecture's count
in closed form (it reproduces the reference's own figures, `REFERENCE_COUNTS`), and the presets
count exactly that. prismlm's own head (the PrismConfig defaults) has `prismlm_extra_parameters`
more: per memory block the address head d·S + S and the biases 2·d_mem + d, a symbolic output
bias d per block, and the learned initial tape S·d_mem.

The holo variant follows the reference's `build_holo_config`: memory_kind "holo" with a tape of
D = S·d_mem = 32 × 256 = 8192 (32 × 64 for tiny). The matched models keep PRISM's width and depth
(heads of width 64) and pick the FFN width d_ff that brings their count closest to PRISM's.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from ..config import require
from .matching import count_parameters, match_ffn_width
from .prism import EXPERT_KINDS, PrismConfig
from .prizma_seq import PrizmaSeqConfig
from .transformer import TransformerConfig

PRESET_VOCAB = 50304
LN2 = math.log(2.0)
_SLOW_FAST_300M = dict(min_rate=0.3466, max_rate=16.64)  # the reference's ln2/2 … 24·ln2
_SLOW_FAST_1B = dict(min_rate=0.3466, max_rate=11.09)  # ln2/2 … 16·ln2

# name -> PrismConfig fields (besides vocab_size); rates default to ln 2 … 8·ln 2.
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(d_model=128, n_layers=4, num_rates=4, top_k=1, d_mem=64, num_slots=16),
    "300m": dict(
        d_model=896, n_layers=24, num_rates=8, top_k=2, d_mem=512, num_slots=64, **_SLOW_FAST_300M
    ),
    "350m": dict(
        d_model=1024, n_layers=18, num_rates=8, top_k=2, d_mem=512, num_slots=32, neural_hidden_mult=3
    ),
    "846m": dict(
        d_model=1536, n_layers=20, num_rates=8, top_k=2, d_mem=512, num_slots=64, neural_hidden_mult=3
    ),
    "1b": dict(
        d_model=2048, n_layers=24, num_rates=8, top_k=2, d_mem=1024, num_slots=64,
        neural_hidden_mult=3, **_SLOW_FAST_1B,
    ),
}
ALIASES = {"700m": "846m"}  # the reference's name for the 846M preset
# The reference's own parameter counts at vocab 50304 (spec prism-reference-gaps R1), in millions.
REFERENCE_COUNTS = {"tiny": 7.3, "300m": 319.1, "350m": 370.8, "846m": 845.6, "1b": 1807.2}
# The reference's memory head and symbolic output (module docstring): no write-address head, no
# query/add/output biases, a tape that starts at zeros.
REFERENCE_MEMORY = dict(write_address="shared", expert_bias=False, learned_tape_init=False)
HOLO_MEMORY = dict(d_mem=256, num_slots=32)  # D = 8192, the reference's build_holo_config
HOLO_MEMORY_TINY = dict(d_mem=64, num_slots=32)
MODELS = ("prism", "prism-holo", "prizma-seq", "transformer")
HEAD_DIM = 64


def preset_name(name: str) -> str:
    """The canonical name of preset `name` (aliases resolved); ValueError naming the field."""
    name = ALIASES.get(name, name)
    require(name in PRESETS, "preset", f"unknown preset {name!r}; known: {sorted(PRESETS) + sorted(ALIASES)}")
    return name


def prism_preset(name: str, vocab_size: int = PRESET_VOCAB, holo: bool = False, **overrides) -> PrismConfig:
    """PrismConfig of preset `name`; holo=True gives the PRISM-Holo variant (holographic tape)."""
    name = preset_name(name)
    fields: dict[str, Any] = dict(PRESETS[name], vocab_size=vocab_size, tie_embeddings=True, init_std=0.02)
    if holo:
        fields.update(memory_kind="holo", **(HOLO_MEMORY_TINY if name == "tiny" else HOLO_MEMORY))
    else:
        fields.update(REFERENCE_MEMORY)
    fields.update(overrides)
    return PrismConfig(**fields)


def _heads(d_model: int) -> int:
    return max(1, d_model // HEAD_DIM) if d_model >= 4 * HEAD_DIM else 4


def preset_config(name: str, model: str = "prism", vocab_size: int = PRESET_VOCAB, **overrides):
    """The config of `model` (one of MODELS) at preset `name`. Prizma-Seq and the Transformer
    keep PRISM's d_model and depth and take the d_ff that matches PRISM's (tape) count."""
    require(model in MODELS, "model", f"unknown model {model!r}; known: {list(MODELS)}")
    if model in ("prism", "prism-holo"):
        return prism_preset(name, vocab_size, holo=model == "prism-holo", **overrides)
    prism = prism_preset(name, vocab_size)
    cls = PrizmaSeqConfig if model == "prizma-seq" else TransformerConfig
    base = cls(
        vocab_size=vocab_size, d_model=prism.d_model, n_layers=prism.n_layers,
        n_heads=_heads(prism.d_model), **overrides,
    )
    return match_ffn_width(base, count_parameters(prism))


def reference_parameter_count(cfg: PrismConfig) -> int:
    """Parameters of the reference's PRISM with cfg's sizes (closed form, tied embeddings).

    Per block: two RMSNorms 2d; MRB 2d² + 2d + K(d + 1); router (d + d_mem)·E + E; SwiGLU 3·d·h;
    symbolic 6(d + 1) + 3d² + 3d + d²; memory (all but the last block) 4·d·d_mem + d + 1 + d_mem.
    Model: embedding V·d and the final norm d.
    """
    d, k, dm, h = cfg.d_model, cfg.num_rates, cfg.d_mem, cfg.neural_hidden_mult * cfg.d_model

    def block(n_experts: int, memory: bool) -> int:
        n = 2 * d + 2 * d * d + 2 * d + k * (d + 1) + (d + dm) * n_experts + n_experts
        n += 3 * d * h + 6 * (d + 1) + 4 * d * d + 3 * d
        return n + (4 * d * dm + d + 1 + dm if memory else 0)

    last = block(len(EXPERT_KINDS) - 1, False)
    body = sum(block(len(EXPERT_KINDS), True) for _ in range(cfg.n_layers - 1))
    head = 0 if cfg.tie_embeddings else cfg.vocab_size * d
    return cfg.vocab_size * d + d + head + body + last


def prismlm_extra_parameters(cfg: PrismConfig) -> int:
    """prismlm's own memory head (PrismConfig defaults) minus the reference's at cfg's sizes."""
    require(cfg.memory_kind == "tape", "memory_kind", "the comparison is defined for the tape memory")
    d, dm, s, n = cfg.d_model, cfg.d_mem, cfg.num_slots, cfg.n_layers
    return (n - 1) * (d * s + s + 2 * dm + d) + n * d + s * dm


def preset_table(vocab_size: int = PRESET_VOCAB) -> list[dict[str, Any]]:
    """One row per preset: sizes, the parameter count of every model, and the reference's."""
    rows = []
    for name in PRESETS:
        prism = prism_preset(name, vocab_size)
        row: dict[str, Any] = {
            "preset": name,
            "d_model": prism.d_model,
            "n_layers": prism.n_layers,
            "rates": f"{prism.min_rate:.4g}…{prism.max_rate:.4g}",
            "top_k": prism.top_k,
            "hidden": f"{prism.neural_hidden_mult}·d",
            "memory": f"{prism.d_mem}×{prism.num_slots}",
        }
        for model in MODELS:
            row[model] = count_parameters(preset_config(name, model, vocab_size))
        row["reference"] = reference_parameter_count(prism)
        rows.append(row)
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of `preset_table` rows, counts in millions."""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        cells = [f"{v / 1e6:.1f}M" if isinstance(v, int) and v > 10**5 else str(v) for v in row.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def smoke_config(vocab_size: int, model: str = "prism") -> Any:
    """The tiny preset shrunk for a CPU smoke run (d 64, 2 layers, memory 32×8)."""
    cfg = preset_config("tiny", model, vocab_size) if model != "prism" else prism_preset("tiny", vocab_size)
    if isinstance(cfg, PrismConfig):
        return dataclasses.replace(cfg, d_model=64, n_layers=2, d_mem=32, num_slots=8)
    return dataclasses.replace(cfg, d_model=64, n_layers=2, d_ff=128)
