"""Prizma: a pool of local autoencoder+classifier experts with recognition routing.

Backprop-free (each expert learns with the local rule in `local_rule.py`), weight-transport free
in its default DFA variant, and task-boundary free: `routing.py` decides from reconstruction
surprise alone which expert trains and which answers. Frozen experts never change, so forgetting
is zero whenever routing is perfect.

Many runs train side by side: a run is one (config, seed) pair, and every tensor carries a
leading run axis R. Configs may differ in feedback mode, routing, capacity and z_novel, so a
whole comparison (DFA, exact, reference-exact, noRoute; or a capacity sweep) is one batched
pass. Parameters are [R, M, ...] with M the largest capacity.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..config import require
from .local_rule import MODES, ExpertParams, encode, local_update, reconstruct, sample_surprise
from .routing import test_route, training_route

SENTINEL = 1e9


@dataclass(frozen=True)
class PrizmaConfig:
    """Prizma hyper-parameters (reference defaults).

    feedback: "random" (DFA, no W^T), "exact" (true gradient through the encoder) or
    "exact_reference" (the reference's sign-flipped, post-update variant).
    route=False is the noRoute ablation: expert 0 learns everything.
    z_novel: recognition threshold in standard deviations; commit_after: samples an expert
    must see before it can be committed. The reference's `consolidate` (freeze on commit) flag
    is omitted: a committed expert is never selected for training again, so it changes nothing.
    """

    hidden: int = 48
    n_experts: int = 8
    lr: float = 0.05
    lr_cls: float = 0.1
    lambda_cls: float = 1.0
    feedback: str = "random"
    z_novel: float = 5.0
    commit_after: int = 256
    route: bool = True

    def __post_init__(self) -> None:
        require(self.hidden >= 1, "hidden", "must be positive")
        require(self.n_experts >= 1, "n_experts", "need at least one expert")
        require(self.lr > 0 and np.isfinite(self.lr), "lr", "must be finite and > 0")
        require(self.lr_cls > 0 and np.isfinite(self.lr_cls), "lr_cls", "must be finite and > 0")
        require(self.lambda_cls >= 0, "lambda_cls", "must be >= 0")
        require(self.feedback in MODES, "feedback", f"must be one of {MODES}")
        require(self.z_novel > 0, "z_novel", "must be > 0")
        require(self.commit_after >= 0, "commit_after", "must be >= 0")


def init_expert(seed: int, m: int, n_in: int, hidden: int, n_classes: int) -> dict:
    """Reference initialisation of expert m: its own generator seeded seed + 100 (m + 1)."""
    rng = np.random.default_rng(seed + 100 * (m + 1))

    def draw(std, shape):
        return rng.normal(0.0, std, size=shape).astype(np.float32)

    return {
        "We": draw(1 / np.sqrt(n_in), (hidden, n_in)),
        "Wd": draw(1 / np.sqrt(hidden), (n_in, hidden)),
        "Wc": draw(1 / np.sqrt(hidden), (n_classes, hidden)),
        "Bd": draw(1 / np.sqrt(n_in), (hidden, n_in)),
        "Bc": draw(1 / np.sqrt(n_classes), (hidden, n_classes)),
        "be": np.zeros(hidden, np.float32),
        "bd": np.zeros(n_in, np.float32),
        "bc": np.zeros(n_classes, np.float32),
    }


class Prizma:
    """Runs = configs x seeds (config-major). Run r uses the data of seed index r % S."""

    def __init__(self, configs, seeds, n_in: int, n_classes: int) -> None:
        configs = [configs] if isinstance(configs, PrizmaConfig) else list(configs)
        seeds = [int(s) for s in seeds]
        require(len(configs) > 0, "configs", "need at least one config")
        require(len(seeds) > 0, "seeds", "need at least one seed")
        require(n_in >= 1, "n_in", "must be positive")
        require(n_classes >= 2, "n_classes", "need at least two classes")
        base = configs[0]
        for c in configs:
            for f in ("hidden", "lr", "lr_cls", "lambda_cls", "commit_after"):
                require(getattr(c, f) == getattr(base, f), f,
                        "must be equal across configs batched in one Prizma")
        self.configs, self.seeds = configs, seeds
        self.n_in, self.n_classes = n_in, n_classes
        self.hp = base
        S, M = len(seeds), max(c.n_experts for c in configs)
        self.R, self.M = len(configs) * S, M
        self.seed_index = torch.arange(self.R) % S
        self.run_config = [c for c in configs for _ in seeds]
        self.groups = _mode_groups([c.feedback for c in self.run_config])
        per_seed = [[init_expert(s, m, n_in, base.hidden, n_classes) for m in range(M)]
                    for s in seeds]
        self.params = {k: torch.from_numpy(np.stack([np.stack([e[k] for e in per_seed[r % S]])
                                                     for r in range(self.R)]))
                       for k in ExpertParams.__dataclass_fields__}
        R = self.R
        self.state = {
            "active": torch.zeros(R, dtype=torch.long),
            "capacity": torch.tensor([c.n_experts for c in self.run_config]),
            "committed": torch.zeros(R, M, dtype=torch.bool),
            "calibrated": torch.zeros(R, M, dtype=torch.bool),
            "mu": torch.full((R, M), SENTINEL),
            "var": torch.ones(R, M),
            "n_seen": torch.zeros(R, M, dtype=torch.long),
        }
        self.route = torch.tensor([c.route for c in self.run_config])
        self.routed, self.unrouted = self.route.nonzero().squeeze(1), (~self.route).nonzero().squeeze(1)
        self.z_novel = torch.tensor([c.z_novel for c in self.run_config], dtype=torch.float32)
        self.counts = {k: torch.zeros(R, dtype=torch.long) for k in ("known", "dropped")}
        self.split_unrouted = True  # False: the reference passes for every run (see `_route`)

    @classmethod
    def variants(cls, base: PrizmaConfig, names, seeds, n_in, n_classes) -> Prizma:
        """Batch named variants of `base`: 'dfa', 'exact', 'exact_reference', 'noroute'."""
        table = {"dfa": dict(feedback="random"), "exact": dict(feedback="exact"),
                 "exact_reference": dict(feedback="exact_reference"),
                 "noroute": dict(feedback="random", route=False)}
        for n in names:
            require(n in table, "variant", f"unknown variant '{n}', expected one of {list(table)}")
        return cls([replace(base, **table[n]) for n in names], seeds, n_in, n_classes)

    # ------------------------------------------------------------------ training
    def observe(self, x: torch.Tensor, y: torch.Tensor, task: int | None = None) -> None:
        """Learn from one batch per seed. x: [S, n, d] float, y: [S, n] int64. `task` unused."""
        x, y = self._runs(x, y)
        y1 = torch.nn.functional.one_hot(y, self.n_classes).to(x.dtype)
        ar = torch.arange(self.R)
        target, train, z, xhat = self._route(x)
        p = ExpertParams(**{k: pick(v, target) for k, v in self.params.items()})
        new, _ = local_update(p, x, y1, self.hp.lr, self.hp.lr_cls, self.hp.lambda_cls,
                              self.groups, z=z, xhat=xhat)
        keep = None if bool(train.all()) else ~train
        for k, v in new.items():
            if keep is not None:  # runs that do not train keep their expert as it was
                v = torch.where(keep.view(-1, *([1] * (v.ndim - 1))), getattr(p, k), v)
            put(self.params[k], target, v)
        self.state["n_seen"][ar, target] += train.long() * x.shape[1]
        keys = ("We", "be", "Wd", "bd")
        if self.split_unrouted and self.unrouted.numel():  # only routed runs read r
            rr = self.routed
            r = torch.zeros(self.R)
            if rr.numel():
                r[rr] = sample_surprise(x.index_select(0, rr),
                                        *(new[k].index_select(0, rr) for k in keys)).mean(1)
        else:
            r = sample_surprise(x, *(new[k] for k in keys)).mean(1)
        self._update_precision(ar, target, train & self.route, r)

    def end_task(self, task: int, x_task=None, y_task=None) -> None:
        """Task boundaries are not used by Prizma."""

    def _route(self, x: torch.Tensor):
        """Training-time routing: (target [R], train [R], z, xhat), z/xhat the target expert's
        forward pass [R, n, h] / [R, n, d] (None when a run just switched to a fresh expert
        outside the pass). One forward pass of experts 0..H-1 (H = max active + 1: every
        committed and active expert) serves recognition and, usually, the training step.
        Runs without routing (noRoute) always train expert 0 and never read their surprise,
        so with `split_unrouted` they run expert 0 only (and skip the post-update surprise in
        `observe`); the routed runs' numbers do not depend on the other runs of the batch, so
        this changes no bit (split_unrouted=False: every run through every pass, the
        reference)."""
        hi = min(int(self.state["active"].max()) + 1, self.M)
        routed, unrouted = self.routed, self.unrouted
        if not self.split_unrouted or unrouted.numel() == 0 or hi == 1:
            z_all, xhat_all, s_bar = self._recognition(x, None, hi)
        else:
            z_r, xh_r, s_r = self._recognition(x, routed, hi)
            z_u, xh_u, s_u = self._recognition(x, unrouted, 1)
            s_bar = torch.full((self.R, hi), float("inf"))
            s_bar.index_copy_(0, routed, s_r)
            s_bar[unrouted, 0] = s_u[:, 0]
            z_all = xhat_all = None
        target, train, ev = training_route(s_bar, self.state, self.z_novel,
                                           self.hp.commit_after, self.route)
        self.counts["known"] += ev["known"].long()
        self.counts["dropped"] += ev["dropped"].long()
        if int(target.max()) >= hi:  # a run just switched to a fresh expert outside the pass
            return target, train, None, None
        if z_all is not None:
            return target, train, pick(z_all, target), pick(xhat_all, target)
        z = torch.empty(self.R, *z_r.shape[2:])
        xhat = torch.empty(self.R, *xh_r.shape[2:])
        z.index_copy_(0, routed, pick(z_r, target[routed]))
        xhat.index_copy_(0, routed, pick(xh_r, target[routed]))
        z.index_copy_(0, unrouted, z_u[:, 0])
        xhat.index_copy_(0, unrouted, xh_u[:, 0])
        return target, train, z, xhat

    def _recognition(self, x: torch.Tensor, runs: torch.Tensor | None, hi: int):
        """Experts 0..hi-1 on the batch, for `runs` (None: all): Z [r, hi, n, h],
        X̂ [r, hi, n, d] and the batch-mean surprise s̄ [r, hi]."""
        P = self.params

        def sel(t):
            return t[:, :hi] if runs is None else t[:, :hi].index_select(0, runs)

        xr = (x if runs is None else x.index_select(0, runs)).unsqueeze(1)
        z = encode(xr, sel(P["We"]), sel(P["be"]))
        xhat = reconstruct(z, sel(P["Wd"]), sel(P["bd"]))
        return z, xhat, (xr - xhat).square_().mean((-1, -2))

    def _update_precision(self, ar, target, mask, r) -> None:
        st = self.state
        mu, var, cal = st["mu"][ar, target], st["var"][ar, target], st["calibrated"][ar, target]
        delta = r - mu
        mu_new = torch.where(cal, mu + 0.05 * delta, r)
        var_new = torch.where(cal, 0.95 * var + 0.05 * delta * delta,
                              torch.clamp((0.1 * r) ** 2, min=1e-4))
        st["mu"][ar, target] = torch.where(mask, mu_new, mu)
        st["var"][ar, target] = torch.where(mask, var_new, var)
        st["calibrated"][ar, target] = cal | mask

    # ------------------------------------------------------------------ inference
    def route_samples(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample expert choice and logits. x: [S, n, d] -> ([R, n], [R, n, C])."""
        x = self._runs(x)
        n_seen = self.state["n_seen"]
        used = (n_seen > 0).any(0).nonzero()
        hi = int(used.max()) + 1 if used.numel() else self.M
        P = {k: v[:, :hi] for k, v in self.params.items()}
        xr = x.unsqueeze(1)
        z = encode(xr, P["We"], P["be"])  # [R, hi, n, h]
        s = (xr - reconstruct(z, P["Wd"], P["bd"])).square_().mean(-1)
        idx = test_route(s, n_seen[:, :hi])  # [R, n]
        logits = torch.matmul(z, P["Wc"].transpose(-1, -2)).add_(P["bc"].unsqueeze(-2))
        pick = idx[:, None, :, None].expand(-1, 1, -1, logits.shape[-1])
        return idx, logits.gather(1, pick).squeeze(1)

    def predict(self, x: torch.Tensor, task: int | None = None) -> torch.Tensor:
        """Predicted labels [R, n] for inputs x: [S, n, d]; no task id is used."""
        return self.route_samples(x)[1].argmax(-1)

    def summary(self) -> dict:
        st = self.state
        return {
            "experts_committed": st["committed"].sum(1).tolist(),
            "active": st["active"].tolist(),
            "experts_trained": (st["n_seen"] > 0).sum(1).tolist(),
            "batches_known": self.counts["known"].tolist(),
            "batches_dropped": self.counts["dropped"].tolist(),
        }

    def _runs(self, x, y=None):
        if x.ndim != 3 or x.shape[-1] != self.n_in:
            raise ValueError(f"Prizma expects inputs [seeds, n, {self.n_in}], got "
                             f"{tuple(x.shape)} (input dimension mismatch?)")
        if x.shape[0] != len(self.seeds):
            raise ValueError(f"expected {len(self.seeds)} seeds on axis 0, got {x.shape[0]}")
        if x.shape[1] == 0:
            raise ValueError("empty batch")
        if not torch.isfinite(x).all():
            raise ValueError("inputs contain NaN or infinite values")
        if self.R == len(self.seeds):
            return x if y is None else (x, y)
        xr = x.index_select(0, self.seed_index)
        return xr if y is None else (xr, y.index_select(0, self.seed_index))


def _rows(t: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    R, M = t.shape[:2]
    return t.view(R * M, *t.shape[2:]), torch.arange(R) * M + idx


def pick(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """t[r, idx[r]] for every run r: t [R, M, ...] contiguous, idx [R] -> [R, ...].

    The same values as t[arange(R), idx], as one row copy (advanced indexing over two axes is
    several times slower on CPU)."""
    flat, rows = _rows(t, idx)
    return flat.index_select(0, rows)


def put(t: torch.Tensor, idx: torch.Tensor, values: torch.Tensor) -> None:
    """t[r, idx[r]] = values[r] in place, for every run r (t contiguous [R, M, ...])."""
    flat, rows = _rows(t, idx)
    flat.index_copy_(0, rows, values)


def _mode_groups(modes: list[str]) -> list[tuple[int, int, str]]:
    """Contiguous (start, stop, mode) ranges of equal feedback mode."""
    groups, start = [], 0
    for i in range(1, len(modes) + 1):
        if i == len(modes) or modes[i] != modes[start]:
            groups.append((start, i, modes[start]))
            start = i
    return groups
