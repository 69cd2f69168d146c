"""Weights re-laid out for single-token decoding, reused only inside a decoding session.

For one row x, `x @ Wt` with a contiguous Wt = Wᵀ runs 2–3× faster on CPU than `F.linear(x, W)`,
and fusing several projections into one matrix removes whole ops from the per-token path — which
is what bounds decode latency here (a tiny op costs microseconds, a token's FLOPs barely more).

Such copies go stale when a parameter changes, and no cheap key sees every change: an edit
through `p.data` (`p.data.mul_(3)`, EMA, custom loaders) bumps no version counter, and tensors
made under `torch.inference_mode()` have none. So the copies are reused only inside
`reuse_decode_weights()` — a block that promises not to edit parameters behind autograd's back
(a generation loop) — and dropped when it ends. Inside it a parameter that is replaced (new
storage) or changed by a tracked in-place op (an optimizer step) still triggers a rebuild.
Outside any block, `decode_weights` builds fresh tensors on every call: always correct, slower.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch
from torch import nn

# id(module) -> (module, key, weights) for the innermost active session; None outside one.
_session: ContextVar[dict[int, tuple] | None] = ContextVar("prismlm_decode_weights", default=None)


@contextmanager
def reuse_decode_weights() -> Iterator[None]:
    """Reuse each module's decode weights until the block ends (nested blocks share one cache).

    Inside the block, parameters must change only by replacement or tracked in-place ops
    (optimizer steps, `with torch.no_grad(): p.mul_(…)`), never through `p.data`.
    """
    if _session.get() is not None:
        yield
        return
    token = _session.set({})
    try:
        yield
    finally:
        _session.reset(token)


def _parameters_of(module: nn.Module, out: list) -> list:
    """Every parameter of `module` and its submodules (a shared one more than once), appended to
    `out`: the walk `module.parameters()` makes, without its name bookkeeping, de-duplication
    and generator frames, which cost ~3.5× more — and this runs once per module per token."""
    out.extend(p for p in module._parameters.values() if p is not None)
    for child in module._modules.values():
        if child is not None:
            _parameters_of(child, out)
    return out


def parameter_key(module: nn.Module) -> tuple:
    """What a cached copy of `module`'s weights is keyed on: each parameter's storage and version
    (inference tensors carry no version counter; their storage pointer is the whole key)."""
    return tuple([(p.data_ptr(), None if p.is_inference() else p._version)
                  for p in _parameters_of(module, [])])


def decode_weights(module: nn.Module, build: Callable[[], dict[str, torch.Tensor]]) -> dict:
    """`build()`'s tensors for `module` (built without autograd), reused within a session."""
    cache = _session.get()
    if cache is None:
        with torch.no_grad():
            return build()
    key = parameter_key(module)
    entry = cache.get(id(module))
    if entry is None or entry[1] != key:
        with torch.no_grad():
            entry = (module, key, build())  # the module reference keeps id(module) unique
        cache[id(module)] = entry
    return entry[2]


def transposed_weight(linear_or_embedding: nn.Module) -> torch.Tensor:
    """Contiguous `weight.t()` (e.g. the tied LM head Eᵀ: [d_model, vocab]), reused per session."""
    return decode_weights(
        linear_or_embedding, lambda: {"t": linear_or_embedding.weight.t().contiguous()}
    )["t"]


def collect_decode_weights(run: Callable[[], object]) -> list[tuple[nn.Module, dict]]:
    """Call `run()` inside a fresh session; return every (module, weights) that it built."""
    token = _session.set({})
    try:
        run()
        built = _session.get()
    finally:
        _session.reset(token)
    return [(module, weights) for module, _, weights in built.values()]
