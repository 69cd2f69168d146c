"""`prismlm bench ...` commands."""

from pathlib import Path

import typer

from .apps import app, bench_app


@bench_app.command("mixer")
def bench_mixer(
    out: Path = typer.Option(Path("results/bench_mixer"), help="output folder"),
    quick: bool = typer.Option(False, help="small sizes, for a smoke run"),
) -> None:
    """Prizma-Seq vs parameter-matched Transformer: train step, decode, chunked vs recurrent."""
    from ..bench.mixer import run_mixer_benchmark

    run_mixer_benchmark(out, quick=quick)


@app.command("demo")
def demo(
    out: Path = typer.Option(Path("results/demo"), help="output folder"),
    steps: int = typer.Option(600, help="training steps per model"),
) -> None:
    """The main job: Prizma-Seq vs matched Transformer on MQAR, decoding, quick benchmark."""
    from ..bench.demo import run_demo

    run_demo(out, steps=steps)
