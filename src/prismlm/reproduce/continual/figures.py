"""Figures for the continual experiments (matplotlib, Agg backend; functions return figures)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .report import LABELS  # noqa: E402


def _bars(ax, rows: list[dict], metric: str, title: str) -> None:
    names = [r["learner"] for r in rows]
    means = [r["metrics"][metric]["mean"] for r in rows]
    cis = [r["metrics"][metric]["ci95"] for r in rows]
    xs = np.arange(len(rows))
    ax.bar(xs, means, yerr=cis, capsize=3, color="tab:blue", alpha=0.7, label="measured")
    refs = [r["reference"].get(metric) for r in rows]
    ref_x = [x for x, v in zip(xs, refs, strict=True) if v is not None]
    ref_y = [v for v in refs if v is not None]
    if ref_y:
        ax.scatter(ref_x, ref_y, marker="_", s=300, color="k", zorder=3, label="reference")
    ax.set_xticks(xs, [LABELS.get(n, n) for n in names], rotation=35, ha="right", fontsize=7)
    ax.set_title(title)
    ax.legend(fontsize=7)


def learner_figure(rows: list[dict], results: dict, title: str, retention=("prizma_dfa",
                                                                              "backprop")):
    """(A) seed-0 retention R[i, j] for tasks 0-2, (B) ACC and (C) FGT bars with 95% CI."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ax = axes[0]
    for name, style in zip(retention, ("-", "--"), strict=False):
        if name not in results:
            continue
        r = np.asarray(results[name]["R"])[0]
        for j in range(min(3, r.shape[0])):
            stages = np.arange(j, r.shape[0])
            ax.plot(stages, r[j:, j], style, marker="o", color=f"C{j}",
                    label=f"{LABELS.get(name, name)}: task {j}")
    ax.set_xlabel("after training task i")
    ax.set_ylabel("test accuracy on task j (seed 0)")
    ax.set_title("(A) retention")
    ax.legend(fontsize=6)
    _bars(axes[1], rows, "acc", "(B) ACC ± 95% CI")
    _bars(axes[2], rows, "fgt", "(C) FGT (forgetting) ± 95% CI")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def sweep_figure(xs, series: dict[str, tuple[list, list]], xlabel: str, ylabel: str, title: str,
                 hline: float | None = None, hlabel: str = ""):
    """Line plot of mean ± CI per series: series = {label: (means, cis)}."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, (m, c) in series.items():
        ref = label.endswith("(reference)")
        ax.errorbar(xs, m, yerr=None if ref else c, marker="x" if ref else "o", capsize=3,
                    ls=":" if ref else "-", label=label)
    if hline is not None:
        ax.axhline(hline, color="k", ls=":", label=hlabel)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def bars_figure(rows: list[dict], title: str, hline: float | None = None, hlabel: str = ""):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    _bars(axes[0], rows, "acc", "ACC ± 95% CI")
    _bars(axes[1], rows, "fgt", "FGT ± 95% CI")
    if hline is not None:
        axes[0].axhline(hline, color="k", ls=":", label=hlabel)
        axes[0].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
