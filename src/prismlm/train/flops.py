"""Training FLOPs and model FLOP utilisation (MFU), from the standard estimate.

Per trained token (forward + backward, Kaplan et al. / PaLM appendix B):

    flops/token = 6 · N  +  12 · L · d · T_ctx

N: every parameter counted once (the embedding table enters as the tied output head's V·d matmul)
except a learned positional table; L: number of blocks, d: model width, T_ctx:
the sequence length. The second term is softmax attention's QKᵀ and AV products (no causal halving)
(2·2·T·d per layer forward, times 3 for forward + backward), with T_ctx the span a token
attends over (`attention_context`): the sequence for the Transformer, the local window for
Prizma-Seq's windowed attention, 0 for PRISM and the SSM, whose recurrent scans cost O(d) per
token and channel, already of the order of the 6N term.

MFU = achieved FLOP/s / peak FLOP/s of the device, achieved FLOP/s = flops/token · tokens/s.
The estimate ignores norms, gates and routing (a few % at most).

Peak dense bf16 FLOP/s for a few accelerators are listed in PEAK_FLOPS (vendor figures, without
sparsity); `TrainConfig.peak_flops` overrides, and on CPU there is no peak, hence no MFU.
"""

from __future__ import annotations

import torch
from torch import nn

PEAK_FLOPS = {  # dense bf16, no sparsity (vendor datasheets)
    "H200": 989e12,
    "H100": 989e12,
    "A100": 312e12,
    "L40S": 362e12,
    "A10G": 125e12,
}


def flops_per_token(model: nn.Module, seq_len: int) -> float:
    """Training FLOPs per token: 6·N (+ 12·L·d·T for attention models), see the module doc."""
    # the embedding lookup costs nothing, but the tied head (the same matrix) is a V·d matmul, so
    # the table stays in N once; a learned positional table is only added, so it leaves N
    n = sum(p.numel() for p in model.parameters())
    cfg = getattr(model, "config", None)
    pos = getattr(model, "pos_embed", None)
    if isinstance(pos, nn.Embedding):
        n -= pos.weight.numel()
    flops = 6.0 * n
    ctx = attention_context(model, seq_len)
    if ctx:
        flops += 12.0 * cfg.n_layers * cfg.d_model * ctx
    return flops


def attention_context(model: nn.Module, seq_len: int) -> int:
    """Positions each token's softmax attention spans (0: the model does not attend)."""
    from ..models.prizma_seq import PrizmaSeqLM
    from ..models.transformer import TransformerLM

    if isinstance(model, TransformerLM):
        return seq_len
    if isinstance(model, PrizmaSeqLM) and model.config.use_window:
        return min(model.config.window, seq_len)
    return 0


def peak_flops(device: torch.device, override: float = 0.0) -> float | None:
    """Peak FLOP/s of `device`: the override when > 0, the table for known GPUs, else None."""
    if override > 0:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_FLOPS.items() if k in name), None)


def mfu(tokens_per_s: float, per_token: float, peak: float | None) -> float | None:
    """Achieved / peak FLOP/s, or None without a peak."""
    return None if not peak else tokens_per_s * per_token / peak
