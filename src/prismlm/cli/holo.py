"""`prismlm bench holo` (`prismlm reproduce holo` is in cli/reproduce.py)."""

from __future__ import annotations

from pathlib import Path

import typer

from .apps import bench_app


@bench_app.command("holo")
def bench_holo_cmd(
    out: Path = typer.Option(Path("results/holo"), help="output folder"),
    dims: str = typer.Option("1024,4096,8192,16384", help="tape dimensions, comma-separated"),
    kb_facts: int = typer.Option(100_000, help="facts in the sharded-KB test"),
    kb_dim: int = typer.Option(2048, help="dimension of the sharded KB"),
    threads: int = typer.Option(1, help="torch threads (1 is fastest on a shared CPU)"),
    quick: bool = typer.Option(False, help="fewer queries per point, for a smoke run"),
) -> None:
    """Capacity vs theory per d, bind/query throughput at d=8192, a sharded KB of 100k facts."""
    from ..bench.holo import run_holo_benchmark

    dim_list = tuple(int(d) for d in dims.split(",") if d.strip())
    run_holo_benchmark(out, dim_list, kb_facts, kb_dim, quick=quick, threads=threads)


@bench_app.command("holo-speed")
def bench_holo_speed_cmd(
    out: Path = typer.Option(Path("results/holo"), help="output folder"),
    dim: int = typer.Option(8192, help="tape dimension"),
    n: int = typer.Option(20000, help="facts bound and queries asked per timed run"),
    threads: int = typer.Option(1, help="torch threads"),
    repeats: int = typer.Option(3, help="timed runs per figure (median)"),
) -> None:
    """HoloTape bind_many facts/s and query queries/s only, with issue 19's targets as PASS/FAIL rows."""
    from ..bench.holo import run_holo_speed

    run_holo_speed(out, dim, n, threads, repeats)
