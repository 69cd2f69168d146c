"""Causal sliding-window softmax attention: query i attends to keys j with i − w < j ≤ i.

q, k: [B, H, T, D]; v: [B, H, T, Dv]. Two forms:
* `sliding_window_attention_reference` — dense T×T band mask (O(T²), obviously correct).
* `sliding_window_attention` — blocked O(T·w): each block of w queries sees its own block and
  the previous one (2w keys), masked to the band.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _band_mask(t_q: torch.Tensor, t_k: torch.Tensor, window: int) -> torch.Tensor:
    delta = t_q[:, None] - t_k[None, :]
    return (delta >= 0) & (delta < window)


def sliding_window_attention_reference(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int, scale: float | None = None
) -> torch.Tensor:
    """Dense-mask form. Returns [B, H, T, Dv]."""
    T = q.shape[2]
    pos = torch.arange(T, device=q.device)
    mask = _band_mask(pos, pos, window)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)


def sliding_window_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int, scale: float | None = None
) -> torch.Tensor:
    """Blocked form, equal to the reference. Returns [B, H, T, Dv]."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    B, H, T, D = q.shape
    if T <= 2 * window:
        return sliding_window_attention_reference(q, k, v, window, scale)
    W = window
    N = -(-T // W)
    pad = N * W - T
    # Keys/values get one extra leading block of zeros (always masked) so block n can look back.
    qb = F.pad(q, (0, 0, 0, pad)).reshape(B, H, N, W, D)
    kp = F.pad(k, (0, 0, W, pad))
    vp = F.pad(v, (0, 0, W, pad))
    kb = torch.cat((kp[:, :, :-W].reshape(B, H, N, W, D), kp[:, :, W:].reshape(B, H, N, W, D)), 3)
    vb = torch.cat(
        (vp[:, :, :-W].reshape(B, H, N, W, -1), vp[:, :, W:].reshape(B, H, N, W, -1)), 3
    )
    # Within a block: query offset i ∈ [0, W), key offset j ∈ [0, 2W) ↔ position j − W.
    mask = _band_mask(
        torch.arange(W, device=q.device) + W, torch.arange(2 * W, device=q.device), W
    )
    masks = mask.expand(N, W, 2 * W).clone()
    masks[0, :, :W] = False  # block 0 has no previous block
    out = F.scaled_dot_product_attention(qb, kb, vb, attn_mask=masks, scale=scale)
    return out.reshape(B, H, N * W, -1)[:, :, :T]
