"""HoloTape: facts stored as one holographic superposition, retrieved by unbinding + cleanup.

    tape = HoloTape(dim=8192)                 # MAP bipolar (the reference's algebra) or "hrr"
    ids = tape.bind_many(keys, values)        # keys, values: [N, d]; returns fact ids [N]
    res = tape.query(keys[:5])                # res.fact_ids [5, 1], res.scores [5, 1]
    tape.forget(int(ids[0]))                  # subtracts that fact's binding exactly
    tape.capacity()                           # load against the theoretical capacity

The tape itself is one accumulator H ∈ R^d: H = Σ_i bind(k_i, v_i). Alongside it the tape keeps
a registry of the bound (key, value) pairs: the values are the cleanup memory's codebook (the
"known vectors" that a noisy read is snapped to) and the pair is what `forget` subtracts. For
MAP the registry holds int8 {-1, +1}, so a fact costs 2·d bytes; HRR pairs are kept in fp32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..ops.vsa import bipolarize, cleanup, hrr_bind, hrr_unbind, map_unbind, superpose
from .capacity import asymptotic_capacity, predicted_accuracy, predicted_capacity

__all__ = ["HoloTape", "QueryResult", "check_vectors"]

ALGEBRAS = ("map", "hrr")


@dataclass
class QueryResult:
    """Cleanup output for Q queries: best stored facts first.

    fact_ids: [Q, k] int64 (−1 where the tape is empty); scores: [Q, k] cosine between the
    unbound (noisy) vector and the stored value; rows: [Q, k] registry rows.
    """

    fact_ids: torch.Tensor
    scores: torch.Tensor
    rows: torch.Tensor


def check_vectors(x: torch.Tensor, dim: int, name: str, check_values: bool = True) -> torch.Tensor:
    """Validate a batch of vectors for a tape of dimension `dim`; returns it as [N, d]
    (fp32, or int8 when given int8 bipolar vectors).

    Raises ValueError for a wrong shape or dimension, an empty batch, and (with check_values)
    a non-finite entry or an all-zero ("empty") vector, which would bind nothing.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() == 1:
        x = x[None]
    if x.dim() != 2:
        raise ValueError(f"{name} must be [d] or [N, d], got shape {tuple(x.shape)}")
    if x.shape[1] != dim:
        raise ValueError(f"{name} has dimension {x.shape[1]}, the tape has dimension {dim}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty (no vectors)")
    if x.dtype not in (torch.float32, torch.int8):
        x = x.to(torch.float32)
    if check_values and x.dtype == torch.int8:
        # all-zero rows, checked 8 bytes at a time when the layout allows it
        words = x.view(torch.int64) if x.is_contiguous() and dim % 8 == 0 else x
        if not words.any(dim=1).all():
            raise ValueError(f"{name} contains an all-zero (empty) vector")
    elif check_values:
        lo, hi = torch.aminmax(x, dim=1)
        if not (torch.isfinite(lo).all() and torch.isfinite(hi).all()):
            raise ValueError(f"{name} contains NaN or inf")
        if ((lo == 0) & (hi == 0)).any():
            raise ValueError(f"{name} contains an all-zero (empty) vector")
    return x


def _to_bipolar_int8(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """sign(x) with sign(0) = +1 written into an int8 buffer `out` ({-1, +1})."""
    if x.dtype == torch.int8:
        # x | 1 maps 0 -> 1 and keeps the sign bit, so the clamp yields sign(x) with sign(0)=+1
        return torch.bitwise_or(x, 1, out=out).clamp_(-1, 1)
    torch.ge(x, 0, out=out[: x.shape[0]])  # 1 / 0
    return out.mul_(2).sub_(1)


class HoloTape:
    """One holographic superposition of (key, value) facts. See the module docstring.

    dim: tape dimension d (≥ 8; multiple of 8 for MAP so vectors pack into d/8 bytes).
    algebra: "map" (bipolar multiply-add, keys and values are bipolarised) or "hrr"
        (circular convolution; pass N(0, 1/d) vectors, e.g. `ops.vsa.random_hrr`).
    cache_codebook: keep a normalised fp32 copy of the values for fast queries (4·d bytes per
        fact); off, each query converts the int8 registry on the fly.
    """

    def __init__(self, dim: int = 8192, algebra: str = "map", cache_codebook: bool = True) -> None:
        if algebra not in ALGEBRAS:
            raise ValueError(f"algebra must be one of {ALGEBRAS}, got {algebra!r}")
        if dim < 8 or (algebra == "map" and dim % 8):
            raise ValueError(f"dim must be >= 8 (and a multiple of 8 for MAP), got {dim}")
        self.dim, self.algebra, self.cache_codebook = dim, algebra, cache_codebook
        self.chunk = 64
        self.tape = torch.zeros(dim, dtype=torch.float32)
        store = torch.int8 if algebra == "map" else torch.float32
        self._keys = torch.empty(0, dim, dtype=store)
        self._values = torch.empty(0, dim, dtype=store)
        self._ids = torch.empty(0, dtype=torch.int64)
        self._n = 0
        self._row: dict[int, int] = {}
        self._next_id = 0
        self._codebook: torch.Tensor | None = None

    # ------------------------------------------------------------------------------ writing
    def __len__(self) -> int:
        return self._n

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        return bipolarize(x) if self.algebra == "map" else x.to(torch.float32)

    def _bound(self, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return k * v if self.algebra == "map" else hrr_bind(k, v)

    def bind(self, key: torch.Tensor, value: torch.Tensor, fact_id: int | None = None) -> int:
        """Superpose one fact. key, value: [d]. Returns its fact id."""
        ids = None if fact_id is None else torch.tensor([fact_id])
        return int(self.bind_many(key, value, ids)[0])

    def bind_many(
        self, keys: torch.Tensor, values: torch.Tensor, fact_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Superpose N facts at once: H += Σ_i bind(k_i, v_i). keys, values: [N, d].

        fact_ids: optional [N] int64 ids (unique, not already stored); default consecutive.
        Validation happens before anything changes, so a rejected batch stores nothing.
        """
        fast = self.algebra == "map"
        k = check_vectors(keys, self.dim, "keys", check_values=not fast)
        v = check_vectors(values, self.dim, "values", check_values=not fast)
        if k.shape[0] != v.shape[0]:
            raise ValueError(f"{k.shape[0]} keys but {v.shape[0]} values")
        n = k.shape[0]
        if fact_ids is None:
            ids = torch.arange(self._next_id, self._next_id + n, dtype=torch.int64)
        else:
            ids = torch.as_tensor(fact_ids, dtype=torch.int64).reshape(-1)
            if ids.shape[0] != n:
                raise ValueError(f"{ids.shape[0]} fact ids for {n} facts")
            if ids.unique().shape[0] != n:
                raise ValueError("fact ids in one batch must be unique")
            clash = [int(i) for i in ids.tolist() if int(i) in self._row]
            if clash:
                raise ValueError(f"fact ids already stored: {clash[:5]}")
        start = self._reserve(n)
        if fast:
            # Rows past self._n are invisible until committed below, so a batch that fails
            # validation half-way leaves the tape and the registry as they were.
            self.tape += self._bind_map_chunked(k, v, start)
        else:
            k, v = k.to(torch.float32), v.to(torch.float32)
            self.tape += superpose(hrr_bind(k, v))
            self._keys[start : start + n] = k
            self._values[start : start + n] = v
        self._ids[start : start + n] = ids
        for j, i in enumerate(ids.tolist()):
            self._row[int(i)] = start + j
        self._n = start + n
        self._codebook = None
        self._next_id = max(self._next_id, int(ids.max()) + 1)
        return ids

    def _bind_map_chunked(self, k: torch.Tensor, v: torch.Tensor, start: int) -> torch.Tensor:
        # One pass over the inputs in cache-sized row chunks: validate, sign -> int8 registry
        # rows, int8 product, fp32 accumulate (exact: integers while N < 2^24).
        delta = torch.zeros(self.dim, dtype=torch.float32)
        c = self.chunk
        for s in range(0, k.shape[0], c):
            kc, vc = k[s : s + c], v[s : s + c]
            check_vectors(kc, self.dim, "keys", check_values=True)
            check_vectors(vc, self.dim, "values", check_values=True)
            kr = self._keys[start + s : start + s + kc.shape[0]]
            vr = self._values[start + s : start + s + kc.shape[0]]
            _to_bipolar_int8(kc, out=kr)
            _to_bipolar_int8(vc, out=vr)
            delta += torch.sum(torch.mul(kr, vr), 0, dtype=torch.float32)
        return delta

    def reserve(self, n: int) -> None:
        """Pre-allocate (and touch) registry room for n more facts, so that later binds do not
        pay for growing it or for first-touch page faults."""
        start = self._reserve(n)
        self._keys[start : start + n].zero_()
        self._values[start : start + n].zero_()

    def _reserve(self, n: int) -> int:
        """Grow the registry (amortised doubling) so n more rows fit; returns the first row."""
        need = self._n + n
        if need > self._keys.shape[0]:
            cap = max(need, 2 * self._keys.shape[0], 16)

            def grown(old: torch.Tensor) -> torch.Tensor:
                new = torch.empty((cap, *old.shape[1:]), dtype=old.dtype)
                new[: self._n] = old[: self._n]
                return new

            self._keys, self._values, self._ids = map(grown, (self._keys, self._values, self._ids))
            self._ids[self._n :] = -1
        return self._n

    def forget(self, fact_id: int) -> None:
        """Remove one fact: H −= bind(k, v) (exact for MAP). Unknown id -> KeyError."""
        row = self._row.get(int(fact_id))
        if row is None:
            raise KeyError(f"fact id {fact_id} is not stored in this tape")
        k = self._keys[row].to(torch.float32)
        v = self._values[row].to(torch.float32)
        self.tape -= self._bound(k, v)
        last = self._n - 1
        if row != last:  # keep the registry dense: move the last fact into the hole
            self._keys[row] = self._keys[last]
            self._values[row] = self._values[last]
            self._ids[row] = self._ids[last]
            self._row[int(self._ids[row])] = row
        self._ids[last] = -1
        del self._row[int(fact_id)]
        self._n = last
        self._codebook = None

    # ------------------------------------------------------------------------------ reading
    def unbind(self, keys: torch.Tensor) -> torch.Tensor:
        """Noisy values for the given keys: [Q, d] (MAP: sign(k) ⊙ H; HRR: k ⋆ H)."""
        k = self._prepare(check_vectors(keys, self.dim, "keys"))
        return map_unbind(self.tape, k) if self.algebra == "map" else hrr_unbind(self.tape, k)

    def values(self) -> torch.Tensor:
        """The stored values (the cleanup codebook): [N, d] fp32."""
        return self._values[: self._n].to(torch.float32)

    def fact_ids(self) -> torch.Tensor:
        """Stored fact ids in registry order: [N] int64."""
        return self._ids[: self._n].clone()

    def _read_matrix(self) -> torch.Tensor:
        """The cleanup scores as one matrix product.

        MAP: cos(sign(k) ⊙ H, v_m) = sign(k) · (H ⊙ v_m) / (‖H‖ √d), so with
        W = (values ⊙ H) / (‖H‖ √d) ([N, d]) a batch of queries is scored by sign(K) @ Wᵀ —
        no unbound [Q, d] intermediate. HRR: W = normalised values (the unbind is explicit).
        """
        if self._codebook is not None:
            return self._codebook
        cb = self.values()
        if self.algebra == "map":
            cb = cb * (self.tape / (self.tape.norm().clamp_min(1e-12) * math.sqrt(self.dim)))
        else:
            cb = cb / cb.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        if self.cache_codebook:
            self._codebook = cb
        return cb

    def query(self, keys: torch.Tensor, top_k: int = 1, chunk: int = 1024) -> QueryResult:
        """Unbind each key and clean it up against the stored values. keys: [Q, d] or [d]."""
        k = check_vectors(keys, self.dim, "keys")
        q = k.shape[0]
        if self._n == 0:
            empty = torch.full((q, top_k), -1, dtype=torch.int64)
            return QueryResult(empty, torch.zeros(q, top_k), empty.clone())
        w = self._read_matrix()
        kk = min(top_k, self._n)
        if self.algebra == "hrr":
            rows, scores = cleanup(hrr_unbind(self.tape, k.float()), w, top_k=kk)
            return QueryResult(self._ids[rows], scores, rows)
        rows, scores = [], []
        for s in range(0, q, chunk):
            kc = k[s : s + chunk]
            kc = bipolarize(kc) if kc.dtype == torch.float32 else kc.to(torch.float32)
            v, i = (kc @ w.T).topk(kk, dim=-1)
            rows.append(i)
            scores.append(v)
        r = torch.cat(rows)
        return QueryResult(self._ids[r], torch.cat(scores), r)

    # ---------------------------------------------------------------------------- reporting
    def capacity(self, target: float = 0.99) -> dict:
        """Load report: facts stored against one superposition's capacity at this dimension."""
        n = self._n
        theory = asymptotic_capacity(self.dim)
        report = {
            "algebra": self.algebra,
            "dim": self.dim,
            "n_facts": n,
            "asymptotic_capacity": theory,
            "load": n / theory,
            "expected_cosine": 1.0 / math.sqrt(n) if n else None,
            "registry_bytes": int(self._keys[: self._n].numel() * self._keys.element_size() * 2),
        }
        if self.algebra == "map":
            report["predicted_capacity_at_target"] = predicted_capacity(self.dim, target)
            report["target"] = target
            report["predicted_accuracy"] = predicted_accuracy(self.dim, n) if n else 1.0
        return report
