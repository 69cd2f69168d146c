"""`prismlm bench ...` commands."""

from pathlib import Path

import typer

from .apps import bench_app, demo_app


def _int_list(text: str, flag: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise typer.BadParameter(f"{flag} takes comma-separated integers, got {text!r}") from None


@bench_app.command("mixer")
def bench_mixer(
    out: Path = typer.Option(Path("results/bench_mixer"), help="output folder"),
    quick: bool = typer.Option(False, help="small sizes, for a smoke run"),
    threads: int = typer.Option(0, help="torch intra-op threads (0: torch's default)"),
    parts: str = typer.Option("", help="comma-separated subset of op,train,decode (default: all)"),
    decode_only: bool = typer.Option(False, help="shorthand for --parts decode"),
    lengths: str = typer.Option("", help="op/train sequence lengths T, e.g. 2048,8192"),
    contexts: str = typer.Option("", help="decode contexts n, e.g. 2048,16384"),
    batches: str = typer.Option("", help="decode batch sizes, e.g. 1,8"),
    compiled: bool = typer.Option(True, help="also time torch.compile'd decode steps"),
    repeats: int = typer.Option(0, help="timed repeats per row (0: the config's)"),
    variants: str = typer.Option("lean,v2", help="v2-lever arms in the train rows ('' for none)"),
) -> None:
    """Prizma-Seq vs parameter-matched Transformer: train step, decode, chunked vs recurrent."""
    import dataclasses

    from ..bench.mixer import MixerBenchConfig, run_mixer_benchmark

    config = MixerBenchConfig.quick() if quick else MixerBenchConfig()
    overrides = {"threads": threads or None}
    if not quick:
        overrides["compiled"] = compiled
    if decode_only or parts:
        overrides["parts"] = ("decode",) if decode_only else tuple(p.strip() for p in parts.split(","))
    for flag, field, text in (("--lengths", "lengths", lengths), ("--contexts", "contexts", contexts),
                              ("--batches", "decode_batches", batches)):
        if text:
            overrides[field] = _int_list(text, flag)
    if repeats:
        overrides["repeats"] = repeats
    overrides["variants"] = tuple(v.strip() for v in variants.split(",") if v.strip())
    run_mixer_benchmark(out, config=dataclasses.replace(config, **overrides))


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
