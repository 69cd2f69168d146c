"""Pure tensor functions, each fast form beside the plain loop it must agree with.

    delta rule        o, S = delta_rule(q, k, v, beta, alpha, S0, erase=None)   o_t = S_{t-1} q_t, then S_t
    feature maps      phi = apply_feature_map("quad2", x, buffers)              parameter-free monomials
                      (FEATURE_MAPS: none, quad2, quad2_lowrank, rand_linear)
    window attention  sliding_window_attention(q, k, v, window)                 exact w-token causal window
    multi-rate scan   h = multirate_scan_chunked(z, rates)                       h_t = γ h_{t-1} + (1-γ) z_t
    tape scan         M = tape_scan(a, b, m0)                                    M_t = A_t ⊙ M_{t-1} + B_t
    tape writes       M, mean = tape_from_writes(writes, m0)                     rank-1 writes, no full maps
    decode step       o = delta_step_(phi, v, beta, alpha, S, erase)             the delta step, S in place
    CPU kernels       mixer_step_cpu / attention_step_cpu (numba)                fused decode steps, eager CPU
    holographic scan  y, H = holo_scan(keys, values, queries)                    H_t = Σ_{s≤t} k_s ⊙ v_s
    VSA algebra       map_bind / hrr_bind / superpose / cleanup                  MAP and HRR binding

Every public op is exported here; `*_recurrent`, `*_reference` and `*_naive` are the references.
"""

from .delta_rule import delta_rule, delta_rule_chunked, delta_rule_recurrent, delta_rule_step
from .delta_step_fused import delta_step_
from .feature_maps import FEATURE_MAPS, apply_feature_map, feature_dim, make_feature_buffers
from .holo_scan import holo_scan, holo_scan_naive
from .multirate_scan import (
    log_spaced_rates,
    multirate_scan_chunked,
    multirate_scan_recurrent,
    multirate_scan_step,
)
from .tape_scan import tape_scan, tape_scan_recurrent, tape_step
from .tape_writes import tape_from_writes, tape_from_writes_reference
from .vsa import cleanup, hrr_bind, hrr_unbind, map_bind, map_unbind, random_bipolar, superpose
from .window_attention import sliding_window_attention, sliding_window_attention_reference

__all__ = [
    "FEATURE_MAPS",
    "apply_feature_map",
    "cleanup",
    "delta_rule",
    "delta_rule_chunked",
    "delta_rule_recurrent",
    "delta_rule_step",
    "delta_step_",
    "feature_dim",
    "holo_scan",
    "holo_scan_naive",
    "hrr_bind",
    "hrr_unbind",
    "log_spaced_rates",
    "make_feature_buffers",
    "map_bind",
    "map_unbind",
    "multirate_scan_chunked",
    "multirate_scan_recurrent",
    "multirate_scan_step",
    "random_bipolar",
    "sliding_window_attention",
    "sliding_window_attention_reference",
    "superpose",
    "tape_from_writes",
    "tape_from_writes_reference",
    "tape_scan",
    "tape_scan_recurrent",
    "tape_step",
]
