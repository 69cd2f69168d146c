"""`model.compile_step()`: the whole per-token decode step as one `torch.compile`d graph.

    step = model.compile_step()           # compiles lazily, on the first call
    logits, state = step(token, state)    # same contract and result as model.step

Eager decoding is bound by the number of tiny ops per token, not by FLOPs; compiling the step
fuses the elementwise ops between the matmuls into a few generated kernels. Compiled and eager
steps are different programs: benchmarks compare compiled with compiled and eager with eager.

Two things keep the graph whole and free of per-token work that eager decoding does not do:

* Decode-layout weights (`layers.decode_weights`): eager code caches them in a context variable,
  which the tracer cannot read. Inside a compiled step `decode_weights` is replaced by a lookup
  of a snapshot that this wrapper builds in eager mode (one throwaway eager step collects every
  module's weights) and rebuilds whenever a parameter's storage or version changes — the key
  eager sessions use. The snapshot tensors are graph inputs, so a rebuild costs no recompile.
* Positions are Python ints in the states; the step is compiled with dynamic shapes
  (`dynamic=True` by default), so a new position or a grown KV cache reuses the same graph.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from ..layers import decode_weights as _dw

if TYPE_CHECKING:
    from .base import SequenceLM
    from .state import DecodeState

_SNAPSHOT = "_prismlm_decode_snapshot"  # module attribute holding its decode weights


@torch.compiler.substitute_in_graph(_dw.decode_weights, skip_signature_check=True)
def _decode_weights_in_graph(module, build):
    """What a traced `decode_weights` call becomes: the module's snapshot, else an in-graph build."""
    snapshot = getattr(module, _SNAPSHOT, None)
    return build() if snapshot is None else snapshot


class CompiledStep:
    """`step(token, state)` of `model`, compiled whole; validates its inputs like `model.step`."""

    def __init__(self, model: SequenceLM, **compile_options: Any) -> None:
        self.model = model
        options = {"dynamic": True, **compile_options}
        self._compiled = torch.compile(model._step, **options)
        self._key: tuple | None = None

    def _refresh_snapshot(self) -> None:
        key = _dw.parameter_key(self.model)
        if key == self._key:
            return
        model = self.model
        device = model.embed.weight.device
        token = torch.zeros(1, dtype=torch.long, device=device)
        with torch.no_grad():
            built = _dw.collect_decode_weights(lambda: model._step(token, model.init_state(1)))
        for module, weights in built:
            object.__setattr__(module, _SNAPSHOT, weights)
        self._key = key

    def __call__(self, token: torch.Tensor, state: DecodeState) -> tuple[torch.Tensor, DecodeState]:
        self.model.check_step_inputs(token, state)
        self._refresh_snapshot()
        with torch.no_grad():
            # a fresh token tensor: a view's storage offset would be guarded on like a size
            return self._compiled(token.clone(), state)
