"""Char-level mini language model on a small corpus bundled here (PRISM's "mini-LM" task).

The corpus is a few kilobytes of plain prose written for prismlm, so the task needs no download.
Its characters form the vocabulary; the first `train_frac` of the text is the training split and
the rest the held-out split. `sample` draws random windows of `seq_len + 1` characters from the
training split; `eval_sample` from the held-out split. Every position is scored (next character).
A file can replace the bundled corpus via `path`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import torch

from ..config import require
from .task import Batch

CORPUS = """\
The river town woke slowly. First the baker lit his oven, then the ferryman untied his boat,
and then the children ran down to the water to count the ducks. There were always seven ducks,
except on market days, when there were nine, because two came from the farm upstream to eat the
crumbs that fell from the stalls. The children knew this, and so they counted the ducks to know
what day it was, and nobody ever told them that there was a calendar in the town hall.

On market days the square filled with carts. One cart sold apples, one sold cheese, one sold
rope, and one sold nothing at all: an old woman sat on it and told stories for a coin. Her
stories were always about the river. The river, she said, remembered everything that had ever
been thrown into it, and if you listened at night you could hear it repeating the names of lost
things: a ring, a key, a letter, a shoe, a promise. The children did not believe her, but they
listened anyway, and some of them said they heard a key.

The ferryman did not like the stories. He said the river remembered nothing, that it only
moved, and that a thing thrown into water was carried away and gone. But every evening, when he
tied his boat, he looked into the water for a long time, as if he were reading it. The baker
said the ferryman had once thrown a letter into the river and had been waiting for an answer
ever since. The ferryman said the baker should mind his bread.

In winter the river froze at the edges and the ducks stood on the ice. The children counted
them still, and the count was still seven, and the days went on without markets until spring.
When the ice broke, the first cart came back to the square, and the old woman climbed onto it
and began a new story. It was about a letter that the river had carried to the sea, where a
fisherman found it, read it, and wrote an answer. The ferryman stood at the back of the crowd
and listened to the end, and then he went down to his boat and untied it, though it was late.

Nobody saw where he went. In the morning the boat was back, tied as always, and the ferryman was
whistling. The baker asked him what he had found. Nothing, said the ferryman, the river
remembers nothing. But he gave the children a coin each, and they spent it on apples, and that
day they counted nine ducks, though it was not a market day at all.
"""


@dataclass
class MiniLM:
    seq_len: int = 64
    train_frac: float = 0.9
    path: str | None = None

    def __post_init__(self) -> None:
        require(self.seq_len >= 1, "seq_len", f"must be >= 1, got {self.seq_len}")
        require(0 < self.train_frac < 1, "train_frac", f"must be in (0, 1), got {self.train_frac}")
        for split in ("train", "val"):
            require(
                len(self._splits[split]) > self.seq_len + 1,
                "seq_len",
                f"{self.seq_len} is too long for the {split} split "
                f"({len(self._splits[split])} characters)",
            )

    @cached_property
    def _text(self) -> str:
        return CORPUS if self.path is None else Path(self.path).read_text()

    @cached_property
    def vocab(self) -> list[str]:
        return sorted(set(self._text))

    @cached_property
    def _splits(self) -> dict[str, torch.Tensor]:
        index = {c: i for i, c in enumerate(self.vocab)}
        ids = torch.tensor([index[c] for c in self._text], dtype=torch.long)
        cut = int(len(ids) * self.train_frac)
        return {"train": ids[:cut], "val": ids[cut:]}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def max_seq_len(self) -> int:
        return self.seq_len

    def _windows(self, ids: torch.Tensor, batch_size: int, gen: torch.Generator) -> Batch:
        start = torch.randint(0, len(ids) - self.seq_len - 1, (batch_size,), generator=gen)
        rows = ids[start[:, None] + torch.arange(self.seq_len + 1)]
        return Batch(rows[:, :-1], rows[:, 1:], torch.ones(batch_size, self.seq_len))

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        return self._windows(self._splits["train"], batch_size, generator)

    def eval_sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        return self._windows(self._splits["val"], batch_size, generator)

