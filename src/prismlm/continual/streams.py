"""Domain streams for continual learning, stacked over seeds.

A stream is a pure function of (config, seeds). Every stream holds T domains that arrive in
contiguous blocks; its arrays carry a leading seed axis so that all seeds train side by side:

    x_train: [S, T, N, d] float32     y_train: [S, T, N] int64
    x_test:  [S, T, Nt, d] float32    y_test:  [S, T, Nt] int64

Streams:
- `structured_permuted`: Gaussian latents l ~ N(0, I_k) mixed to d dims by a random A (v = l Aᵀ,
  columns scaled to unit std), optional iid noise σ, labels from a random tanh teacher on the
  latents. Domain t permutes the d columns (domain 0 = identity); samples and labels are shared.
  Since cov(v) = AAᵀ is not isotropic, each domain lives on its own 8-d subspace: the domains are
  distinguishable from the input while the input->label map conflicts across them.
  As in the reference the noise is drawn before the teacher, so σ > 0 also changes the labels.
- `digits`: scikit-learn's bundled 8x8 digits (pixels/16) under pixel permutations or exact
  90-degree rotations: a real-data stream that needs no download.
- `checkerboard`: the fully ambiguous rotating 2-D checkerboard (identical input distribution in
  every domain, conflicting labels).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..config import require


@dataclass
class Stream:
    """A blocked domain stream stacked over seeds (shapes in the module docstring)."""

    name: str
    seeds: tuple[int, ...]
    n_classes: int
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        # row-major storage, so a minibatch is a copy of whole rows (the column permutations
        # of the structured stream otherwise leave x column-major, and every gather strided)
        for name in ("x_train", "y_train", "x_test", "y_test"):
            setattr(self, name, getattr(self, name).contiguous())
        validate_stream(self)

    @property
    def n_seeds(self) -> int:
        return self.x_train.shape[0]

    @property
    def n_tasks(self) -> int:
        return self.x_train.shape[1]

    @property
    def n_in(self) -> int:
        return self.x_train.shape[-1]


def validate_stream(stream: Stream) -> None:
    """Raise a ValueError that names the problem: empty, mis-shaped, non-finite or bad labels."""
    xs, ys, xt, yt = stream.x_train, stream.y_train, stream.x_test, stream.y_test
    if xs.ndim != 4 or xt.ndim != 4:
        raise ValueError(f"stream '{stream.name}': x arrays must be [S, T, N, d], "
                         f"got {tuple(xs.shape)} and {tuple(xt.shape)}")
    if xs.numel() == 0 or xt.numel() == 0 or xs.shape[1] == 0:
        raise ValueError(f"stream '{stream.name}' is empty: x_train {tuple(xs.shape)}, "
                         f"x_test {tuple(xt.shape)}")
    if ys.shape != xs.shape[:3] or yt.shape != xt.shape[:3]:
        raise ValueError(f"stream '{stream.name}': labels {tuple(ys.shape)}/{tuple(yt.shape)} do "
                         f"not match inputs {tuple(xs.shape)}/{tuple(xt.shape)}")
    if xs.shape[0] != xt.shape[0] or xs.shape[1] != xt.shape[1] or xs.shape[3] != xt.shape[3]:
        raise ValueError(f"stream '{stream.name}': train {tuple(xs.shape)} and test "
                         f"{tuple(xt.shape)} disagree on seeds, domains or input dimension")
    for name, x in (("x_train", xs), ("x_test", xt)):
        if not torch.isfinite(x).all():
            raise ValueError(f"stream '{stream.name}': {name} contains NaN or infinite values")
    lo = min(int(ys.min()), int(yt.min()))
    hi = max(int(ys.max()), int(yt.max()))
    if lo < 0 or hi >= stream.n_classes:
        raise ValueError(f"stream '{stream.name}': labels span [{lo}, {hi}] outside "
                         f"[0, {stream.n_classes})")


def _stack(name: str, seeds, n_classes: int, parts: list[tuple], info: dict) -> Stream:
    xs, ys, xt, yt = (np.stack([p[i] for p in parts]) for i in range(4))
    return Stream(name, tuple(int(s) for s in seeds), n_classes,
                  torch.from_numpy(xs.astype(np.float32)), torch.from_numpy(ys.astype(np.int64)),
                  torch.from_numpy(xt.astype(np.float32)), torch.from_numpy(yt.astype(np.int64)),
                  info)


def _split(n: int, seed: int, test_frac: float) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed + 999).permutation(n)
    n_test = int(round(test_frac * n))
    return order[n_test:], order[:n_test]


def _domain_perms(n_tasks: int, d: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed + 1)
    return [np.arange(d)] + [rng.permutation(d) for _ in range(n_tasks - 1)]


@dataclass(frozen=True)
class StructuredPermutedConfig:
    """The E1-E4 stream: T domains = column permutations of one low-rank Gaussian dataset."""

    n_tasks: int = 5
    n_samples: int = 6000
    n_in: int = 24
    latent: int = 8
    n_classes: int = 8
    noise: float = 0.0
    test_frac: float = 0.2
    teacher_hidden: int = 32

    def __post_init__(self) -> None:
        require(self.n_tasks >= 1, "n_tasks", "need at least one domain")
        require(self.n_samples >= 2, "n_samples", "need at least two samples")
        require(self.n_in >= 1, "n_in", "must be positive")
        require(1 <= self.latent <= self.n_in, "latent", "must lie in [1, n_in]")
        require(self.n_classes >= 2, "n_classes", "need at least two classes")
        require(self.noise >= 0 and np.isfinite(self.noise), "noise", "must be finite and >= 0")
        require(0 < self.test_frac < 1, "test_frac", "must lie in (0, 1)")
        require(self.teacher_hidden >= 1, "teacher_hidden", "must be positive")


def _structured_one(cfg: StructuredPermutedConfig, seed: int) -> tuple:
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(cfg.n_in, cfg.latent))
    lat = rng.normal(size=(cfg.n_samples, cfg.latent))
    v = lat @ mix.T
    v = v / (v.std(axis=0) + 1e-6)
    if cfg.noise > 0:
        v = v + cfg.noise * rng.normal(size=v.shape)
    w1 = rng.normal(scale=1 / np.sqrt(cfg.latent), size=(cfg.latent, cfg.teacher_hidden))
    w2 = rng.normal(scale=1 / np.sqrt(cfg.teacher_hidden),
                    size=(cfg.teacher_hidden, cfg.n_classes))
    y = np.argmax(np.tanh(lat @ w1) @ w2, axis=1)
    tr, te = _split(cfg.n_samples, seed, cfg.test_frac)
    perms = _domain_perms(cfg.n_tasks, cfg.n_in, seed)
    xs = np.stack([v[tr][:, p] for p in perms])
    xt = np.stack([v[te][:, p] for p in perms])
    t = cfg.n_tasks
    return xs, np.tile(y[tr], (t, 1)), xt, np.tile(y[te], (t, 1))


def structured_permuted(cfg: StructuredPermutedConfig, seeds) -> Stream:
    """The structured-permuted stream for every seed (data seed = run seed)."""
    seeds = list(seeds)
    require(len(seeds) > 0, "seeds", "need at least one seed")
    parts = [_structured_one(cfg, s) for s in seeds]
    return _stack("structured_permuted", seeds, cfg.n_classes, parts, {"config": cfg})


@dataclass(frozen=True)
class DigitsConfig:
    """scikit-learn 8x8 digits: 'permuted' pixel domains or 'rotated' 0/90/180/270 degrees."""

    kind: str = "permuted"
    n_tasks: int = 5
    test_frac: float = 0.2

    def __post_init__(self) -> None:
        require(self.kind in ("permuted", "rotated"), "kind", "must be 'permuted' or 'rotated'")
        require(self.n_tasks >= 1, "n_tasks", "need at least one domain")
        require(self.kind != "rotated" or self.n_tasks <= 4, "n_tasks",
                "rotated digits have at most 4 distinct rotations")
        require(0 < self.test_frac < 1, "test_frac", "must lie in (0, 1)")


def digits(cfg: DigitsConfig, seeds) -> Stream:
    """Permuted or rotated digits; pixels scaled to [0, 1] by /16 (z-scoring breaks routing)."""
    from sklearn.datasets import load_digits

    seeds = list(seeds)
    require(len(seeds) > 0, "seeds", "need at least one seed")
    data = load_digits()
    images = data.images.astype(np.float64) / 16.0
    labels = data.target
    flat = images.reshape(len(images), -1)
    parts = []
    for s in seeds:
        tr, te = _split(len(flat), s, cfg.test_frac)
        if cfg.kind == "permuted":
            doms = [flat[:, p] for p in _domain_perms(cfg.n_tasks, flat.shape[1], s)]
        else:
            doms = [np.rot90(images, k, axes=(1, 2)).reshape(len(images), -1)
                    for k in range(cfg.n_tasks)]
        parts.append((np.stack([dm[tr] for dm in doms]), np.tile(labels[tr], (cfg.n_tasks, 1)),
                      np.stack([dm[te] for dm in doms]), np.tile(labels[te], (cfg.n_tasks, 1))))
    return _stack(f"digits_{cfg.kind}", seeds, 10, parts, {"config": cfg})


@dataclass(frozen=True)
class CheckerboardConfig:
    """Rotating checkerboard: domain t rotates the plane by pi*t/K; same input distribution."""

    n_tasks: int = 3
    n_per_split: int = 4000
    train_base: int = 1000
    test_base: int = 5000
    seed_stride: int = 10

    def __post_init__(self) -> None:
        require(self.n_tasks >= 1, "n_tasks", "need at least one domain")
        require(self.n_per_split >= 1, "n_per_split", "must be positive")


def checkerboard_labels(x: np.ndarray, task: int, n_tasks: int) -> np.ndarray:
    """label = (floor(z0) + floor(z1)) mod 2 with z = R(pi*task/n_tasks) x."""
    a = np.pi * task / n_tasks
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    z = x @ rot.T
    return (np.floor(z[:, 0]) + np.floor(z[:, 1])).astype(np.int64) % 2


def _board(n: int, seed: int, task: int, n_tasks: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(seed).uniform(-2, 2, size=(n, 2))
    return x, checkerboard_labels(x, task, n_tasks)


def checkerboard(cfg: CheckerboardConfig, seeds) -> Stream:
    """Raw 2-D checkerboard stream; `rbf_lift` gives the reference's 120-d features."""
    seeds = list(seeds)
    require(len(seeds) > 0, "seeds", "need at least one seed")
    parts = []
    for s in seeds:
        off = cfg.seed_stride * s
        tr = [_board(cfg.n_per_split, cfg.train_base + off + t, t, cfg.n_tasks)
              for t in range(cfg.n_tasks)]
        te = [_board(cfg.n_per_split, cfg.test_base + off + t, t, cfg.n_tasks)
              for t in range(cfg.n_tasks)]
        parts.append((np.stack([a for a, _ in tr]), np.stack([b for _, b in tr]),
                      np.stack([a for a, _ in te]), np.stack([b for _, b in te])))
    return _stack("checkerboard", seeds, 2, parts, {"config": cfg})


def rbf_lift(stream: Stream, n_centres: int = 120, width: float = 0.32, seed: int = 123) -> Stream:
    """Frozen RBF features phi_k(x) = exp(-|x - c_k|^2 / (2 width^2)), centres U(-2.2, 2.2)^2."""
    centres = np.random.default_rng(seed).uniform(-2.2, 2.2, size=(n_centres, 2))
    c = torch.from_numpy(centres.astype(np.float32))

    def lift(x: torch.Tensor) -> torch.Tensor:
        d2 = ((x[..., None, :] - c) ** 2).sum(-1)
        return torch.exp(-d2 / (2 * width**2))

    return Stream(stream.name + "_rbf", stream.seeds, stream.n_classes, lift(stream.x_train),
                  stream.y_train, lift(stream.x_test), stream.y_test, dict(stream.info))


def checkerboard_ceiling(n_tasks: int, n_points: int = 20000, seed: int = 7) -> float:
    """Best single-head accuracy: mean over tasks of agreement with the per-x majority label."""
    x = np.random.default_rng(seed).uniform(-2, 2, size=(n_points, 2))
    labs = np.stack([checkerboard_labels(x, t, n_tasks) for t in range(n_tasks)])
    ones = labs.mean(0)
    return float(np.maximum(ones, 1 - ones).mean())


def single_head_ceiling(x_by_task: np.ndarray) -> float:
    """The best accuracy any predictor of x alone reaches on these checkerboard test points.

    x_by_task: [T, n, 2], the raw test inputs of each of the T domains. Since every domain draws
    x from the same distribution, a task-blind predictor can do no better in expectation than
    answer the majority label over the T rotations at each x. This is that rule's accuracy on
    exactly these points: an unbiased estimate of the ceiling (sampling sd ~ 0.004 for
    3 x 4000 points), which a learner's accuracy on the same points can exceed only by noise.
    """
    x_by_task = np.asarray(x_by_task, dtype=np.float64)
    n_tasks = x_by_task.shape[0]
    agree = []
    for t in range(n_tasks):
        labs = np.stack([checkerboard_labels(x_by_task[t], k, n_tasks) for k in range(n_tasks)])
        majority = (labs.mean(0) > 0.5).astype(labs.dtype)
        agree.append(float((labs[t] == majority).mean()))
    return float(np.mean(agree))


def interleave(stream: Stream) -> Stream:
    """Merge all domains into one block whose batches mix domains (a documented limit)."""
    s, t, n, d = stream.x_train.shape
    xs = stream.x_train.reshape(s, 1, t * n, d)
    ys = stream.y_train.reshape(s, 1, t * n)
    info = dict(stream.info, interleaved=True, test_domains=t)
    return Stream(stream.name + "_interleaved", stream.seeds, stream.n_classes, xs, ys,
                  stream.x_test.reshape(s, 1, -1, d), stream.y_test.reshape(s, 1, -1), info)


def concat_seeds(streams: list[Stream]) -> Stream:
    """Stack streams of equal shape along the seed axis (a sweep becomes extra pseudo-seeds)."""
    if not streams:
        raise ValueError("concat_seeds needs at least one stream")
    cat = [torch.cat([getattr(s, k) for s in streams]) for k in
           ("x_train", "y_train", "x_test", "y_test")]
    seeds = tuple(x for s in streams for x in s.seeds)
    return Stream(streams[0].name + "_sweep", seeds, streams[0].n_classes, *cat,
                  {"parts": len(streams)})
