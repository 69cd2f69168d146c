"""What each continual experiment measures, as frozen configs, and the figures it is read against.

A config holds everything that changes the numbers (seeds, epochs, sweep values, hyper-parameters,
tolerances); how many processes run the jobs is an argument of the driver, not config. The driver
resolves a config into the learner and stream configs it trains (`*_configs` in experiments.py),
and the result cache is keyed by that resolved dict.

Reference figures are (ACC, FGT) pairs from the spec (/work/shared/spec/prizma-continual.md
§5, §8, §9), which restates the reference results; None where the reference gives no figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ...config import require
from ...continual.baselines import MLPConfig
from ...continual.learner import PrizmaConfig
from ...continual.runner import LEARNERS

# E1, 10 seeds x 15 epochs (spec §5). The sign-fixed exact variant has no published number;
# 0.842 is the spec's measurement of it with the reference code, sign corrected.
E1_REFERENCE = {
    "backprop": (0.445, 0.553), "ewc": (0.456, 0.411), "replay": (0.737, 0.156),
    "oracle": (0.879, 0.0), "prizma_dfa": (0.834, 0.0), "prizma_exact": (0.842, 0.0),
    "prizma_exact_reference": (0.708, 0.0), "noroute": (0.446, 0.489),
}
# The 3-epoch small stream (spec §9 checks 5-7 and 10, seeds 0-2).
SMALL_REFERENCE = {
    "backprop": (None, 0.505), "oracle": (0.81, 0.0), "prizma_dfa": (0.737, 0.0),
    "prizma_exact": (0.76, 0.0), "prizma_exact_reference": (0.69, 0.0), "noroute": (None, 0.42),
    "replay": (0.60, None),
}
# noRoute forgetting band (centre, half-width). Full E1: spec §9.18 "noRoute FGT is 0.44-0.54",
# i.e. the reference's 0.489 ± 0.05. Small stream: spec §9.6 asks FGT >= 0.3 against a
# reference of 0.41-0.43; the band mirrors that 0.12 margin above 0.42 so that a learner that
# forgets *more* than any single sequential learner can (a broken metric) also fails.
NOROUTE_FGT_BAND = {"full": (0.489, 0.05), "small": (0.42, 0.12)}
E2_REFERENCE = {  # sigma: (Prizma ACC, Prizma FGT, backprop ACC, backprop FGT), spec §5 E2
    0.0: (0.827, 0.000, 0.433, 0.562), 0.3: (0.721, 0.016, 0.299, 0.608),
    0.6: (0.557, 0.052, 0.261, 0.508), 0.9: (0.430, 0.073, 0.239, 0.421),
    1.2: (0.344, 0.077, 0.222, 0.350),
}
E3_REFERENCE = {3: 0.556, 4: 0.692, 5: 0.827, 6: 0.827, 8: 0.827}  # ACC by M, spec §5 E3
E4_REFERENCE = {"prizma_dfa": (0.827, 0.0), "prizma_exact_reference": (0.691, 0.0),
                "prizma_exact": (None, 0.0)}  # spec §5 E4 (5 seeds)
E5_REFERENCE = {"prizma_dfa": (0.570, None), "backprop": (0.694, None)}  # spec §5 E5
E5_CEILING_REFERENCE = 0.780  # spec §3: single-head ceiling of the K=3 board
DIGITS_REFERENCE = {  # spec §8 (3 seeds)
    "permuted": {"prizma_dfa": (0.892, 0.0), "prizma_exact_reference": (0.681, 0.0),
                 "backprop": (0.500, 0.560), "noroute": (0.517, 0.470), "oracle": (0.947, 0.0)},
    "rotated": {"prizma_dfa": (0.640, 0.001), "backprop": (0.566, 0.501),
                "oracle": (0.948, 0.0)},
}
DIGITS_EXPERTS_REFERENCE = {"permuted": 5, "rotated": 3}  # experts allocated, spec §8


def _seeds_ok(seeds: tuple[int, ...]) -> None:
    require(len(seeds) >= 1, "seeds", "need at least one seed")
    require(len(set(seeds)) == len(seeds), "seeds", f"must be distinct, got {seeds}")
    require(all(int(s) == s and s >= 0 for s in seeds), "seeds", "must be integers >= 0")


def _common(cfg) -> None:
    _seeds_ok(cfg.seeds)
    require(cfg.epochs >= 1, "epochs", "must be >= 1")
    require(cfg.tolerance > 0, "tolerance", "must be > 0")


@dataclass(frozen=True)
class E1Config:
    """E1: every learner on the structured-permuted stream (T=5, d=24, C=8)."""

    seeds: tuple[int, ...] = tuple(range(10))
    epochs: int = 15
    n_samples: int = 6000
    n_tasks: int = 5
    learners: tuple[str, ...] = LEARNERS
    tolerance: float = 0.03

    def __post_init__(self) -> None:
        _common(self)
        require(self.n_tasks >= 2, "n_tasks", "need at least two domains")
        unknown = sorted(set(self.learners) - set(LEARNERS))
        require(bool(self.learners) and not unknown, "learners",
                f"unknown {unknown}; known: {list(LEARNERS)}")

    @property
    def scale(self) -> str | None:
        """'full' (the reference's E1), 'small' (spec §9's 3-epoch stream) or None."""
        if self.n_samples == 6000 and self.n_tasks == 5:
            return {15: "full", 3: "small"}.get(self.epochs)
        return None


def small_e1_config(**changes) -> E1Config:
    """The spec's small stream: 3 epochs, seeds 0-2 (acceptance checks, default test suite)."""
    return replace(E1Config(seeds=(0, 1, 2), epochs=3), **changes)


@dataclass(frozen=True)
class E2Config:
    """E2: separability sweep over input noise σ; Prizma DFA vs backprop."""

    seeds: tuple[int, ...] = tuple(range(5))
    epochs: int = 15
    sigmas: tuple[float, ...] = (0.0, 0.3, 0.6, 0.9, 1.2)
    tolerance: float = 0.03

    def __post_init__(self) -> None:
        _common(self)
        require(len(self.sigmas) >= 1, "sigmas", "need at least one noise level")
        require(all(s >= 0 for s in self.sigmas), "sigmas", "must be >= 0")


@dataclass(frozen=True)
class E3Config:
    """E3: capacity sweep over the number of experts M (5 domains)."""

    seeds: tuple[int, ...] = tuple(range(5))
    epochs: int = 15
    capacities: tuple[int, ...] = (3, 4, 5, 6, 8)
    tolerance: float = 0.03

    def __post_init__(self) -> None:
        _common(self)
        require(len(self.capacities) >= 1 and min(self.capacities) >= 1, "capacities",
                "need at least one capacity, each >= 1")


@dataclass(frozen=True)
class E4Config:
    """E4: locality; DFA vs exact W^T (sign fixed) vs the reference's sign-flipped exact."""

    seeds: tuple[int, ...] = tuple(range(5))
    epochs: int = 15
    tolerance: float = 0.03
    max_gap: float = 0.05  # spec §9.10: sign-fixed exact and DFA ACC within 0.05

    def __post_init__(self) -> None:
        _common(self)
        require(self.max_gap > 0, "max_gap", "must be > 0")


@dataclass(frozen=True)
class E5Config:
    """E5: the fully ambiguous rotating checkerboard (K=3).

    Prizma on the raw 2-D input and on the frozen RBF lift; backprop on the RBF lift (two hidden
    layers of `mlp.hidden`; the reference used one). `ceiling_margin` is the sampling slack
    allowed above the single-head ceiling measured on the same test points.
    """

    seeds: tuple[int, ...] = tuple(range(5))
    epochs: int = 30
    prizma: PrizmaConfig = field(default_factory=lambda: PrizmaConfig(hidden=32, n_experts=5))
    mlp_epochs: int = 40
    mlp: MLPConfig = field(default_factory=lambda: MLPConfig(hidden=64, lr=0.2))
    tolerance: float = 0.05
    ceiling_margin: float = 0.03

    def __post_init__(self) -> None:
        _common(self)
        require(self.mlp_epochs >= 1, "mlp_epochs", "must be >= 1")
        require(self.ceiling_margin >= 0, "ceiling_margin", "must be >= 0")


@dataclass(frozen=True)
class DigitsRunConfig:
    """Every learner on scikit-learn's 8x8 digits, permuted (5 domains) or rotated (4 domains)."""

    kind: str = "permuted"
    seeds: tuple[int, ...] = tuple(range(10))
    epochs: int = 15
    learners: tuple[str, ...] = LEARNERS
    tolerance: float = 0.05
    experts_tolerance: float = 0.5  # |mean experts allocated - reference| allowed

    def __post_init__(self) -> None:
        _common(self)
        require(self.kind in DIGITS_REFERENCE, "kind", f"must be one of {list(DIGITS_REFERENCE)}")
        unknown = sorted(set(self.learners) - set(LEARNERS))
        require(bool(self.learners) and not unknown, "learners",
                f"unknown {unknown}; known: {list(LEARNERS)}")

    @property
    def n_tasks(self) -> int:
        return 5 if self.kind == "permuted" else 4
