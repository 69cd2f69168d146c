"""`prismlm continual ...`: the Prizma continual-learning experiments and benchmark.

Each experiment command builds its config (seeds 0..n-1) and runs it through the result cache in
<out>/cells/, so re-running an unchanged config reads the stored record.
"""

from pathlib import Path

import typer

from .apps import app

continual_app = typer.Typer(no_args_is_help=True,
                            help="Prizma continual learner: experiments E1-E5, digits, bench.")
app.add_typer(continual_app, name="continual")

OUT = Path("results/continual")
SEEDS = "number of seeds (0..n-1)"
WORKERS = "parallel single-threaded learner jobs (does not change the numbers)"


def _seeds(n: int) -> tuple[int, ...]:
    if n < 1:
        raise typer.BadParameter("need at least one seed", param_hint="--seeds")
    return tuple(range(n))


@continual_app.command("e1")
def e1_cmd(
    seeds: int = typer.Option(10, help=SEEDS),
    epochs: int = typer.Option(15, help="epochs per domain (3 = the spec's small stream)"),
    workers: int = typer.Option(2, help=WORKERS),
    out: Path = typer.Option(OUT / "e1", help="output folder"),
    fresh: bool = typer.Option(False, help="recompute even if the result cache holds this run"),
) -> None:
    """E1: every learner on the structured-permuted stream, measured next to the reference."""
    from ..reproduce.continual.configs import E1Config
    from ..reproduce.continual.experiments import e1

    cfg = E1Config(seeds=_seeds(seeds), epochs=epochs)
    typer.echo(e1(cfg, out, workers, fresh=fresh)["markdown"])


@continual_app.command("e2")
def e2_cmd(seeds: int = typer.Option(5, help=SEEDS), epochs: int = typer.Option(15),
           workers: int = typer.Option(2, help=WORKERS),
           out: Path = typer.Option(OUT / "e2")) -> None:
    """E2: separability sweep over input noise σ (Prizma DFA vs backprop)."""
    from ..reproduce.continual.configs import E2Config
    from ..reproduce.continual.sweeps import e2

    typer.echo(e2(E2Config(seeds=_seeds(seeds), epochs=epochs), out, workers)["markdown"])


@continual_app.command("e3")
def e3_cmd(seeds: int = typer.Option(5, help=SEEDS), epochs: int = typer.Option(15),
           out: Path = typer.Option(OUT / "e3")) -> None:
    """E3: capacity sweep over the number of experts M."""
    from ..reproduce.continual.configs import E3Config
    from ..reproduce.continual.sweeps import e3

    typer.echo(e3(E3Config(seeds=_seeds(seeds), epochs=epochs), out)["markdown"])


@continual_app.command("e4")
def e4_cmd(seeds: int = typer.Option(5, help=SEEDS), epochs: int = typer.Option(15),
           out: Path = typer.Option(OUT / "e4")) -> None:
    """E4: locality, DFA vs exact W^T (sign fixed) vs the reference's exact variant."""
    from ..reproduce.continual.configs import E4Config
    from ..reproduce.continual.experiments import e4

    typer.echo(e4(E4Config(seeds=_seeds(seeds), epochs=epochs), out)["markdown"])


@continual_app.command("e5")
def e5_cmd(seeds: int = typer.Option(5, help=SEEDS), out: Path = typer.Option(OUT / "e5")) -> None:
    """E5: the fully ambiguous rotating checkerboard."""
    from ..reproduce.continual.configs import E5Config
    from ..reproduce.continual.experiments import e5

    typer.echo(e5(E5Config(seeds=_seeds(seeds)), out)["markdown"])


@continual_app.command("digits")
def digits_cmd(
    kind: str = typer.Option("permuted", help="'permuted' or 'rotated'"),
    seeds: int = typer.Option(10, help=SEEDS), epochs: int = typer.Option(15),
    workers: int = typer.Option(2, help=WORKERS), out: Path = typer.Option(OUT / "digits"),
) -> None:
    """Every learner on scikit-learn's 8x8 digits under pixel permutations or rotations."""
    from ..reproduce.continual.configs import DigitsRunConfig
    from ..reproduce.continual.experiments import digits_experiment

    cfg = DigitsRunConfig(kind=kind, seeds=_seeds(seeds), epochs=epochs)
    typer.echo(digits_experiment(cfg, out, workers)["markdown"])


@continual_app.command("bench")
def bench_cmd(
    seeds: int = typer.Option(10, help=SEEDS), epochs: int = typer.Option(15),
    workers: int = typer.Option(2, help=WORKERS), repeats: int = typer.Option(1),
    slow_paths: bool = typer.Option(False, help="also time one process and the per-seed loop"),
    out: Path = typer.Option(OUT / "bench"),
) -> None:
    """Wall time of a fresh E1 (all learners x seeds; never a cache hit) against the 30 s target,
    with its numbers checked against the committed E1 record."""
    from ..bench.continual import run_continual_benchmark

    rec = run_continual_benchmark(out, seeds, epochs, workers, repeats,
                                  include_slow_paths=slow_paths)
    typer.echo(rec["markdown"])
