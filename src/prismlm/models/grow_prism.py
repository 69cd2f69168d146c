"""PrismLM's growth rules (both memory kinds), on top of the residual rules of `grow.py`.

* MRB rate groups. The bus splits its d channels into K groups of d/K, group k decaying at
  Δ_k. Growing d moves the group boundaries (k·d/K → k·d'/K), so old channel k·d/K + c must land
  at k·d'/K + c — the same rate — and the new channels of each group are appended inside that
  group: fresh W_in rows, zero W_out columns. K, min_rate and max_rate must not change (the
  rates are a buffer of the config). The gate W_g: d → K only gains input columns.
* Router. Its input is [u ; mean_slots(tape)] of width d + d_mem: the u columns follow the
  reader rule, the tape columns move from offset d to offset d'. Old blocks keep their expert
  lists (new blocks go below the top, memory-less block), so no old router gets a new logit.
* Symbolic expert. Its primitives act on whole d-vectors (compare halves, a softmax-weighted
  select, a mean count, a cyclic shift), so zero padding is not exact. Duplication is: with
  n = d'/d an integer, the three argument vectors are laid out interleaved, a'_{n·i+m} = a_i
  (m < n). Then compare(dupₙ A, dupₙ B) = cos(A, B), softmax(dupₙ a2)·dupₙ a1 = softmax(a2)·a1,
  mean σ(dupₙ a1) = mean σ(a1), and position n·i of roll(dupₙ a1) holds a_{i−1} = roll(a1)_i;
  W_out reads only the first copy (columns n·i), the other copies' columns start at zero.
  Hence PrismLM widens by integer factors, with d even (compare splits d in halves).
* Slot tape / holographic tape. d_mem and num_slots are kept: the holographic read-out scales
  by 1/D and by the tape's RMS with no parameter that could absorb a change of D; the slot
  tape's address softmax over S slots changes with S. What grows is the memory's d_model side.
  Slot expert: proj reads u (reader rule), w_out writes the residual (writer rule).
  Holographic expert: the encoders W_k | W_v | W_q read u (reader rule) — sign codes of
  identical pre-activations are identical — but W_v is also the read-out, y = (√d/D)·r·W_v.
  With W'_v = [W_v, 0] the read-out gives (√d'/D)·r·W_v = √r·y on the old channels and 0 on the
  new ones: exactly the writer rule, since √(d'/d) = √r. So W_v's old columns are copied
  unscaled and its new columns are zero (they get gradient through the read-out).
* Inserted blocks. MRB W_out, the neural W_o and the symbolic W_out are zeroed (identity block).
  A memory write cannot be made an exact no-op (holographic codes are ±1, sign(0) = +1; the
  slot tape's erase gate is a sigmoid) and the top block's router reads the tape summary, so
  the inserted block's route to its memory expert starts closed: router bias −`CLOSED_ROUTE`
  on the memory logit (p_soft ≈ e^−12, never in the top-k while the other logits are within
  12 of each other). The route is learnable — the ε-soft weights and the balance loss give that
  logit a gradient from the first step — and the memory expert learns from the first token the
  router sends it. These memory experts are the one stated exception to "every new parameter
  has a gradient after one step".
"""

from __future__ import annotations

import torch

from ..config import require
from .grow import (
    RULES,
    Growth,
    check_same_except,
    grow_embedding,
    grow_norm,
    grow_swiglu,
    growth_of,
    put,
    read_linear,
    write_linear,
)
from .prism import EXPERT_KINDS, PrismLM

CLOSED_ROUTE = 12.0
"""Negative router bias on an inserted block's memory logit: route closed, gradient alive."""


def _check_prism(old_cfg, new_cfg) -> Growth:
    check_same_except(old_cfg, new_cfg, ("d_model", "n_layers", "init_std"))
    g = growth_of(old_cfg, new_cfg)
    require(g.d_new % g.d == 0, "d_model",
            f"PrismLM widens by integer factors (symbolic primitives), got {g.d} -> {g.d_new}")
    require(g.d % 2 == 0 or g.d_new == g.d, "d_model", f"must be even to widen (compare halves), got {g.d}")
    return g


def _rate_channels(g: Growth, num_rates: int) -> torch.Tensor:
    """New positions of the old MRB channels: channel c of group k stays in group k."""
    w, w_new = g.d // num_rates, g.d_new // num_rates
    return torch.cat([k * w_new + torch.arange(w) for k in range(num_rates)])


def _grow_symbolic(new, old, g: Growth) -> None:
    n = g.d_new // g.d
    i = torch.arange(g.d)
    # a'_{chunk c, n·i + m} = a_{chunk c, i}: every old row of W_arg copied n times.
    rows = torch.cat([c * g.d_new + n * i[:, None] + torch.arange(n) for c in range(3)]).flatten()
    src = torch.cat([c * g.d + i.repeat_interleave(n) for c in range(3)])
    read_linear(new.w_arg, old.w_arg, rows, g.res, src_rows=src)
    read_linear(new.w_sel, old.w_sel, torch.arange(old.w_sel.out_features), g.res)
    write_linear(new.w_out, old.w_out, g, n * i)


def _grow_holo(new, old, g: Growth) -> None:
    D = old.dim
    w_new, w_old = new.memory.encoders.weight.data, old.memory.encoders.weight
    put(w_new, w_old, torch.arange(w_old.shape[0]), g.res)
    w_new[D : 2 * D, g.d :] = 0.0  # W_v is the read-out too: its new columns write the residual


def _grow_block(new, old, g: Growth, num_rates: int, d_mem: int) -> None:
    grow_norm(new.norm_mix, old.norm_mix, g)
    grow_norm(new.norm_route, old.norm_route, g)
    channels = _rate_channels(g, num_rates)
    read_linear(new.mrb.w_in, old.mrb.w_in, channels, g.res)
    read_linear(new.mrb.w_gate, old.mrb.w_gate, torch.arange(num_rates), g.res)
    write_linear(new.mrb.w_out, old.mrb.w_out, g, channels)
    route_cols = torch.cat([g.res, g.d_new + torch.arange(d_mem)])
    read_linear(new.router.proj, old.router.proj, torch.arange(len(old.kinds)), route_cols)
    for e_new, e_old in zip(new.experts, old.experts, strict=True):
        if e_old.kind == "neural":
            grow_swiglu(e_new.mlp, e_old.mlp, g)
        elif e_old.kind == "symbolic":
            _grow_symbolic(e_new, e_old, g)
        elif hasattr(e_old, "memory"):  # holographic
            _grow_holo(e_new, e_old, g)
        else:  # slot tape
            read_linear(e_new.proj, e_old.proj, torch.arange(e_old.proj.out_features), g.res)
            write_linear(e_new.w_out, e_old.w_out, g, torch.arange(d_mem))


def _identity_block(block) -> None:
    """Zero every residual writer of an inserted block and close its route to memory."""
    block.mrb.w_out.weight.data.zero_()
    block.mrb.w_out.bias.data.zero_()
    for e in block.experts:
        if e.kind == "neural":
            e.mlp.w_o.weight.data.zero_()
        elif e.kind == "symbolic":
            e.w_out.weight.data.zero_()
            e.w_out.bias.data.zero_()
    if "memory" in block.kinds:
        block.router.proj.bias.data[block.kinds.index("memory")] = -CLOSED_ROUTE


def _grow_prism(old: PrismLM, new: PrismLM, g: Growth) -> None:
    c = old.config
    grow_embedding(new.embed, old.embed, g)
    grow_norm(new.norm, old.norm, g, final=True)
    if isinstance(old.tape_init, torch.nn.Parameter):
        new.tape_init.data.copy_(old.tape_init)
    for i, j in enumerate(g.block_map):
        assert new.blocks[j].kinds == old.blocks[i].kinds, "old blocks keep their expert lists"
        _grow_block(new.blocks[j], old.blocks[i], g, c.num_rates, c.d_mem)
    for j in g.inserted:
        _identity_block(new.blocks[j])


assert set(EXPERT_KINDS) == {"neural", "memory", "symbolic"}, "grow_prism knows these kinds"
RULES[PrismLM] = (_check_prism, _grow_prism)
