"""`PrismlmCache`: a Hugging Face `Cache` that holds one prismlm `DecodeState`.

    cache = PrismlmCache()            # empty: the next forward prefills the prompt into it
    cache.state                       # the model's DecodeState once filled (None before)
    cache.get_seq_length()            # tokens the state has consumed (= state.position)

Hugging Face caches are lists of per-layer key/value tensors; prismlm models keep their whole
decode state (recurrent matrices, rings, a KV cache for the Transformer) in one `DecodeState`
that `model.step(token, state)` updates in place. So this cache has no Hugging Face layers: it
carries the state, and `…ForCausalLM.forward` prefills it or steps it. The state cannot be rewound
or reordered across the batch (recurrent states have no per-token history), so beam search and
assisted decoding are refused with a clear error; greedy decoding and sampling work.
"""

from __future__ import annotations

import torch
from transformers.cache_utils import Cache

from ..state import DecodeState


class PrismlmCache(Cache):
    """past key values of a prismlm model: `state` is its `DecodeState` (None until prefilled)."""

    def __init__(self, state: DecodeState | None = None) -> None:
        super().__init__(layers=[])
        self.state = state

    def __repr__(self) -> str:
        return f"PrismlmCache({type(self.state).__name__}, position={self.get_seq_length()})"

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return 0 if self.state is None else self.state.position

    def get_max_length(self, layer_idx: int | None = None) -> int:
        return -1  # no fixed capacity

    def reset(self) -> None:
        self.state = None

    @property
    def batch_size(self) -> int:
        return -1 if self.state is None else self.state.batch_size

    @property
    def is_initialized(self) -> bool:
        return self.state is not None

    @property
    def is_compileable(self) -> bool:
        return False

    @property
    def is_croppable(self) -> bool:
        return False

    @property
    def is_linear(self) -> list[bool]:
        # Tells `generate` not to slice the prompt by sequence length itself; our
        # `prepare_inputs_for_generation` does it from `get_seq_length`.
        return [True]

    def _refuse(self, what: str) -> None:
        raise NotImplementedError(
            f"PrismlmCache cannot {what}: a prismlm decode state is not a per-token key/value "
            "history (use greedy decoding or sampling, num_beams=1, no assistant model)"
        )

    def crop(self, tokens_to_remove: int) -> None:
        self._refuse("crop (rewind) its state")

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        self._refuse("reorder its batch (beam search)")

    def batch_repeat_interleave(self, repeats: int) -> None:
        self._refuse("repeat its batch")

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self._refuse("select batch rows")
