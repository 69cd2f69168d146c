"""`DecodeState`: the one protocol every language model's decode state follows.

    state = model.init_state(batch_size)        # position 0, on the model's device and dtype
    logits, state = model.step(token, state)    # updates `state` in place, returns the same object
    state.position       # tokens consumed so far
    state.batch_size     # B, the rows of every token this state accepts
    state.num_floats()   # floating-point numbers held (constant in position for recurrent models)
    state.to(device)     # moves every tensor in place, returns the state

Because `step` mutates its state, a decode that must branch (the same prefix continued two ways)
copies the state first: `copy.deepcopy(state)`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


class DecodeState:
    """Base class of every model's decode state.

    Subclasses define `position` (a field or a property), `batch_size`, and `apply(fn)`, which
    replaces every tensor the state holds by `fn(tensor)`; `tensors`, `num_floats` and `to` are
    built on it.
    """

    position: int

    @property
    def batch_size(self) -> int:
        raise NotImplementedError

    def apply(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        raise NotImplementedError

    def tensors(self) -> list[torch.Tensor]:
        """Every tensor the state holds."""
        found: list[torch.Tensor] = []

        def collect(t: torch.Tensor) -> torch.Tensor:
            found.append(t)
            return t

        self.apply(collect)
        return found

    def num_floats(self) -> int:
        """Floating-point numbers held by the state (masks and counters excluded)."""
        return sum(t.numel() for t in self.tensors() if t.is_floating_point())

    def to(self, device: torch.device | str) -> DecodeState:
        """Move every tensor to `device` in place; return the state (as `nn.Module.to` does)."""
        self.apply(lambda t: t.to(device))
        return self

