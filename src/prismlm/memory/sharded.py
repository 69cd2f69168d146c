"""Many HoloTapes behind one interface: facts routed to shards by a hash of their key.

One superposition holds only ≈ d / (2 ln N) facts (and fewer at 99% accuracy, see
`capacity.py`), so a store of N facts needs about N / C(d) tapes. `ShardedHoloMemory.build`
chooses the number of shards S so that the fullest shard stays within the per-shard budget
C(d, target) predicted for the requested accuracy; a fact with route key r lives in shard r mod S,
and a query carrying the same route key reads only that shard (O(C·d) per query, whatever N).
"""

from __future__ import annotations

import hashlib
import math

import torch

from .capacity import predicted_capacity
from .holo_tape import HoloTape, QueryResult

__all__ = ["ShardedHoloMemory", "route_key", "route_keys_for_ids"]


def route_key(text: str) -> int:
    """Stable 63-bit routing hash of a (normalised) key string."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") >> 1


def route_keys_for_ids(ids: torch.Tensor) -> torch.Tensor:
    """Stable 63-bit routing hashes of integer ids (splitmix64 finaliser). [N] -> [N] int64."""
    mask = (1 << 64) - 1
    out = []
    for x in ids.tolist():
        z = (int(x) + 0x9E3779B97F4A7C15) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        out.append((z ^ (z >> 31)) >> 1)
    return torch.tensor(out, dtype=torch.int64)


class ShardedHoloMemory:
    """S HoloTapes of dimension d; fact i lives in shard route_i mod S."""

    def __init__(self, dim: int, n_shards: int, algebra: str = "map") -> None:
        if n_shards < 1:
            raise ValueError(f"n_shards must be >= 1, got {n_shards}")
        self.dim, self.n_shards, self.algebra = dim, n_shards, algebra
        self.shards = [HoloTape(dim, algebra) for _ in range(n_shards)]
        self.shard_budget: int | None = None

    @staticmethod
    def shards_needed(n_facts: int, dim: int, target: float = 0.99, fill: float = 0.8) -> int:
        """A first guess at S: N / (fill · per-shard budget), at least 1."""
        per = predicted_capacity(dim, target)
        return max(1, math.ceil(n_facts / (fill * per)))

    @classmethod
    def build(
        cls,
        keys: torch.Tensor,
        values: torch.Tensor,
        fact_ids: torch.Tensor,
        routes: torch.Tensor,
        target: float = 0.99,
        algebra: str = "map",
    ) -> ShardedHoloMemory:
        """Route N facts (keys, values [N, d]; fact_ids, routes [N]) over just enough shards that
        no shard holds more than the per-shard budget for `target` accuracy."""
        n, dim = keys.shape
        budget = predicted_capacity(dim, target)
        s = cls.shards_needed(n, dim, target)
        while n and torch.bincount(routes % s, minlength=s).max() > budget:
            s = math.ceil(s * 1.1) + 1
        mem = cls(dim, s, algebra)
        mem.shard_budget = budget
        mem.bind_many(keys, values, fact_ids, routes)
        return mem

    def shard_of(self, routes: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(routes, dtype=torch.int64) % self.n_shards

    def _by_shard(self, routes: torch.Tensor):
        """Yield (shard index, row indices routed there) for every non-empty shard."""
        shard = self.shard_of(routes)
        order = torch.argsort(shard, stable=True)
        counts = torch.bincount(shard, minlength=self.n_shards).tolist()
        start = 0
        for s, c in enumerate(counts):
            if c:
                yield s, order[start : start + c]
            start += c

    def bind_many(
        self, keys: torch.Tensor, values: torch.Tensor, fact_ids: torch.Tensor, routes: torch.Tensor
    ) -> None:
        """Bind facts into their shards. keys, values: [N, d]; fact_ids, routes: [N]."""
        for s, rows in self._by_shard(routes):
            self.shards[s].bind_many(keys[rows], values[rows], fact_ids[rows])

    def query(self, keys: torch.Tensor, routes: torch.Tensor, top_k: int = 1) -> QueryResult:
        """Read each key from its own shard. keys: [Q, d], routes: [Q] -> QueryResult [Q, k]."""
        if keys.dim() == 1:
            keys, routes = keys[None], torch.as_tensor(routes).reshape(1)
        q = keys.shape[0]
        ids = torch.full((q, top_k), -1, dtype=torch.int64)
        scores = torch.zeros(q, top_k)
        rows = torch.full((q, top_k), -1, dtype=torch.int64)
        for s, sel in self._by_shard(routes):
            res = self.shards[s].query(keys[sel], top_k=top_k)
            k = res.fact_ids.shape[1]
            ids[sel, :k], scores[sel, :k], rows[sel, :k] = res.fact_ids, res.scores, res.rows
        return QueryResult(ids, scores, rows)

    def forget(self, fact_id: int, route: int) -> None:
        """Remove a fact from its shard (KeyError if that shard does not hold it)."""
        self.shards[int(route) % self.n_shards].forget(fact_id)

    def __len__(self) -> int:
        return sum(len(t) for t in self.shards)

    def report(self) -> dict:
        loads = [len(t) for t in self.shards]
        return {
            "dim": self.dim,
            "n_shards": self.n_shards,
            "n_facts": sum(loads),
            "shard_budget": self.shard_budget,
            "load_min": min(loads),
            "load_mean": sum(loads) / len(loads),
            "load_max": max(loads),
        }
