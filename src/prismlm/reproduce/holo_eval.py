"""The seed's headline measurements, each as the spec defines it (prism-holo.md §2).

* `holo_specificity`: N = 8 random bipolar facts in a D = 8192 MAP tape; per key,
  cos(unbind(k), v_true) − cos(unbind(k), v_random); mean over keys (reference: +0.355).
  Pure algebra: it equals ≈ 1/√N whatever model sits around the tape.
* `neural_tape_specificity`: an untrained toy model with PRISM's soft-attention tape read head;
  seed slot 0 of the tape with a random d_mem signal; Pearson correlation, across the
  vocabulary, between each token's last-position logit shift (seeded − scratch) and the cosine
  of the token embedding's first d_mem coordinates with the seed; mean over 10 trials
  (reference: +0.006, sd 0.147).
* `end_to_end_specificity` (prismlm's addition, one metric applied to a model holding a
  holographic memory): an untrained toy model with a `HoloHead`; N facts (token a_i -> token
  b_i) are bound into the head's tape without training; for a prompt ending in a_i, correlate
  the logit shift (seeded − scratch) with each token embedding's cosine to b_i's embedding.
* `n_facts_retrieval`: N random bipolar facts in D = 8192; hit when cleanup (argmax cosine over
  the N stored values) returns the right value (reference: 200 facts, 100%; 10 facts ≥ 0.9).
"""

from __future__ import annotations

import math
import statistics

import torch
from torch import nn

from ..memory.capacity import predicted_accuracy
from ..memory.holo_head import HoloHead, HoloHeadConfig
from ..memory.holo_tape import HoloTape
from ..ops.vsa import cosine_matrix, map_bind, map_unbind, random_bipolar, superpose

__all__ = [
    "holo_specificity",
    "neural_tape_specificity",
    "end_to_end_specificity",
    "n_facts_retrieval",
    "pearson",
]


def pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of two [V] vectors."""
    a, b = a.double() - a.double().mean(), b.double() - b.double().mean()
    return float((a * b).sum() / (a.norm() * b.norm()).clamp_min(1e-12))


def _summary(values: list[float]) -> dict:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return {
        "mean": statistics.fmean(values),
        "sd": sd,
        "se": sd / math.sqrt(len(values)),
        "min": min(values),
        "max": max(values),
        "trials": len(values),
    }


def holo_specificity(n_facts: int = 8, dim: int = 8192, trials: int = 10, seed: int = 0) -> dict:
    """Algebraic specificity of a MAP tape (see module docstring); theory 1/√N."""
    g = torch.Generator().manual_seed(seed)
    per_trial = []
    for _ in range(trials):
        keys, values = random_bipolar(n_facts, dim, g), random_bipolar(n_facts, dim, g)
        decoys = random_bipolar(n_facts, dim, g)
        tape = superpose(map_bind(keys, values))
        noisy = map_unbind(tape, keys)
        true = cosine_matrix(noisy, values).diagonal()
        rand = cosine_matrix(noisy, decoys).diagonal()
        per_trial.append(float((true - rand).mean()))
    out = _summary(per_trial)
    out.update(n_facts=n_facts, dim=dim, theory=1 / math.sqrt(n_facts))
    return out


class _NeuralTapeToy(nn.Module):
    """Untrained toy LM with PRISM's soft-attention memory read (q = W_q x,
    softmax(q Mᵀ/√d_mem) M, W_out) between MLP blocks; tied embeddings."""

    def __init__(self, vocab=64, d_model=32, d_mem=16, n_layers=3) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        nn.init.normal_(self.embed.weight, std=0.02)
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(2 * n_layers))
        self.mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.GELU(), nn.Linear(2 * d_model, d_model))
            for _ in range(n_layers)
        )
        self.q = nn.ModuleList(nn.Linear(d_model, d_mem) for _ in range(n_layers))
        self.out = nn.ModuleList(nn.Linear(d_mem, d_model) for _ in range(n_layers))
        self.final = nn.LayerNorm(d_model)
        self.d_mem = d_mem

    def forward(self, ids: torch.Tensor, tape: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids)
        for i, mlp in enumerate(self.mlps):
            x = x + mlp(self.norms[2 * i](x))
            q = self.q[i](self.norms[2 * i + 1](x))
            w = torch.softmax(q @ tape.T / math.sqrt(self.d_mem), dim=-1)
            x = x + self.out[i](w @ tape)
        return self.final(x) @ self.embed.weight.T


@torch.no_grad()
def neural_tape_specificity(
    trials: int = 10, vocab: int = 64, d_model: int = 32, d_mem: int = 16, slots: int = 8, seed: int = 0
) -> dict:
    """The reference's logit-shift specificity of a seeded neural tape (module docstring)."""
    per_trial = []
    for t in range(trials):
        torch.manual_seed(seed + t)
        model = _NeuralTapeToy(vocab, d_model, d_mem).eval()
        ids = torch.randint(2, vocab, (1, 6))
        signal = torch.randn(d_mem)
        scratch = torch.zeros(slots, d_mem)
        seeded = scratch.clone()
        seeded[0] = signal
        shift = model(ids, seeded)[0, -1] - model(ids, scratch)[0, -1]
        align = torch.cosine_similarity(model.embed.weight[:, :d_mem], signal[None], dim=-1)
        per_trial.append(pearson(shift, align))
    out = _summary(per_trial)
    out.update(vocab=vocab, d_model=d_model, d_mem=d_mem, slots=slots)
    return out


@torch.no_grad()
def end_to_end_specificity(
    n_facts: int = 8,
    dim: int = 8192,
    vocab: int = 256,
    d_model: int = 64,
    prompt_len: int = 6,
    trials: int = 10,
    seed: int = 0,
) -> dict:
    """Logit-shift specificity of an untrained toy model whose memory is a HoloHead seeded with
    N facts by algebra alone (module docstring). Also reports how often the seeded value's
    token gains the most logit (top-1 of the shift)."""
    per_trial, hits, total = [], 0, 0
    for t in range(trials):
        torch.manual_seed(seed + t)
        embed = torch.randn(vocab, d_model) / math.sqrt(d_model)
        head = HoloHead(HoloHeadConfig(d_model, dim, key_shift=1, trainable_encoders=False))
        toks = torch.randperm(vocab)[: 2 * n_facts]
        a, b = toks[:n_facts], toks[n_facts:]
        tape = head.write_facts(embed[a], embed[b])
        corrs = []
        for i in range(n_facts):
            ids = torch.randint(0, vocab, (1, prompt_len))
            ids[0, -1] = a[i]
            x = embed[ids]
            shift = (head(x, tape=tape)[0, -1] - head(x)[0, -1]) @ embed.T
            align = torch.cosine_similarity(embed, embed[b[i]][None], dim=-1)
            corrs.append(pearson(shift, align))
            hits += int(shift.argmax() == b[i])
            total += 1
        per_trial.append(statistics.fmean(corrs))
    out = _summary(per_trial)
    out.update(n_facts=n_facts, dim=dim, vocab=vocab, d_model=d_model, top1_hit_rate=hits / total)
    return out


def n_facts_retrieval(n_facts: int = 200, dim: int = 8192, trials: int = 5, seed: int = 0) -> dict:
    """Cleanup accuracy with N random facts stored in one MAP tape (module docstring)."""
    g = torch.Generator().manual_seed(seed)
    accs = []
    for _ in range(trials):
        keys, values = random_bipolar(n_facts, dim, g), random_bipolar(n_facts, dim, g)
        tape = HoloTape(dim)
        ids = tape.bind_many(keys, values)
        accs.append(float((tape.query(keys).fact_ids[:, 0] == ids).float().mean()))
    out = _summary(accs)
    p = predicted_accuracy(dim, n_facts)
    out.update(
        n_facts=n_facts,
        dim=dim,
        perfect_trials=sum(a == 1.0 for a in accs),
        predicted_accuracy=p,
        predicted_p_perfect=p**n_facts,
    )
    return out
