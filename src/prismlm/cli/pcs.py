"""`prismlm reproduce pcs` (progressive stacking vs from scratch, CPU scale) and
`prismlm demo two-axes` (grow a holo-PRISM, bind facts into its own tape, read them)."""

from __future__ import annotations

from pathlib import Path

import typer

from .apps import demo_app, reproduce_app


@reproduce_app.command("pcs")
def reproduce_pcs_cmd(
    out: Path = typer.Option(Path("results/pcs"), help="output folder"),
    seeds: str = typer.Option("0,1,2", help="comma-separated seeds"),
    steps: int = typer.Option(200, help="total optimizer steps of each run"),
    run_dir: Path = typer.Option(None, help="resumable run folders (one per stage, per seed)"),
    threads: int = typer.Option(1, help="torch threads"),
) -> None:
    """Tokens and wall-clock to reach the from-scratch model's final val loss (tiny-shakespeare)."""
    import torch

    from ..reproduce.pcs import measure_pcs

    torch.set_num_threads(threads)
    payload = measure_pcs(out, [int(s) for s in seeds.split(",") if s], total_steps=steps, run_dir=run_dir)
    saving = payload["summary"]["tokens_saving"]["mean"]
    typer.echo(f"token saving {saving:.1%}; verdict: {payload['verdict']}")


@demo_app.command("two-axes")
def demo_two_axes_cmd(
    out: Path = typer.Option(Path("results/pcs"), help="output folder"),
    seed: int = typer.Option(0, help="seed"),
    strength: float = typer.Option(4.0, help="weight of the bound facts against in-context writes"),
) -> None:
    """Grow a small holo-PRISM, bind 4 unseen facts into its own tape, measure it reading them."""
    import torch

    from ..reproduce.two_axes import _markdown, run_two_axes

    torch.set_num_threads(1)
    typer.echo(_markdown(run_two_axes(out, seed=seed, strength=strength)))
