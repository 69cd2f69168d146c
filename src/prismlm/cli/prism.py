"""`prismlm bench prism` (speed) and `prismlm bench prism-compare` (toy comparison + routing)."""

from __future__ import annotations

from pathlib import Path

import typer

from .apps import bench_app


@bench_app.command("prism")
def bench_prism_cmd(
    out: Path = typer.Option(Path("results/prism"), help="output folder"),
    quick: bool = typer.Option(False, help="small sizes, one repeat, for a smoke run"),
    threads: int = typer.Option(0, help="torch threads (0: leave torch's default)"),
) -> None:
    """MRB chunked scan vs recurrent loop (T = 256/1024/4096) and PrismLM vs Transformer step."""
    import torch

    from ..reproduce.prism import bench_prism

    if threads:
        torch.set_num_threads(threads)
    lengths = (64, 256) if quick else (256, 1024, 4096)
    bench_prism(out, lengths=lengths, quick=quick)


@bench_app.command("prism-compare")
def prism_compare_cmd(
    task: list[str] = typer.Option(
        ["induction"], help="induction | copy | mini_lm | reasoning | reasoning_steps"
    ),
    preset: str = typer.Option("prism-toy", help="comparison preset"),
    seeds: str = typer.Option("0,1,2", help="comma-separated seeds"),
    steps: int = typer.Option(0, help="override the preset's step budget (0: keep)"),
    models: str = typer.Option("", help="comma-separated model names (default: all three)"),
    out: Path = typer.Option(Path("results/prism"), help="output folder"),
    threads: int = typer.Option(1, help="torch threads (1 avoids oversubscription)"),
) -> None:
    """Train PRISM, Transformer and SSM with the same loop/budget/seeds; table + routing report."""
    import torch

    from ..reproduce.prism import compare_prism

    if threads:
        torch.set_num_threads(threads)
    compare_prism(
        preset,
        task,
        seeds=[int(s) for s in seeds.split(",") if s],
        out=out,
        steps=steps or None,
        models=[m for m in models.split(",") if m] or None,
    )


def _register() -> None:
    # `prismlm compare --preset prism-toy-<task>` needs PRISM's arms and presets registered.
    from ..reproduce.prism import register_compare_hooks

    register_compare_hooks()


_register()
