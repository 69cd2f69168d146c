"""`prismlm bench ...` commands."""

from pathlib import Path

import typer

from .apps import bench_app, demo_app


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


@demo_app.callback()
def demo(
    ctx: typer.Context,
    out: Path = typer.Option(Path("results/demo"), help="output folder"),
    steps: int = typer.Option(600, help="training steps per model"),
) -> None:
    """The main job: Prizma-Seq vs matched Transformer on MQAR, decoding, quick benchmark."""
    if ctx.invoked_subcommand is not None:
        return
    from ..demo import run_demo

    run_demo(out, steps=steps)


@bench_app.command("scale")
def bench_scale(
    out: Path = typer.Option(Path("results/bench_scale"), help="output folder"),
    quick: bool = typer.Option(False, help="tiny sizes, one repeat, for a smoke run"),
    d_model: int = typer.Option(0, help="override the width (0: keep the size's)"),
    n_layers: int = typer.Option(0, help="override the depth (0: keep the size's)"),
    seq_len: int = typer.Option(0, help="override the sequence length (0: keep the size's)"),
    batch_size: int = typer.Option(0, help="override the global batch (0: keep the size's)"),
    device: str = typer.Option("auto", help="auto | cpu | cuda[:N]"),
) -> None:
    """The trainer's optimizer step per model (PRISM, Prizma-Seq, Transformer): tokens/s, MFU, memory."""
    import dataclasses

    from ..bench.scale import ScaleBenchConfig, run_scale_benchmark

    config = ScaleBenchConfig.quick() if quick else ScaleBenchConfig()
    overrides = {"d_model": d_model, "n_layers": n_layers, "seq_len": seq_len, "batch_size": batch_size}
    config = dataclasses.replace(config, device=device, **{k: v for k, v in overrides.items() if v})
    payload = run_scale_benchmark(out, config)
    for row in payload["rows"]:
        typer.echo(f"{row['model']:12s} ckpt={row['checkpointing']!s:5s} {row['tokens_per_s']:10.0f} tok/s "
                   f"{row['peak_mem_mb']:8.1f} MB")
