"""The weighted mix of packed streams, and the `Task` the one trainer consumes.

Order. Window k of the global stream comes from dataset c_k, drawn with probability w_c from a
generator seeded by (mix seed, k // CHOICE_BLOCK): the choices are a pure function of k, so the
stream is the same on every run and every rank. Window k is the next window of stream c_k, so
seeking to position k means counting each dataset's choices among 0..k−1 and replaying that many
windows of each (exact; it re-reads the data, it does not store it).

Resume. `TokenTask.sample(B, generator)` serves windows [p, p + B) and then re-seeds the
generator it was given with POSITION_BASE + p + B. The trainer checkpoints that generator's
state, and a torch generator's state keeps its seed, so after a kill the restored generator
names the position to continue from: the stream's position is part of the trainer checkpoint.
(The trainer's own seed therefore does not change the data order; the mix seed does.)

Ranks. Every rank builds the same global batch and the trainer gives rank r its rows
`shard_rows(B, world)` — distinct windows of one deterministic stream, so each rank trains on its
own data. `rank_windows(rank, world)` offers the same split (window k to rank k mod world) to
loops that read per rank.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from ...config import require
from ..task import Batch
from .mix import Mix
from .packing import PackedStream, windows_to_batch
from .sources import rows
from .tokenizer import Tokenizer, load_tokenizer, padded_vocab

CHOICE_BLOCK = 4096
POSITION_BASE = 1 << 62  # generator seeds >= this encode a stream position
EVAL_SEED_OFFSET = 7919  # the eval stream: the same datasets in an independent mix order


def _choices(weights: torch.Tensor, seed: int, block: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed * 1_000_003 + block)
    return torch.multinomial(weights, CHOICE_BLOCK, replacement=True, generator=g)


class MixedStream:
    """Windows of a `Mix`, in the deterministic order of the module docstring."""

    def __init__(self, mix: Mix, tok: Tokenizer, seed: int | None = None) -> None:
        self.mix, self.tok = mix, tok
        self.seed = mix.seed if seed is None else seed
        self.weights = torch.tensor(mix.weights, dtype=torch.float64)
        self._reset()

    def _reset(self) -> None:
        self.streams = [
            PackedStream(lambda s=spec: rows(s), spec, self.tok, self.mix.seq_len)
            for spec in self.mix.datasets
        ]
        self.position = 0
        self._block, self._block_choices = -1, None

    def choice(self, k: int) -> int:
        """The dataset window k comes from."""
        block = k // CHOICE_BLOCK
        if block != self._block:
            self._block, self._block_choices = block, _choices(self.weights, self.seed, block)
        return int(self._block_choices[k % CHOICE_BLOCK])

    def next_window(self) -> tuple[int, tuple[list[int], list[int]]]:
        """(dataset index, window) at the current position; advances by one."""
        c = self.choice(self.position)
        self.position += 1
        return c, self.streams[c].next_window()

    def seek(self, position: int) -> None:
        """Continue from window `position` exactly as if windows 0..position−1 had been read."""
        require(position >= 0, "position", f"must be >= 0, got {position}")
        if position < self.position:
            self._reset()
        counts = torch.zeros(len(self.streams), dtype=torch.long)
        for block in range(self.position // CHOICE_BLOCK, -(-position // CHOICE_BLOCK)):
            lo = max(self.position, block * CHOICE_BLOCK) - block * CHOICE_BLOCK
            hi = min(position, (block + 1) * CHOICE_BLOCK) - block * CHOICE_BLOCK
            chosen = _choices(self.weights, self.seed, block)[lo:hi]
            counts += torch.bincount(chosen, minlength=len(self.streams))
        for stream, n in zip(self.streams, counts.tolist(), strict=True):
            stream.skip(n)
        self.position = position

    def rank_windows(self, rank: int, world: int) -> Iterator[tuple[list[int], list[int]]]:
        """Rank `rank`'s share of the stream from the current position: windows k ≡ rank mod world."""
        require(0 <= rank < world, "rank", f"must be in [0, {world}), got {rank}")
        while True:
            c_pos = self.position
            _, window = self.next_window()
            if c_pos % world == rank:
                yield window


@dataclass
class TokenTask:
    """A `Task` over a token Mix: sample(B) = the next B windows of the mixed stream.

    vocab_size: the tokenizer's vocabulary rounded up to a multiple of 64. Batches are
    Batch(inputs [B, T], targets [B, T], mask [B, T]); the mask is 0 on instruct prompts.
    eval_sample draws from an eval stream (the same datasets, another mix order) unless
    `eval_mix` names held-out data.
    """

    mix: Mix
    tokenizer: str = "bytes"
    eval_mix: Mix | None = None
    vocab_size: int = field(init=False)
    max_seq_len: int = field(init=False)

    def __post_init__(self) -> None:
        if isinstance(self.mix, dict):
            from ...config import config_from_dict

            self.mix = config_from_dict(Mix, self.mix)
        self.tok = load_tokenizer(self.tokenizer)
        self.vocab_size = padded_vocab(self.tok.vocab_size)
        self.max_seq_len = self.mix.seq_len
        self.stream = MixedStream(self.mix, self.tok)
        eval_mix = self.eval_mix or self.mix
        require(eval_mix.seq_len == self.mix.seq_len, "eval_mix", "must have the training seq_len")
        self.eval_stream = MixedStream(eval_mix, self.tok, seed=eval_mix.seed + EVAL_SEED_OFFSET)

    def windows(self, position: int, n: int) -> Batch:
        """The n windows from `position` of the training stream, as a Batch."""
        if position != self.stream.position:
            self.stream.seek(position)
        return windows_to_batch([self.stream.next_window()[1] for _ in range(n)])

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        seed = generator.initial_seed()
        position = seed - POSITION_BASE if seed >= POSITION_BASE else 0
        batch = self.windows(position, batch_size)
        generator.manual_seed(POSITION_BASE + position + batch_size)
        return batch

    def eval_sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        return windows_to_batch([self.eval_stream.next_window()[1] for _ in range(batch_size)])
