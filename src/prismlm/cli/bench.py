"""`prismlm bench ...` commands."""

from pathlib import Path

import typer

from .apps import app, bench_app


@bench_app.command("mixer")
def bench_mixer(
    out: Path = typer.Option(Path("results/bench_mixer"), help="output folder"),
    quick: bool = typer.Option(False, help="small sizes, for a smoke run"),
    threads: int = typer.Option(0, help="torch intra-op threads (0: torch's default)"),
) -> None:
    """Prizma-Seq vs parameter-matched Transformer: train step, decode, chunked vs recurrent."""
    import dataclasses

    from ..bench.mixer import MixerBenchConfig, run_mixer_benchmark

    config = MixerBenchConfig.quick() if quick else MixerBenchConfig()
    run_mixer_benchmark(out, config=dataclasses.replace(config, threads=threads or None))


@app.command("demo")
def demo(
    out: Path = typer.Option(Path("results/demo"), help="output folder"),
    steps: int = typer.Option(600, help="training steps per model"),
) -> None:
    """The main job: Prizma-Seq vs matched Transformer on MQAR, decoding, quick benchmark."""
    from ..demo import run_demo

    run_demo(out, steps=steps)
