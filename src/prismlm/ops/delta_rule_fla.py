"""flash-linear-attention's gated-delta-rule kernel behind prismlm's delta-rule contract.

`select_backend` is the pure dispatch decision (testable without a GPU); `resolve_backend` adds
the environment (is fla importable?) and the one-time fallback warning; `delta_rule_fla` is the
adapter. fla's `chunk_gated_delta_rule` asserts K ≤ 256 and rejects fp32 inputs, so "auto" uses
it only for bf16/fp16 calls on CUDA whose key width, padded to a multiple of 16, is ≤ 256 — the
char-LM paper config (d_φ = 320) falls back to the chunked form.

Dtypes in the adapter: q, k, v, β go to fla in the activation dtype promote(q, v) (bf16/fp16);
the log-decay g and the initial state in fp32 (fla accumulates its state in fp32 and returns the
final state in fp32). The outputs come back in the activation dtype and S_T in fp32 — the same
contract as `delta_rule_chunked` for half inputs.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F

from .delta_rule import _MIN_DECAY, _check_shapes, contain_nonfinite, poison_outputs

BACKENDS = ("auto", "chunked", "recurrent", "fla")
FLA_MAX_KEY_DIM = 256  # fla's chunk kernels: `assert K <= 256`
FLA_DTYPES = (torch.bfloat16, torch.float16)  # fla: "does not support float32"
_KEY_ALIGN = 16  # keys are zero-padded to a multiple of 16 for fla's tiles

_warned: set[str] = set()


def fla_unsupported_reason(
    device_type: str, dtype: torch.dtype, key_dim: int, fla_installed: bool
) -> str | None:
    """Why fla cannot run a call with these properties, or None when it can."""
    if device_type != "cuda":
        return f"fla runs on CUDA only (device {device_type!r})"
    if not fla_installed:
        return "flash-linear-attention is not installed"
    if dtype not in FLA_DTYPES:
        return f"fla's chunk kernel takes bf16/fp16 inputs only (got {dtype})"
    padded = -(-key_dim // _KEY_ALIGN) * _KEY_ALIGN
    if padded > FLA_MAX_KEY_DIM:
        return f"fla's kernels need K <= {FLA_MAX_KEY_DIM} (K = {key_dim}, padded to {padded})"
    return None


def select_backend(
    requested: str, device_type: str, dtype: torch.dtype, key_dim: int, fla_installed: bool
) -> tuple[str, str | None]:
    """The backend a delta-rule call runs on, and the fallback warning due (or None).

    "auto" -> "fla" where it can run, else "chunked"; a warning is due only when fla is
    installed on a CUDA device but cannot take this shape or dtype (on CPU the chunked form is
    simply the path). An explicit "fla" that cannot run is a ValueError naming the reason.
    """
    if requested not in BACKENDS:
        raise ValueError(f"unknown delta-rule backend {requested!r}; choose from {BACKENDS}")
    if requested not in ("auto", "fla"):
        return requested, None
    reason = fla_unsupported_reason(device_type, dtype, key_dim, fla_installed)
    if reason is None:
        return "fla", None
    if requested == "fla":
        raise ValueError(f"backend='fla' cannot run this call: {reason}")
    due = device_type == "cuda" and fla_installed
    return "chunked", (f"delta_rule: falling back to the chunked form: {reason}" if due else None)


def warn_once(message: str) -> None:
    """Emit `message` as a RuntimeWarning the first time it is seen in this process."""
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def fla_installed() -> bool:
    try:
        import fla.ops.gated_delta_rule  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_backend(requested: str, q: torch.Tensor, v: torch.Tensor) -> str:
    """`select_backend` for these tensors; emits its fallback warning once."""
    device_type = q.device.type
    installed = device_type == "cuda" and requested in ("auto", "fla") and fla_installed()
    backend, warning = select_backend(
        requested, device_type, torch.promote_types(q.dtype, v.dtype), q.shape[-1], installed
    )
    if warning is not None:
        warn_once(warning)
    return backend


def delta_rule_fla(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    alpha: torch.Tensor | None = None,
    initial_state: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """flash-linear-attention's `chunk_gated_delta_rule`, adapted to the pre-write read.

    fla reads after the write (o'_t = S_t q_t). Shifting the queries one step left
    (q'_t = q_{t+1}, q'_{T−1} = 0) and the outputs one step right gives o_t = o'_{t−1} for t ≥ 1,
    and o_0 = S_0 q_0 is computed directly. fla's state is [K, V]; ours is [V, K]. Key widths are
    zero-padded to a multiple of 16 (exact: zero coordinates change no dot product).
    Returns (o [B, H, T, V] in promote(q, v).dtype, S_T [B, H, V, K] in fp32).
    """
    _check_shapes(q, k, v, beta, alpha, initial_state)
    B, H, T, K = q.shape
    act = torch.promote_types(q.dtype, v.dtype)
    reason = fla_unsupported_reason(q.device.type, act, K, fla_installed())
    if reason is not None:
        raise ValueError(f"delta_rule_fla cannot run this call: {reason}")
    s0 = None if initial_state is None else initial_state.float()
    if T == 0:
        return v.new_zeros(v.shape, dtype=act), (
            s0 if s0 is not None else q.new_zeros(B, H, v.shape[-1], K, dtype=torch.float32)
        )
    from fla.ops.gated_delta_rule import chunk_gated_delta_rule

    k, v, beta, alpha, bad = contain_nonfinite(k, v, beta, alpha)
    K_pad = -(-K // _KEY_ALIGN) * _KEY_ALIGN
    q_in, k_in = q.to(act), k.to(act)
    if K_pad != K:
        q_in, k_in = F.pad(q_in, (0, K_pad - K)), F.pad(k_in, (0, K_pad - K))
    q_shift = F.pad(q_in[:, :, 1:], (0, 0, 0, 1))
    g = torch.zeros_like(beta, dtype=torch.float32)
    if alpha is not None:
        g = torch.log(alpha.float().clamp_min(_MIN_DECAY))
    s0_kv = None if s0 is None else F.pad(s0, (0, K_pad - K)).transpose(-1, -2).contiguous()

    def btd(x: torch.Tensor) -> torch.Tensor:  # [B, H, T, ...] -> [B, T, H, ...]
        return x.transpose(1, 2).contiguous()

    o_post, s_end = chunk_gated_delta_rule(
        btd(q_shift), btd(k_in), btd(v.to(act)), g=btd(g), beta=btd(beta.to(act)), scale=1.0,
        initial_state=s0_kv, output_final_state=True, use_qk_l2norm_in_kernel=False,
    )
    o_post = o_post.transpose(1, 2)
    if s0 is None:
        o_first = torch.zeros_like(o_post[:, :, :1])
    else:  # S_0 q_0 in fp32, like the state
        o_first = (s0 @ q[:, :, 0, :, None].float()).transpose(-1, -2)
    o = torch.cat((o_first.to(act), o_post[:, :, :-1].to(act)), dim=2)
    return poison_outputs(o, s_end.float().transpose(-1, -2)[..., :K], bad)
