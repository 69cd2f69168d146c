"""The one expert interface PRISM routes to, and the neural expert.

Every expert maps the N tokens the router dispatched to it, x: [N, d_model], to [N, d_model].
Experts that need more than the token (the memory expert needs the tape and each token's
position) read it from an `ExpertContext`; the others ignore it. Kinds: "neural", "memory",
"symbolic".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from .swiglu import SwiGLU


@dataclass
class ExpertContext:
    """What a block knows besides the dispatched tokens.

    index: [N] flat positions (b·T + t) of the dispatched tokens; weights: [N] their route weights;
    batch, length: B and T of the block input; thread: the shared-tape thread (see memory_tape);
    state: this block's decode state or None in a full forward; outputs: filled by experts
    (new thread, new state, read entropy).
    """

    index: torch.Tensor
    weights: torch.Tensor
    batch: int
    length: int
    thread: Any = None
    state: Any = None
    outputs: dict[str, Any] = field(default_factory=dict)


class Expert(nn.Module):
    """Base class: `forward(x [N, d], ctx) -> [N, d]`; subclasses set `kind`."""

    kind: ClassVar[str] = ""

    def forward(self, x: torch.Tensor, ctx: ExpertContext | None = None) -> torch.Tensor:
        raise NotImplementedError


class NeuralExpert(Expert):
    """SwiGLU MLP with hidden width `hidden` (PRISM uses 2·d_model). Pointwise in time."""

    kind = "neural"

    def __init__(self, d_model: int, hidden: int) -> None:
        super().__init__()
        self.mlp = SwiGLU(d_model, hidden)

    def forward(self, x: torch.Tensor, ctx: ExpertContext | None = None) -> torch.Tensor:
        return self.mlp(x)
