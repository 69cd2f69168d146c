"""`prismlm bench prism` (speed), `prismlm bench prism-compare` (toy comparison + routing) and
`prismlm reproduce prism` (PRISM's claims, measured)."""

from __future__ import annotations

from pathlib import Path

import typer

from .apps import bench_app


def _csv(text: str) -> list[str]:
    return [x for x in text.split(",") if x]


@bench_app.command("prism")
def bench_prism_cmd(
    out: Path = typer.Option(Path("results/prism"), help="output folder"),
    quick: bool = typer.Option(False, help="small sizes, one repeat, for a smoke run"),
    threads: int = typer.Option(0, help="torch threads (0: leave torch's default)"),
) -> None:
    """MRB chunked scan vs recurrent loop (T = 256/1024/4096) and PrismLM vs a matched Transformer step."""
    import torch

    from ..bench.prism_speed import bench_prism_speed

    if threads:
        torch.set_num_threads(threads)
    lengths = (64, 256) if quick else (256, 1024, 4096)
    bench_prism_speed(out, lengths=lengths, quick=quick)


@bench_app.command("prism-compare")
def prism_compare_cmd(
    task: list[str] = typer.Option(
        ["induction"], help="induction | copy | mini_lm | reasoning | reasoning_steps"
    ),
    seeds: str = typer.Option("0,1,2", help="comma-separated seeds"),
    steps: int = typer.Option(0, help="override the step budget (0: keep the scale's)"),
    models: str = typer.Option(
        "", help="comma-separated: prism, transformer, ssm, prism_slow (default: first three)"
    ),
    scale: str = typer.Option("cpu", help="smoke | cpu | paper"),
    out: Path = typer.Option(Path("results/prism"), help="output folder"),
    device: str = typer.Option("auto", help="auto | cpu | cuda[:N]"),
    threads: int = typer.Option(1, help="torch threads (1 avoids oversubscription)"),
) -> None:
    """Train PRISM, Transformer and SSM with the same loop/budget/seeds; table + routing report."""
    import torch

    from ..reproduce.prism import compare_prism

    if threads:
        torch.set_num_threads(threads)
    try:
        compare_prism(
            task, [int(s) for s in _csv(seeds)], out, steps or None, _csv(models) or None, device, scale
        )
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err
