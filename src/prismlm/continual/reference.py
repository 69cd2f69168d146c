"""Plain per-run Prizma in NumPy: one seed, one config, one expert at a time.

The readable check for the batched fast path in `learner.py`: the same equations written as
loops a reader can verify by eye, with nothing vectorised across runs or experts. Tests assert
that both give the same accuracy matrix. Slow; not used by the experiments.
"""

from __future__ import annotations

import numpy as np

from .learner import PrizmaConfig, init_expert


class ReferencePrizma:
    def __init__(self, cfg: PrizmaConfig, seed: int, n_in: int, n_classes: int) -> None:
        self.cfg, self.C = cfg, n_classes
        self.experts = [init_expert(seed, m, n_in, cfg.hidden, n_classes)
                        for m in range(cfg.n_experts)]
        for e in self.experts:
            e.update(mu=None, var=1.0, n_seen=0, committed=False)
        self.active = 0

    @staticmethod
    def _forward(e, x):
        z = np.tanh(x @ e["We"].T + e["be"])
        return z, x - (z @ e["Wd"].T + e["bd"])

    def surprise(self, e, x) -> np.ndarray:
        return (self._forward(e, x)[1] ** 2).mean(1)

    def _recognises(self, e, x) -> bool:
        return e["mu"] is not None and self.surprise(e, x).mean() <= e["mu"] + \
            self.cfg.z_novel * np.sqrt(e["var"])

    def _train(self, e, x, y) -> None:
        c, n = self.cfg, len(x)
        z, err = self._forward(e, x)
        logits = np.clip(z @ e["Wc"].T + e["bc"], -60, 60)
        p = np.exp(logits - logits.max(1, keepdims=True))
        d = p / p.sum(1, keepdims=True) - np.eye(self.C)[y]
        wd_old, wc_old = e["Wd"].copy(), e["Wc"].copy()
        e["Wd"] = e["Wd"] + c.lr * err.T @ z / n
        e["bd"] = e["bd"] + c.lr * err.mean(0)
        e["Wc"] = e["Wc"] - c.lr_cls * d.T @ z / n
        e["bc"] = e["bc"] - c.lr_cls * d.mean(0)
        if c.feedback == "random":
            credit = err @ e["Bd"].T + c.lambda_cls * d @ e["Bc"].T
        elif c.feedback == "exact":
            credit = err @ wd_old - c.lambda_cls * d @ wc_old
        else:
            credit = err @ e["Wd"] + c.lambda_cls * d @ e["Wc"]
        g = credit * (1 - z**2)
        e["We"] = e["We"] + c.lr * g.T @ x / n
        e["be"] = e["be"] + c.lr * g.mean(0)
        e["n_seen"] += n
        r = self.surprise(e, x).mean()
        if e["mu"] is None:
            e["mu"], e["var"] = r, max(1e-4, (0.1 * r) ** 2)
        else:
            delta = r - e["mu"]
            e["mu"] += 0.05 * delta
            e["var"] = 0.95 * e["var"] + 0.05 * delta**2

    def observe(self, x: np.ndarray, y: np.ndarray) -> None:
        if not self.cfg.route:
            self._train(self.experts[0], x, y)
            return
        for e in self.experts:
            if e["committed"] and self._recognises(e, x):
                return
        if self.active >= self.cfg.n_experts:
            return
        a = self.experts[self.active]
        if a["n_seen"] < self.cfg.commit_after or self._recognises(a, x):
            self._train(a, x, y)
            return
        a["committed"] = True
        self.active += 1
        if self.active < self.cfg.n_experts:
            self._train(self.experts[self.active], x, y)

    def predict(self, x: np.ndarray) -> np.ndarray:
        trained = [e for e in self.experts if e["n_seen"] > 0] or self.experts
        s = np.stack([self.surprise(e, x) for e in trained])
        best = s.argmin(0)
        out = np.empty(len(x), dtype=np.int64)
        for k, e in enumerate(trained):
            rows = best == k
            z = np.tanh(x[rows] @ e["We"].T + e["be"])
            out[rows] = (z @ e["Wc"].T + e["bc"]).argmax(1)
        return out
