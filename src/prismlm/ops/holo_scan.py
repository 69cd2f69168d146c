"""The causal holographic (MAP) memory scan: bind, superpose, normalised unbind, read-out.

Keys k_t, values v_t and queries q_t are bipolar codes in {−1, +1}^D (any real values work; the
algebra is exact for bipolar ones); g_t ≥ 0 is an optional write gate (a route weight). With an
initial tape H_0 (zero by default):

    H_t = H_0 + Σ_{s ≤ t} g_s · (k_s ⊙ v_s)          causal superposition of bound pairs
    r_t = q_t ⊙ H_t / max(‖H_t‖ / √D, ε)             MAP unbind, normalised by the tape's RMS
    y_t = (√d / D) · r_t W                           read-out through a value encoder W: [D, d]

H_t includes the write at t (write before read), so a layer that must not read its own write
shifts its keys (see `layers/holo_memory.HoloMemory`, `key_shift`). If q_t = k_s for one stored
pair, r_t = v_s + cross-talk, and with W the value encoder (v = sign(W x)), y_t ≈ √(2/π)·x/‖x‖
per unit of signal: a recalled value lands near the input that wrote it.

Forms:
* `holo_scan` — chunks of C positions: a cumulative sum inside each chunk plus the carried
  tape, so only a [B, C, D] slice of H exists at a time when a read-out W is given.
* `holo_scan_naive` — the per-token loop (reference; test oracle).
* `causal_superpose`, `normalized_unbind`, `holo_readout` — the three steps, used directly by
  layers whose tape must be materialised (PRISM's shared thread).

Shapes: keys, values, queries: [B, T, D]; gates: [B, T] or None; h0: [B, D], [D] or None;
readout: [D, d] or None. Outputs: (y [B, T, d] — or r [B, T, D] without readout — , H_T [B, D]).
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "READ_EPS",
    "causal_superpose",
    "normalized_unbind",
    "holo_readout",
    "holo_scan",
    "holo_scan_naive",
]

READ_EPS = 1e-6  # floor on ‖H‖/√D: an empty tape reads 0 instead of 0/0


def _check(keys, values, queries, gates, h0, readout) -> None:
    if keys.dim() != 3 or keys.shape != values.shape or keys.shape != queries.shape:
        raise ValueError(
            "keys, values and queries must share a [B, T, D] shape, got "
            f"{tuple(keys.shape)}, {tuple(values.shape)}, {tuple(queries.shape)}"
        )
    b, t, d = keys.shape
    if gates is not None and gates.shape != (b, t):
        raise ValueError(f"gates must be [B, T] = [{b}, {t}], got {tuple(gates.shape)}")
    if h0 is not None and h0.shape not in ((d,), (b, d)):
        raise ValueError(f"h0 must be [{d}] or [{b}, {d}], got {tuple(h0.shape)}")
    if readout is not None and (readout.dim() != 2 or readout.shape[0] != d):
        raise ValueError(f"readout must be [D={d}, d], got {tuple(readout.shape)}")


def causal_superpose(writes: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """H_t = H_0 + Σ_{s≤t} writes_s. writes: [B, T, D], h0: [B, D] | [D] | None -> [B, T, D]."""
    h = torch.cumsum(writes, dim=1)
    return h if h0 is None else h + h0.expand(writes.shape[0], -1)[:, None]


def normalized_unbind(queries: torch.Tensor, tape: torch.Tensor, eps: float = READ_EPS) -> torch.Tensor:
    """r = q ⊙ H / max(‖H‖/√D, eps). queries, tape: [..., D] -> [..., D].

    Dividing by the RMS keeps the read O(1) however many facts are superposed (‖H‖ grows like
    √N), so the layer's output scale does not drift with the sequence length.
    """
    rms = tape.norm(dim=-1, keepdim=True) / math.sqrt(tape.shape[-1])
    return queries * tape / rms.clamp_min(eps)


def holo_readout(reads: torch.Tensor, readout: torch.Tensor) -> torch.Tensor:
    """y = (√d / D) · r W. reads: [..., D], readout W: [D, d] -> [..., d].

    The scale makes y of order one: r W sums D terms of size O(1/√d) (W ~ N(0, 1/d)), of which
    the recalled value's D are aligned.
    """
    return (reads @ readout) * (math.sqrt(readout.shape[1]) / readout.shape[0])


def holo_scan(
    keys: torch.Tensor,
    values: torch.Tensor,
    queries: torch.Tensor,
    readout: torch.Tensor | None = None,
    h0: torch.Tensor | None = None,
    gates: torch.Tensor | None = None,
    chunk: int = 128,
    eps: float = READ_EPS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Chunked causal scan (module docstring). Returns (y [B, T, d] or r [B, T, D], H_T [B, D])."""
    _check(keys, values, queries, gates, h0, readout)
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    b, t, d = keys.shape
    writes = keys * values if gates is None else keys * values * gates[..., None]
    carry = keys.new_zeros(b, d) if h0 is None else h0.to(keys.dtype).expand(b, d)
    outs = []
    for c in range(0, t, chunk):
        h = causal_superpose(writes[:, c : c + chunk], carry)
        r = normalized_unbind(queries[:, c : c + chunk], h, eps)
        outs.append(r if readout is None else holo_readout(r, readout))
        carry = h[:, -1]
    return torch.cat(outs, dim=1), carry


def holo_scan_naive(
    keys: torch.Tensor,
    values: torch.Tensor,
    queries: torch.Tensor,
    readout: torch.Tensor | None = None,
    h0: torch.Tensor | None = None,
    gates: torch.Tensor | None = None,
    eps: float = READ_EPS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference: one position at a time, the equations written out. Same contract as holo_scan."""
    _check(keys, values, queries, gates, h0, readout)
    b, t, d = keys.shape
    h = keys.new_zeros(b, d) if h0 is None else h0.to(keys.dtype).expand(b, d)
    outs = []
    for i in range(t):
        g = 1.0 if gates is None else gates[:, i, None]
        h = h + g * keys[:, i] * values[:, i]
        rms = h.norm(dim=-1, keepdim=True) / math.sqrt(d)
        r = queries[:, i] * h / torch.clamp(rms, min=eps)
        if readout is not None:
            r = r @ readout * math.sqrt(readout.shape[1]) / d
        outs.append(r)
    return torch.stack(outs, dim=1), h
