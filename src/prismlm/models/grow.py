"""Function-preserving growth: `grow(model, new_config)` returns a wider and/or deeper model whose
logits equal the small model's (fp32, up to rounding) and whose new parameters all learn.

Width d → d' (r = d'/d). The residual stream of the grown model is x' = [√r·x ; 0]: the old
channels scaled by √r, the d' − d new channels exactly zero. That choice keeps every RMSNorm's
statistic unchanged, *including its ε*:

    mean(x'²) = (1/d')·r·Σ x_i² = (1/d)·Σ x_i² = mean(x²)        so rsqrt(mean + ε) is the same,

whereas plain zero-padding divides mean(x²) by r and leaves ε behind (not exact for any gain).
The rules that keep x' = [√r x ; 0] through the whole network:

* embedding (and learned positions): E' = [√r·E, 0];
* a residual-reading RMSNorm: gain g' = [g/√r ; 1], so its output is [g ⊙ x̂ ; 0] — the old
  normalised input exactly, and zero on the new channels;
* a Linear *reading* a normalised input: old entries copied, every new entry (new output rows,
  new input columns) keeps the grown model's fresh initialisation — the new columns multiply
  zeros, so they cost nothing now and carry signal as soon as the new channels move;
* a Linear *writing* the residual: W' = [[√r·W, 0], [0, 0]], b' = [√r·b ; 0] — new rows are zero
  so the new channels stay zero, new input columns are zero so new hidden units add nothing;
* the final norm feeding the tied head: gain g'_f = [g_f/r ; 1], because both factors of
  logit_v = Σ_i g'_i x̂'_i E'_{v,i} carry a √r.

Hidden widths grow the same way (SwiGLU units, attention heads, MRB channels): new hidden units
get a fresh input map and a zero output map. Their output weights have non-zero gradient at the
first step (the unit is active); their input weights once the output weights moved. A zero row of
a writer has gradient ∂L/∂x'_j ⊗ input ≠ 0, because RMSNorm passes gradient to a zero channel
(∂x̂_j/∂x_j = g_j/rms). So nothing is a dead zero; `new_parameter_masks` names the new entries.

Attention heads keep their width (head_dim = d/n_heads must not change: RoPE frequencies and
the quad2 feature map depend on it); heads are added, never reshaped.

Depth L → L': new blocks are inserted just below the old top block (the top PRISM block is the
one without a memory expert, so every old block keeps its expert list and router), and each new
block is an exact identity at init: the output map of every residual writer in it is zero.

Model-specific rules (MRB rate groups, router columns, the symbolic primitives, the holographic
tape) are in `grow_prism.py`. Optimizer state is NOT carried: every stage of a progressive run
starts a fresh AdamW (the trainer builds one per `train` call). Adam's moments live in the old
parameterisation (the √r scalings change both m and v), and new entries have no history; a
fresh optimizer with its own warmup is the simple, stated choice.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..config import require
from .base import SequenceLM, build_model, model_class_for
from .prizma_seq import PrizmaSeqLM
from .transformer import TransformerLM

__all__ = ["FUNCTION_ATOL", "Growth", "grow", "new_parameter_masks"]

FUNCTION_ATOL = 1e-5
"""What "function-preserving" promises: |logits_grown − logits_small| ≤ this, fp32."""


@dataclass(frozen=True)
class Growth:
    """d, d_new: residual widths; old_layers, new_layers: depths. r = d_new / d, s = √r.

    `block_map[i]` is where old block i lands; `inserted` are the new (identity) blocks.
    """

    d: int
    d_new: int
    old_layers: int
    new_layers: int

    @property
    def r(self) -> float:
        return self.d_new / self.d

    @property
    def s(self) -> float:
        return math.sqrt(self.r)

    @property
    def block_map(self) -> list[int]:
        top = self.new_layers - 1
        return [i if i < self.old_layers - 1 else top for i in range(self.old_layers)]

    @property
    def inserted(self) -> list[int]:
        return list(range(self.old_layers - 1, self.new_layers - 1))

    @property
    def res(self) -> torch.Tensor:
        """Positions of the old residual channels in the grown stream."""
        return torch.arange(self.d)


# ------------------------------------------------------------------------ tensor placement rules
def put(dst: torch.Tensor, src: torch.Tensor, *index: torch.Tensor, scale: float = 1.0) -> None:
    """dst[index_0 × index_1 × …] = scale · src, one index per dimension of src (in place)."""
    grids = torch.meshgrid(*index, indexing="ij") if len(index) > 1 else index
    dst[grids] = src.to(dst.dtype) * scale


def read_linear(new: nn.Linear, old: nn.Linear, rows: torch.Tensor, cols: torch.Tensor,
                src_rows: torch.Tensor | None = None) -> None:
    """A Linear reading a normalised input: old entries at (rows × cols), the rest stay fresh.

    src_rows: which old rows fill `rows` (default all, in order); a repeated row is a copy.
    """
    w = old.weight if src_rows is None else old.weight[src_rows]
    put(new.weight.data, w, rows, cols)
    if old.bias is not None:
        put(new.bias.data, old.bias if src_rows is None else old.bias[src_rows], rows)


def write_linear(new: nn.Linear, old: nn.Linear, g: Growth, cols: torch.Tensor) -> None:
    """A Linear writing the residual: √r · old at (old channels × cols), zero everywhere else."""
    new.weight.data.zero_()
    put(new.weight.data, old.weight, g.res, cols, scale=g.s)
    if old.bias is not None:
        new.bias.data.zero_()
        put(new.bias.data, old.bias, g.res, scale=g.s)


def grow_norm(new: nn.Module, old: nn.Module, g: Growth, final: bool = False) -> None:
    """RMSNorm gain over the residual: [g/√r ; 1] (the tied head's final norm: [g/r ; 1])."""
    new.weight.data.fill_(1.0)
    put(new.weight.data, old.weight, g.res, scale=1 / (g.r if final else g.s))


def grow_embedding(new: nn.Embedding, old: nn.Embedding, g: Growth) -> None:
    """E' = [√r·E, 0]: the grown residual starts at [√r·x ; 0]."""
    new.weight.data.zero_()
    put(new.weight.data, old.weight, torch.arange(old.weight.shape[0]), g.res, scale=g.s)


def grow_swiglu(new: nn.Module, old: nn.Module, g: Growth) -> None:
    """SwiGLU with hidden f → f': old units keep their place in each of the gate/up halves."""
    f, f_new = old.w_o.weight.shape[1], new.w_o.weight.shape[1]
    units = torch.arange(f)
    read_linear(new.w12, old.w12, torch.cat([units, f_new + units]), g.res)
    write_linear(new.w_o, old.w_o, g, units)


# --------------------------------------------------------------------------------- the checks
def check_same_except(old_cfg, new_cfg, growable: tuple[str, ...]) -> None:
    """Every config field outside `growable` must be equal (ValueError naming the first one)."""
    for f in dataclasses.fields(old_cfg):
        if f.name not in growable:
            a, b = getattr(old_cfg, f.name), getattr(new_cfg, f.name)
            require(a == b, f.name, f"grow cannot change {f.name} ({a!r} -> {b!r}); it may change {growable}")


def growth_of(old_cfg, new_cfg) -> Growth:
    require(new_cfg.d_model >= old_cfg.d_model, "d_model",
            f"grow only widens ({old_cfg.d_model} -> {new_cfg.d_model})")
    require(new_cfg.n_layers >= old_cfg.n_layers, "n_layers",
            f"grow only deepens ({old_cfg.n_layers} -> {new_cfg.n_layers})")
    return Growth(old_cfg.d_model, new_cfg.d_model, old_cfg.n_layers, new_cfg.n_layers)


def _check_heads(old_cfg, new_cfg) -> None:
    hd, hd_new = old_cfg.d_model // old_cfg.n_heads, new_cfg.d_model // new_cfg.n_heads
    require(hd == hd_new, "n_heads",
            f"head_dim must stay {hd} (d_model/n_heads); got {new_cfg.d_model}/{new_cfg.n_heads}")
    f_old = old_cfg.d_ff or 0
    require(new_cfg.d_ff is None or new_cfg.d_ff >= f_old, "d_ff", "grow only widens d_ff")


# ------------------------------------------------------------------------- Transformer rules
def _grow_transformer(old: TransformerLM, new: TransformerLM, g: Growth) -> None:
    grow_embedding(new.embed, old.embed, g)
    grow_norm(new.norm, old.norm, g, final=True)
    for i, j in enumerate(g.block_map):
        a, b = old.blocks[i], new.blocks[j]
        grow_norm(b.norm1, a.norm1, g)
        grow_norm(b.norm2, a.norm2, g)
        # qkv rows are [q heads | k heads | v heads]; old heads keep their slots in each third.
        rows = torch.cat([p * g.d_new + g.res for p in range(3)])
        read_linear(b.attn.qkv, a.attn.qkv, rows, g.res)
        write_linear(b.attn.proj, a.attn.proj, g, g.res)
        grow_swiglu(b.ffn, a.ffn, g)
    for j in g.inserted:
        new.blocks[j].attn.proj.weight.data.zero_()
        new.blocks[j].ffn.w_o.weight.data.zero_()


# -------------------------------------------------------------------------- Prizma-Seq rules
def _grow_prizma(old: PrizmaSeqLM, new: PrizmaSeqLM, g: Growth) -> None:
    grow_embedding(new.embed, old.embed, g)
    if old.pos_embed is not None:
        grow_embedding(new.pos_embed, old.pos_embed, g)
    grow_norm(new.norm, old.norm, g, final=True)
    heads = torch.arange(old.config.n_heads)
    for i, j in enumerate(g.block_map):
        a, b = old.blocks[i], new.blocks[j]
        grow_norm(b.norm1, a.norm1, g)
        grow_norm(b.norm2, a.norm2, g)
        ma, mb = a.mixer, b.mixer
        if ma.conv is not None:  # depthwise: a new channel gets bias 0, so SiLU(conv(0)) = 0
            put(mb.conv.conv.weight.data, ma.conv.conv.weight, g.res,
                torch.arange(1), torch.arange(ma.conv.kernel_size))
            mb.conv.conv.bias.data.zero_()
            put(mb.conv.conv.bias.data, ma.conv.conv.bias, g.res)
        # qkv rows are per head [h: q | k | v]: old heads occupy the first 3·d rows unchanged.
        read_linear(mb.qkv, ma.qkv, torch.arange(3 * g.d), g.res)
        read_linear(mb.beta_proj, ma.beta_proj, heads, g.res)
        if ma.alpha_proj is not None:
            read_linear(mb.alpha_proj, ma.alpha_proj, heads, g.res)
        write_linear(mb.out, ma.out, g, g.res)
        grow_swiglu(b.ffn, a.ffn, g)
    for j in g.inserted:
        new.blocks[j].mixer.out.weight.data.zero_()
        new.blocks[j].ffn.w_o.weight.data.zero_()


def _check_seq(old_cfg, new_cfg) -> Growth:
    check_same_except(old_cfg, new_cfg, ("d_model", "n_layers", "n_heads", "d_ff"))
    _check_heads(old_cfg, new_cfg)
    return growth_of(old_cfg, new_cfg)


Rule = tuple[Callable[[object, object], Growth], Callable[[SequenceLM, SequenceLM, Growth], None]]
RULES: dict[type, Rule] = {
    TransformerLM: (_check_seq, _grow_transformer),
    PrizmaSeqLM: (_check_seq, _grow_prizma),
}


def _rules(model: SequenceLM) -> Rule:
    rule = RULES.get(type(model))
    if rule is None:
        raise TypeError(f"grow supports {sorted(c.__name__ for c in RULES)}, not {type(model).__name__}")
    return rule


@torch.no_grad()
def grow(model: SequenceLM, new_config, seed: int = 0) -> SequenceLM:
    """A new model at `new_config` computing the same logits as `model` (module docstring).

    Only d_model, n_layers (and n_heads at fixed head_dim, d_ff) may change; every other field
    must match (ValueError naming it). New entries get the fresh initialisation of the grown
    model, drawn under `seed` (the global RNG is left untouched). Same device and dtype as
    `model`; the small model is not modified.
    """
    if not isinstance(model, SequenceLM):
        raise TypeError(f"grow needs a SequenceLM, got {type(model).__name__}")
    if model_class_for(new_config) is not type(model):
        built = model_class_for(new_config).__name__
        raise TypeError(f"new_config builds a {built}, not a {type(model).__name__}")
    check, transfer = _rules(model)
    g = check(model.config, new_config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        new = build_model(new_config)
    ref = next(model.parameters())
    new = new.to(device=ref.device, dtype=ref.dtype)
    transfer(model, new, g)
    new.train(model.training)
    return new


def new_parameter_masks(model: SequenceLM, new_config, seed: int = 0) -> dict[str, torch.Tensor]:
    """name -> bool mask of the grown model's entries that hold no old value (traced: grow a
    NaN-filled copy of `model`; an entry is old iff a NaN landed in it)."""
    marked = copy.deepcopy(model)
    with torch.no_grad():
        for p in marked.parameters():
            p.fill_(float("nan"))
    grown = grow(marked, new_config, seed)
    return {name: ~torch.isnan(p) for name, p in grown.named_parameters()}


from . import grow_prism  # noqa: E402,F401  (registers PrismLM's rules; it imports this module)
