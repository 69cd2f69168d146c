"""The PRISM toy comparison's markdown table and routing figure, from `compare_prism`'s summary."""

from __future__ import annotations

from typing import Any

KINDS = ("neural", "memory", "symbolic")


def markdown(summary: dict[str, Any]) -> str:
    lines = [
        f"# PRISM toy comparison ({summary['scale']} scale)",
        "",
        f"Seeds {summary['seeds']}; training {summary['train']}. Held-out cross-entropy (nats, "
        "scored positions only, final eval), mean ± 95% CI (Student t) over seeds. Reference = "
        "the seed's README figures, measured on a model whose tape leaks future tokens (spec §7): "
        "not valid next-token figures.",
        "",
        "| task | model | params | CE (ours) | acc | reference CE |",
        "|---|---|---|---|---|---|",
    ]
    for task, agg in summary["tasks"].items():
        for name, a in agg["models"].items():
            ce = a["ce"]
            half = (ce["ci_high"] - ce["ci_low"]) / 2
            ref = agg["reference_ce"].get(name)
            lines.append(
                f"| {task} | {name} | {a['params']:,} | {ce['mean']:.3f} ± {half:.3f} (n={ce['n']}) "
                f"| {a['acc_mean']:.3f} | {'—' if ref is None else ref} |"
            )
        lines.append(f"| {task} | chance | | {agg['chance_ce']:.3f} | | |")
    lines += ["", "## Routing (share of tokens per block; mean MRB gate per rate)", ""]
    lines += ["| task | model | block | neural | memory | symbolic | MRB gate@half-life |"]
    lines += ["|---|---|---|---|---|---|---|"]
    for task, agg in summary["tasks"].items():
        for name, a in agg["models"].items():
            for i, layer in enumerate(a.get("routing", [])):
                f = layer["fractions"]
                shares = [f"{f[k]:.0%}" if k in f else "—" for k in KINDS]
                pairs = sorted(zip(layer["gates"], layer["half_lives"], strict=True), key=lambda p: p[1])
                gates = ", ".join(f"{g:.2f}@{h:.3g}" for g, h in pairs)
                lines.append(f"| {task} | {name} | {i} | " + " | ".join(shares) + f" | {gates} |")
    return "\n".join(lines) + "\n"


def routing_figure(summary: dict[str, Any]):
    """Per task with a routed PRISM model: stacked routing shares per block (top) and mean MRB
    gate against rate half-life per block (bottom). None when no model was routed."""
    tasks = [t for t, a in summary["tasks"].items() if "routing" in a["models"].get("prism", {})]
    if not tasks:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(tasks), figsize=(3.6 * len(tasks), 6), squeeze=False)
    colors = dict(zip(KINDS, ("tab:blue", "tab:orange", "tab:green"), strict=True))
    for j, task in enumerate(tasks):
        layers = summary["tasks"][task]["models"]["prism"]["routing"]
        ax = axes[0, j]
        bottom = [0.0] * len(layers)
        for kind, col in colors.items():
            vals = [lay["fractions"].get(kind, 0.0) for lay in layers]
            ax.bar(range(len(layers)), vals, bottom=bottom, color=col, label=kind)
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
        ax.set_title(f"{task}: routing")
        ax.set_xlabel("block")
        ax.set_ylim(0, 1)
        ax = axes[1, j]
        for i, lay in enumerate(layers):
            ax.plot(lay["half_lives"], lay["gates"], marker="o", label=f"block {i}")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("rate half-life (tokens)")
        ax.set_ylabel("mean gate")
        ax.set_title(f"{task}: MRB gates")
    axes[0, 0].legend(fontsize=7)
    axes[1, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig
