"""The Prizma-Seq mixer: a gated delta rule on a parameter-free quadratic feature map, plus an
exact sliding-window attention head, sharing one set of q, k, v.

Per block (x̂ = RMSNorm(h) is computed by the caller):
    x      = SiLU(ShortConv_kc(x̂))                            [B, T, d]
    q,k,v  = W_qkv x, per-head interleaved; q, k ← q/‖q‖, k/‖k‖  [B, H, T, d_h]
    β      = β_cap · σ(W_β x)                                  [B, H, T]
    α      = 0.5 + 0.5 · σ(W_α x)   (gated) else 1             [B, H, T]
    β^e    = β (delta) | 0 (additive) | β_cap · σ(W_e x) (decoupled_gate)   erase strength
    o_Δ    = DeltaRule(φ(q), φ(k), v, β, α, β^e)   S ∈ R^{d_h × d_φ} per head (pre-write read)
    o_Δ    = RMSNorm_{d_h}(o_Δ)     (state_norm; one gain shared by the heads)
    o_w    = SlidingWindowAttention_w(q, k, v)                  (linear q, k; scale 1/√d_h)
    o      = merge_heads(o_Δ + o_w)
    o      = o ⊙ σ(W_g x̂)          (out_gate; reads the PRE-conv input x̂)
    out    = W_o o

φ adds no trainable parameters (its tensors are buffers). Parameters per mixer:
3d² (W_qkv) + d² (W_o) + dH + H (W_β) + d·k_c + d (conv), plus dH + H (W_α, gated),
dH + H (W_e, decoupled_gate), d² + d (W_g, out_gate), d_h (state_norm).
`step` decodes one token; for inference on CPU it runs as two fused kernels
(ops.mixer_step_cpu), with the torch form below as their reference and as the path for
autograd, autocast, GPU and `torch.compile`.
Switches for the spec's ablations and the v2 levers, all off by default: `feat_map`,
`use_window`, `gated`, `short_conv` (0 = off), `write_mode`, `decoupled_gate`, `out_gate`,
`state_norm`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..ops.cpu_kernels import kernels_enabled
from ..ops.delta_rule import delta_rule, delta_rule_step
from ..ops.delta_step_fused import can_fuse, decode_features, delta_step_, pair_index
from ..ops.feature_maps import apply_feature_map, feature_dim, l2_normalize, make_feature_buffers
from ..ops.mixer_step_cpu import FEATURE_CODES, conv_silu_step, mixer_core_step
from ..ops.window_attention import sliding_window_attention
from .decode_weights import decode_weights
from .norm import RMSNorm
from .short_conv import ShortConv

WRITE_MODES = ("delta", "additive")


@dataclass
class MixerState:
    """Decode state of one mixer. S: [B, H, d_h, d_φ]; conv_ring: [B, k_c−1, d];
    window_k/v: [B, H, w, d_h] ring buffers (slot = position mod w); window_valid: [w] bool."""

    S: torch.Tensor
    conv_ring: torch.Tensor | None
    window_k: torch.Tensor | None
    window_v: torch.Tensor | None
    window_valid: torch.Tensor | None
    position: int = 0
    _views: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def apply(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """Replace every tensor held by `fn(tensor)` (e.g. a device move)."""
        for name in ("S", "conv_ring", "window_k", "window_v", "window_valid"):
            if getattr(self, name) is not None:
                setattr(self, name, fn(getattr(self, name)))

    def step_views(self) -> tuple:
        """(Sᵀ as [B·H, d_φ, d_h], per-slot views window_k[:, :, s:s+1], same for window_v):
        views of this state's own tensors that the decode step would otherwise remake every
        token (a view op costs ~5–10 µs here). Made once; remade when a tensor is replaced."""
        held = (self.S, self.window_k, self.window_v)
        if self._views is None or any(a is not b for a, b in zip(self._views[0], held, strict=True)):
            B, H, V, K = self.S.shape
            slots = ((), ()) if self.window_k is None else tuple(
                [ring[:, :, s : s + 1] for s in range(ring.shape[2])]
                for ring in (self.window_k, self.window_v))
            self._views = (held, self.S.view(B * H, V, K).transpose(1, 2), *slots)
        return self._views[1:]


class PrizmaMixer(nn.Module):
    """The Prizma-Seq mixer (module docstring): xn [B, T, d] -> [B, T, d], or one row [B, d] per
    `step`, which updates a `MixerState` in place. Arguments map to `PrizmaSeqConfig` fields."""

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        feat_map: str = "quad2",
        feat_n2: int = 224,
        feat_seed: int = 1234,
        window: int = 16,
        use_window: bool = True,
        gated: bool = False,
        short_conv: int = 4,
        chunk_size: int = 64,
        beta_cap: float = 0.99,
        backend: str = "auto",
        feat_rank: int = 0,
        write_mode: str = "delta",
        decoupled_gate: bool = False,
        out_gate: bool = False,
        state_norm: bool = False,
    ) -> None:
        super().__init__()
        if write_mode not in WRITE_MODES:
            raise ValueError(f"write_mode: unknown {write_mode!r}; choose from {WRITE_MODES}")
        if decoupled_gate and write_mode == "additive":
            raise ValueError("decoupled_gate: an additive write has no erase to gate")
        self.d_model, self.n_heads = d_model, n_heads
        self.head_dim = d_model // n_heads
        self.feat_map, self.window, self.use_window = feat_map, window, use_window
        self.gated, self.chunk_size, self.beta_cap, self.backend = gated, chunk_size, beta_cap, backend
        self.write_mode = write_mode
        self.feat_dim = feature_dim(feat_map, self.head_dim, feat_n2, feat_rank)
        buffers = make_feature_buffers(feat_map, self.head_dim, feat_n2, feat_seed, feat_rank)
        for name, tensor in buffers.items():
            self.register_buffer(name, tensor)
        self.conv = ShortConv(d_model, short_conv) if short_conv > 0 else None
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.beta_proj = nn.Linear(d_model, n_heads)
        self.alpha_proj = nn.Linear(d_model, n_heads) if gated else None
        self.out = nn.Linear(d_model, d_model, bias=False)
        # The v2 levers (None when off, so the default model draws and holds nothing extra).
        self.erase_proj = nn.Linear(d_model, n_heads) if decoupled_gate else None
        self.gate_proj = nn.Linear(d_model, d_model) if out_gate else None
        self.state_norm = RMSNorm(self.head_dim) if state_norm else None

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return apply_feature_map(self.feat_map, x, self._buffers)

    def _activate(self, sig_beta, sig_alpha, sig_erase):
        """σ of the gate logits [..., H] (σ_α, σ_e None when off) -> (β / β_cap, α or None,
        β^e / β_cap or None), None for β^e meaning β^e = β. The strengths come before the cap,
        which the caller applies: `_gates` multiplies, the decode step folds it into the write."""
        alpha = None if sig_alpha is None else 0.5 + 0.5 * sig_alpha
        if self.write_mode == "additive":
            return sig_beta, alpha, torch.zeros_like(sig_beta)
        return sig_beta, alpha, sig_erase

    def _gates(self, x: torch.Tensor):
        """x: [B, T, d] -> (β, α, β^e), each [B, H, T] or None."""
        sig = [None if proj is None else torch.sigmoid(proj(x))
               for proj in (self.beta_proj, self.alpha_proj, self.erase_proj)]
        beta, alpha, erase = self._activate(*sig)
        gates = (self.beta_cap * beta, alpha, None if erase is None else self.beta_cap * erase)
        return [None if g is None else g.transpose(1, 2) for g in gates]

    def forward(self, xn: torch.Tensor, return_state: bool = False):
        """xn: normalised input [B, T, d] -> [B, T, d].

        With return_state, also returns the `MixerState` after position T−1 (parallel prefill).
        """
        B, T, d = xn.shape
        x = F.silu(self.conv(xn)) if self.conv is not None else xn
        qkv = self.qkv(x).view(B, T, self.n_heads, 3, self.head_dim).permute(3, 0, 2, 1, 4)
        q, k, v = l2_normalize(qkv[0]), l2_normalize(qkv[1]), qkv[2]  # [B, H, T, d_h]
        phi_q, phi_k = self._features(q), self._features(k)
        beta, alpha, erase = self._gates(x)
        o, S = delta_rule(
            phi_q, phi_k, v, beta, alpha, chunk_size=self.chunk_size, backend=self.backend,
            erase=erase,
        )
        if self.state_norm is not None:
            o = self.state_norm(o)
        if self.use_window:
            o = o + sliding_window_attention(q, k, v, self.window)
        o = o.transpose(1, 2).reshape(B, T, d)
        if self.gate_proj is not None:
            o = o * torch.sigmoid(self.gate_proj(xn))
        out = self.out(o)
        return (out, self._state_after(xn, k, v, S)) if return_state else out

    def _state_after(self, xn, k, v, S) -> MixerState:
        """The decode state after consuming a whole segment (what `step` would have built)."""
        B, T, _ = xn.shape
        state = self.init_state(B, xn.device, xn.dtype)
        state.S, state.position = S, T
        if self.conv is not None and self.conv.kernel_size > 1:
            keep = min(T, self.conv.kernel_size - 1)
            state.conv_ring[:, -keep:] = xn[:, T - keep :]
        if self.use_window:
            positions = torch.arange(max(0, T - self.window), T, device=xn.device)
            slots = positions % self.window
            state.window_k[:, :, slots] = k[:, :, positions]
            state.window_v[:, :, slots] = v[:, :, positions]
            state.window_valid[slots] = True
        return state

    def init_state(self, batch: int, device=None, dtype=torch.float32) -> MixerState:
        H, dh = self.n_heads, self.head_dim
        zeros = dict(device=device, dtype=dtype)
        return MixerState(
            S=torch.zeros(batch, H, dh, self.feat_dim, **zeros),
            conv_ring=self.conv.init_ring(batch, self.d_model, device, dtype) if self.conv else None,
            window_k=torch.zeros(batch, H, self.window, dh, **zeros) if self.use_window else None,
            window_v=torch.zeros(batch, H, self.window, dh, **zeros) if self.use_window else None,
            window_valid=(
                torch.zeros(self.window, dtype=torch.bool, device=device) if self.use_window else None
            ),
        )

    def _fused_out_gate(self) -> bool:
        """W_g joins the fused input matmul only when it reads the same input (no conv)."""
        return self.gate_proj is not None and self.conv is None

    def _decode_gates(self) -> list[nn.Linear]:
        """The gate projections that read x, in their column order of the decode matmul."""
        gates = [g for g in (self.beta_proj, self.alpha_proj, self.erase_proj) if g is not None]
        return gates + [self.gate_proj] if self._fused_out_gate() else gates

    def _gate_columns(self) -> tuple[int, int, int]:
        """Where the α logits, the β^e logits and the fused out gate start in the decode matmul's
        output z (−1 when absent); β's logits are columns 3d .. 3d+H (see `_decode_layout`)."""
        col, starts = 3 * self.d_model + self.n_heads, []
        for proj in (self.alpha_proj, self.erase_proj):
            starts.append(col if proj is not None else -1)
            col += self.n_heads if proj is not None else 0
        return starts[0], starts[1], col if self._fused_out_gate() else -1

    def _decode_layout(self) -> dict[str, torch.Tensor]:
        """W_qkv and the gates that read x, fused into one pre-transposed matrix with one bias
        vector. Columns: [q_0 k_0 q_1 k_1 … | v_0 v_1 … | β (α) (β^e) (g)] — q and k of every
        head side by side so they normalise (and gather their monomials) together, v whole,
        then every gate logit (all of them go through one sigmoid). An out gate behind a conv
        reads x̂, not x, so it keeps its own pre-transposed matrix (w_gate, b_gate). The conv's
        taps and quad2's pair index ride along (one cache entry per mixer)."""
        H, dh, d = self.n_heads, self.head_dim, self.d_model
        heads = self.qkv.weight.view(H, 3, dh, d)  # the training layout: per head [q; k; v]
        gates = self._decode_gates()
        weight = torch.cat([heads[:, :2].reshape(2 * d, d), heads[:, 2].reshape(d, d)]
                           + [g.weight for g in gates])
        bias = torch.cat([weight.new_zeros(3 * d)] + [g.bias for g in gates])
        layout = {"w_in": weight.t().contiguous(), "b_in": bias, "w_out": self.out.weight.t().contiguous()}
        if self.conv is not None:
            layout["conv_taps"] = self.conv.decode_taps()
        if self.feat_map in ("quad2", "quad2_lowrank"):
            layout["pairs"] = pair_index(self._buffers)
        if self.gate_proj is not None and not self._fused_out_gate():
            layout["w_gate"], layout["b_gate"] = self.gate_proj.weight.t().contiguous(), self.gate_proj.bias
        return layout

    def step(
        self, xn_t: torch.Tensor, state: MixerState, residual: torch.Tensor | None = None
    ) -> torch.Tensor:
        """xn_t: normalised input [B, d] -> [B, d] (plus `residual` [B, d] when given: the add
        joins the output matmul); updates `state` in place."""
        B, d = xn_t.shape
        H, dh = self.n_heads, self.head_dim
        w = decode_weights(self, self._decode_layout)
        if self._kernel_ready(xn_t, state):
            return self._kernel_step(xn_t, state, residual, w)
        if self.conv is not None:
            x, ring = self.conv.step(xn_t, state.conv_ring, w["conv_taps"])
            # compiled: keep the ring's layout that of init_state (a stride change recompiles)
            state.conv_ring = ring.contiguous() if torch.compiler.is_compiling() else ring
            x = F.silu(x)
        else:
            x = xn_t
        z = torch.addmm(w["b_in"], x, w["w_in"])  # [B, 3d + gates]
        qk, v, gates = z.split((2 * d, d, z.shape[1] - 3 * d), dim=1)
        rows = l2_normalize(qk.reshape(-1, dh))  # [B·H·2, d_h]: every q and k normalised together
        qk, v = rows.view(B, H, 2, dh), v.view(B, H, dh)
        gates = torch.sigmoid(gates)  # σ of every gate logit in one op; columns as in the layout
        alpha_col, erase_col, gate_col = (c - 3 * d for c in self._gate_columns())  # into `gates`
        sig = [gates if gates.shape[1] == H else gates[:, :H]]
        sig += [None if c < 0 else gates[:, c : c + H] for c in (alpha_col, erase_col)]
        beta, alpha, erase = self._activate(*sig)  # before the cap: the write applies it
        phi = decode_features(self.feat_map, rows, self._buffers, w.get("pairs")).view(B, H, 2, -1)
        k_slots = None  # the cached views are an eager-only saving (the compiler fuses views)
        if can_fuse(phi, v, beta, alpha, state.S, erase):  # S updated in place, no new tensor
            state_t = None
            if not torch.compiler.is_compiling():
                state_t, k_slots, v_slots = state.step_views()
            o = delta_step_(phi, v, beta, alpha, state.S, erase, self.beta_cap, state_t)
        else:
            cap = self.beta_cap
            o, state.S = delta_rule_step(phi[:, :, 0], phi[:, :, 1], v, cap * beta, alpha, state.S,
                                         None if erase is None else cap * erase)
        if self.state_norm is not None:
            o = self.state_norm(o)
        if self.use_window:
            slot = state.position % self.window  # slices, not an index: no recompile per slot
            if k_slots is not None:  # no autograd, eager: write through the cached slot views
                k_slots[slot].copy_(qk[:, :, 1:])
                v_slots[slot].copy_(v[:, :, None])
            else:
                state.window_k[:, :, slot : slot + 1] = qk[:, :, 1:]
                state.window_v[:, :, slot : slot + 1] = v[:, :, None]
            mask = None  # once every slot holds a real position, no mask is needed
            if state.position < self.window:
                state.window_valid[slot : slot + 1] = True
                mask = state.window_valid[None]
            o = o + F.scaled_dot_product_attention(
                qk[:, :, :1], state.window_k, state.window_v, attn_mask=mask
            ).squeeze(2)
        state.position += 1
        o = o.reshape(B, d)
        if self.gate_proj is not None:
            o = o * (gates[:, gate_col:] if gate_col >= 0
                     else torch.sigmoid(torch.addmm(w["b_gate"], xn_t, w["w_gate"])))
        return o @ w["w_out"] if residual is None else torch.addmm(residual, o, w["w_out"])

    def _kernel_ready(self, xn_t: torch.Tensor, state: MixerState) -> bool:
        """Whether `step` may run as the fused CPU kernels (ops.mixer_step_cpu): inference on
        CPU in fp32/fp64, a feature map they compute, and no compiler tracing."""
        if torch.compiler.is_compiling():  # first: nothing below is traced
            return False
        if not kernels_enabled() or self.feat_map not in FEATURE_CODES or xn_t.device.type != "cpu":
            return False
        if torch.is_autocast_enabled("cpu"):
            return False
        dtype = xn_t.dtype
        if (dtype is not torch.float32 and dtype is not torch.float64) or state.S.dtype is not dtype:
            return False
        held = [t for t in (state.S, state.conv_ring, state.window_k, state.window_v) if t is not None]
        if any(t.requires_grad for t in held):  # a state inside a graph: numpy cannot touch it
            return False
        if torch.is_grad_enabled() and (xn_t.requires_grad
                                        or any(p.requires_grad for p in self.parameters())):
            return False
        return state.S.is_contiguous()

    def _kernel_arrays(self, w: dict, dtype: torch.dtype) -> tuple:
        """The kernels' constant inputs as numpy arrays, kept in the decode layout `w` (which
        is rebuilt, and these with it, whenever a parameter changes)."""
        cached = w.get("kernel")
        if cached is None or cached[0] is not dtype:
            def arr(t):
                return t.detach().to(dtype).contiguous().numpy()
            np_dtype = arr(torch.zeros(1)).dtype
            code = FEATURE_CODES[self.feat_map]
            pairs = w["pairs"].numpy() if "pairs" in w else np.zeros(0, np.int64)
            lift = arr(self._buffers["lift"]) if code == 1 else np.zeros((1, 1), np_dtype)
            gain, eps = ((arr(self.state_norm.weight), self.state_norm.eps) if self.state_norm
                         is not None else (np.zeros(1, np_dtype), 0.0))
            conv = ((arr(w["conv_taps"]), arr(self.conv.conv.bias)) if self.conv is not None else None)
            alpha_col, erase_col, _ = self._gate_columns()
            empty_ring = np.zeros((1, 1, 1, 1), np_dtype)
            cached = (dtype, conv, (code, pairs, lift, float(self.beta_cap), alpha_col, erase_col,
                                    self.write_mode == "additive", gain, float(eps)), empty_ring)
            w["kernel"] = cached
        return cached[1:]

    def _kernel_step(self, xn_t, state: MixerState, residual, w: dict) -> torch.Tensor:
        """`step` as the fused CPU kernels (module ops.mixer_step_cpu): the same maths."""
        B, d = xn_t.shape
        conv, core, empty_ring = self._kernel_arrays(w, xn_t.dtype)
        x = xn_t
        if conv is not None:
            if not state.conv_ring.is_contiguous():  # a ring the torch form left as a view
                state.conv_ring = state.conv_ring.contiguous()
            x = torch.empty_like(xn_t)
            conv_silu_step(xn_t.detach().contiguous().numpy(), state.conv_ring.numpy(), *conv, x.numpy())
        z = torch.addmm(w["b_in"], x, w["w_in"])
        o = torch.empty(B, d, dtype=xn_t.dtype)
        if self.use_window:
            slot, n_valid = state.position % self.window, min(state.position + 1, self.window)
            rings = (state.window_k.numpy(), state.window_v.numpy())
            if state.position < self.window:
                state.window_valid[slot] = True
        else:
            slot, n_valid, rings = -1, 0, (empty_ring, empty_ring)
        mixer_core_step(z.numpy(), state.S.numpy(), *rings, o.numpy(), *core, slot, n_valid)
        state.position += 1
        if self.gate_proj is not None:
            gate_col = self._gate_columns()[2]
            gate = z[:, gate_col:] if gate_col >= 0 else torch.addmm(w["b_gate"], xn_t, w["w_gate"])
            o = o * torch.sigmoid(gate)
        return o @ w["w_out"] if residual is None else torch.addmm(residual, o, w["w_out"])
