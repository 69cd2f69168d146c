"""HoloTape: facts stored as one holographic superposition, retrieved by unbinding + cleanup.

    tape = HoloTape(dim=8192)                 # MAP bipolar (the reference's algebra) or "hrr"
    ids = tape.bind_many(keys, values)        # keys, values: [N, d]; returns fact ids [N]
    res = tape.query(keys[:5])                # res.fact_ids [5, 1], res.scores [5, 1]
    tape.forget(int(ids[0]))                  # subtracts that fact's binding exactly
    tape.capacity()                           # load against the theoretical capacity

The tape itself is one accumulator H ∈ R^d: H = Σ_i bind(k_i, v_i). Alongside it the tape keeps
a registry of the bound (key, value) pairs: the values are the cleanup memory's codebook (the
"known vectors" that a noisy read is snapped to) and the pair is what `forget` subtracts. For
MAP the registry holds the pair's signs packed 8 to a byte (`ops.vsa.pack_bipolar_rows`, the
layout of `pack_bipolar`), so a fact costs d/4 bytes; HRR pairs are kept in fp32.

MAP is exact integer arithmetic: H holds integers, and a query's score against value m is
sign(k) · (v_m ⊙ H) / (‖H‖ √d) — an integer over one norm — so the fast paths below (the
superposition as a count of sign disagreements, one matmul per query block) return the same
numbers as the textbook formulas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..ops.vsa import (
    bipolarize,
    cleanup,
    hrr_bind,
    hrr_unbind,
    map_unbind,
    packed_bipolar_scores,
    superpose,
    unpack_bipolar_rows,
)
from .capacity import asymptotic_capacity, predicted_accuracy, predicted_capacity

__all__ = ["HoloTape", "QueryResult", "check_vectors", "LUT_MAX_QUERIES"]

ALGEBRAS = ("map", "hrr")
# Uncached MAP reads of at most this many queries use byte lookup tables on the packed values
# (≈ N·d/8 gathers per query) rather than building the [N, d] codebook (≈ 3·N·d per call).
LUT_MAX_QUERIES = 8


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
    if not check_values:
        return x
    if x.dtype != torch.int8:
        # whole-batch min/max (NaN propagates, ±inf shows): one reduction, several times faster
        # at one thread than per-row ones
        lo, hi = torch.aminmax(x)
        if not (math.isfinite(lo.item()) and math.isfinite(hi.item())):
            raise ValueError(f"{name} contains NaN or inf")
    # all-zero rows (-0.0 counts as zero); int8 read 8 bytes at a time when the layout allows
    words = x.view(torch.int64) if x.dtype == torch.int8 and x.is_contiguous() and dim % 8 == 0 else x
    if not _rows_nonzero(words):
        raise ValueError(f"{name} contains an all-zero (empty) vector")
    return x


def _rows_nonzero(x: torch.Tensor) -> bool:
    """True when every row of x ([N, w]) has a non-zero entry. On CPU numpy's row-wise any (a
    view, no copy) is several times faster than torch's at one thread."""
    if x.device.type == "cpu":
        return bool(x.detach().numpy().any(axis=1).all())
    return bool(x.any(dim=1).all())


def _reject_empty_int8_rows(x: torch.Tensor, packed: torch.Tensor, name: str) -> None:
    """ValueError if an int8 row of x ([N, d]) is all zero; packed: its signs, uint8 [N, d/8].

    Only rows whose packed signs are all +1 (every byte 0xFF: no negative entry, rare for real
    codes) can be zero, so the packed rows are screened (numpy's row-wise min, a view) and only
    the survivors are read.
    """
    maybe = torch.from_numpy(np.flatnonzero(packed.numpy().min(axis=1) == 255))
    if maybe.numel() and not _rows_nonzero(x[maybe]):
        raise ValueError(f"{name} contains an all-zero (empty) vector")


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
        # rows per bind pass (at most 255, so a uint8 column count cannot overflow): the chunk's
        # inputs and its two sign masks stay in cache
        self.chunk = 64
        self.tape = torch.zeros(dim, dtype=torch.float32)
        # MAP: packed signs, uint8 [cap, d/8]; HRR: fp32 [cap, d]
        width, store = (dim // 8, torch.uint8) if algebra == "map" else (dim, torch.float32)
        self._keys = torch.empty(0, width, dtype=store)
        self._values = torch.empty(0, width, dtype=store)
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
            clash = self._row.keys() & set(ids.tolist())
            if clash:
                raise ValueError(f"fact ids already stored: {sorted(clash)[:5]}")
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
        self._row.update(zip(ids.tolist(), range(start, start + n), strict=True))
        self._n = start + n
        self._codebook = None
        self._next_id = max(self._next_id, int(ids.max()) + 1)
        return ids

    def _bind_map_chunked(self, k: torch.Tensor, v: torch.Tensor, start: int) -> torch.Tensor:
        """Pack the signs of N facts into registry rows start.. (past self._n, so invisible
        until committed) and return their superposition Σ_i sign(k_i) ⊙ sign(v_i): [d] fp32.

        One pass over the inputs in row chunks whose masks stay in cache. Per chunk the masks
        P = [k ≥ 0] and Q = [v ≥ 0] (bool [c, d]) are packed into the registry, then P ≠ Q
        (the product is −1 exactly where the signs differ) is column-summed into c_j, the
        number of negative products, so the sum is N − 2·c_j — exact integers. Validation
        (fp32: per chunk, int8: the all-zero screen) raises before anything is committed.
        """
        n, d, c = k.shape[0], self.dim, max(1, min(self.chunk, 255))
        m = min(c, n)
        masks = torch.empty(2, m, d, dtype=torch.bool)  # reused by every chunk of this call
        pm, qm = masks.numpy()
        p_bytes = masks[0].view(torch.uint8)
        kn, vn = k.detach().cpu().numpy(), v.detach().cpu().numpy()
        reg_k, reg_v = self._keys.numpy(), self._values.numpy()
        neg = torch.zeros(d, dtype=torch.int32)  # c_j
        for s in range(0, n, c):
            e = min(s + c, n)
            if k.dtype != torch.int8:
                check_vectors(k[s:e], d, "keys")
            if v.dtype != torch.int8:
                check_vectors(v[s:e], d, "values")
            # `pack_bipolar_rows`'s packing, on numpy views of the whole inputs: calling it per
            # chunk (torch slicing, checks) measured ~20% of bind throughput at d = 8192
            p = np.greater_equal(kn[s:e], 0, out=pm[: e - s])
            q = np.greater_equal(vn[s:e], 0, out=qm[: e - s])
            reg_k[start + s : start + e] = np.packbits(p, axis=-1)
            reg_v[start + s : start + e] = np.packbits(q, axis=-1)
            np.not_equal(p, q, out=p)
            neg += torch.sum(p_bytes[: e - s], 0, dtype=torch.uint8)  # ≤ c ≤ 255 per column
        for x, reg, name in ((k, self._keys, "keys"), (v, self._values, "values")):
            if x.dtype == torch.int8:
                _reject_empty_int8_rows(x, reg[start : start + n], name)
        return (n - 2 * neg).to(torch.float32)

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
        k, v = self._keys[row : row + 1], self._values[row : row + 1]
        if self.algebra == "map":
            k, v = unpack_bipolar_rows(k, self.dim)[0], unpack_bipolar_rows(v, self.dim)[0]
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
        if self.algebra == "map":
            return unpack_bipolar_rows(self._values[: self._n], self.dim)
        return self._values[: self._n].clone()

    def fact_ids(self) -> torch.Tensor:
        """Stored fact ids in registry order: [N] int64."""
        return self._ids[: self._n].clone()

    def _read_matrix(self) -> torch.Tensor:
        """The cleanup scores as one matrix product.

        MAP: cos(sign(k) ⊙ H, v_m) = sign(k) · (v_m ⊙ H) / (‖H‖ √d), so with the integer matrix
        W = values ⊙ H ([N, d]) a batch of queries is scored by sign(K) @ Wᵀ — integers, exact
        in fp32 while Σ_j |H_j| < 2^24 — and one scale 1 / (‖H‖ √d). HRR: W = normalised values
        (the unbind is explicit).
        """
        if self._codebook is not None:
            return self._codebook
        if self.algebra == "map":
            cb = unpack_bipolar_rows(self._values[: self._n], self.dim).mul_(self.tape)
        else:
            cb = self.values()
            cb = cb / cb.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        if self.cache_codebook:
            self._codebook = cb
        return cb

    def query(self, keys: torch.Tensor, top_k: int = 1, chunk: int = 256) -> QueryResult:
        """Unbind each key and clean it up against the stored values. keys: [Q, d] or [d].

        chunk: queries scored per matrix product. Without a cached codebook, a batch of at most
        LUT_MAX_QUERIES queries is scored from the packed values directly
        (`ops.vsa.packed_bipolar_scores`) instead of building the [N, d] codebook.
        """
        k = check_vectors(keys, self.dim, "keys")
        q = k.shape[0]
        if self._n == 0:
            empty = torch.full((q, top_k), -1, dtype=torch.int64)
            return QueryResult(empty, torch.zeros(q, top_k), empty.clone())
        kk = min(top_k, self._n)
        if self.algebra == "hrr":
            rows, scores = cleanup(hrr_unbind(self.tape, k.float()), self._read_matrix(), top_k=kk)
            return QueryResult(self._ids[rows], scores, rows)
        lut = self._codebook is None and not self.cache_codebook and q <= LUT_MAX_QUERIES
        w = None if lut else self._read_matrix()
        rows = torch.empty(q, kk, dtype=torch.int64)
        scores = torch.empty(q, kk, dtype=torch.float32)
        # one sign(K) block buffer per call, reused across blocks (a fresh multi-MB tensor per
        # block costs page faults comparable to the conversion itself)
        signs = torch.empty(min(chunk, q), self.dim, dtype=torch.float32)
        ints = torch.empty(min(chunk, q), self.dim, dtype=torch.int8) if k.dtype == torch.int8 else None
        for s in range(0, q, chunk):
            kc, m = k[s : s + chunk], min(chunk, q - s)
            if ints is None:
                signs[:m].copy_(kc >= 0).mul_(2).sub_(1)
            else:  # k | 1 maps 0 to +1 and keeps the sign bit
                signs[:m].copy_(torch.bitwise_or(kc, 1, out=ints[:m]).clamp_(-1, 1))
            if lut:
                sc = packed_bipolar_scores(signs[:m] * self.tape, self._values[: self._n])
            else:
                sc = signs[:m] @ w.T  # [m, N] integers
            out = (scores[s : s + m], rows[s : s + m])
            if kk == 1:
                torch.max(sc, dim=-1, keepdim=True, out=out)
            else:
                torch.topk(sc, kk, dim=-1, out=out)
        scores.mul_(1.0 / (self.tape.norm().clamp_min(1e-12) * math.sqrt(self.dim)))
        return QueryResult(self._ids[rows], scores, rows)

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
