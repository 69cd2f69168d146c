"""A tiny stand-in SequenceLM (embedding + GRU + head) that keeps trainer tests fast."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from prismlm.models.base import SequenceLM


@dataclass
class TinyGRUConfig:
    vocab_size: int = 16
    d_model: int = 32
    embed_scale: float = 1.0  # changes the function, not any parameter shape


class TinyGRULM(SequenceLM):
    config_class = TinyGRUConfig

    def __init__(self, config: TinyGRUConfig) -> None:
        super().__init__(config)
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        self.rnn = nn.GRU(config.d_model, config.d_model, batch_first=True)
        self.head = nn.Linear(config.d_model, config.vocab_size)

    def forward(self, input_ids: torch.Tensor, return_aux: bool = False):
        h, _ = self.rnn(self.embed(input_ids) * self.config.embed_scale)
        logits = self.head(h)
        if return_aux:
            return logits, logits.new_zeros(())
        return logits
