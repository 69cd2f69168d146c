"""`prismlm reproduce all | prizma-seq | continual | prism | holo`: measure claims, write a ledger.

Thin: parse the options, then call `reproduce.ledger.run_ledger`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from .apps import parse_seeds, reproduce_app

SCALE_HELP = "smoke (seconds, plumbing only) | cpu (minutes on a CPU) | paper (the seed's sizes, a GPU)"


def _ledger(systems, scale, out, device, seeds, **kwargs) -> None:
    from ..reproduce.ledger import run_ledger

    try:
        run_ledger(systems, scale, out, device, parse_seeds(seeds), **kwargs)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err


@reproduce_app.command("all")
def reproduce_all(
    scale: str = typer.Option("cpu", help=SCALE_HELP),
    out: Path = typer.Option(Path("results/ledger"), help="ledger folder; each system writes a subfolder"),
    seeds: str = typer.Option(None, help="comma-separated seeds (default: per system and scale)"),
    device: str = typer.Option("auto", help="auto | cpu | cuda[:N]"),
) -> None:
    """Every system's published claims beside this run's measurement: <out>/ledger.json|.md|.png."""
    _ledger(None, scale, out, device, seeds)


@reproduce_app.command("prizma-seq")
def reproduce_prizma_seq(
    leg: list[str] = typer.Option(
        [],
        "--leg",
        help="leg(s) to run: mqar, induction, selcopy, charlm, latency, ablation, lengen (default: all)",
    ),
    scale: str = typer.Option("cpu", help=SCALE_HELP),
    seeds: str = typer.Option(None, help="comma-separated seeds (default: per scale)"),
    out: Path = typer.Option(Path("results/prizma_seq"), help="output folder"),
    device: str = typer.Option("auto", help="auto | cpu | cuda[:N]"),
    progress: bool = typer.Option(False, help="show a progress bar per training run"),
) -> None:
    """Seed 000's Prizma-Seq legs (JSON + markdown + PNG each) and their claims ledger."""
    from ..reproduce.prizma_seq.legs import resolve

    legs = [x for item in leg for x in item.split(",") if x] or None
    try:
        resolve(legs, scale, parse_seeds(seeds))
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err
    options = {"prizma_seq": {"legs": legs, "progress": progress}}
    _ledger(["prizma_seq"], scale, out, device, seeds, per_system_dirs=False, measure_options=options)


def _system_command(system: str, doc: str) -> None:
    def command(
        scale: str = typer.Option("cpu", help=SCALE_HELP),
        out: Path = typer.Option(Path(f"results/{system}"), help="output folder"),
        seeds: str = typer.Option(None, help="comma-separated seeds (default: per scale)"),
        device: str = typer.Option("auto", help="auto | cpu | cuda[:N]"),
    ) -> None:
        _ledger([system], scale, out, device, seeds, per_system_dirs=False)

    command.__doc__ = doc
    reproduce_app.command(system)(command)


_system_command("continual", "Seed 000's continual learner (E1-E5): its claims ledger.")
_system_command("prism", "Seed 002's PRISM toy comparison: its claims ledger.")


@reproduce_app.command("holo")
def reproduce_holo_cmd(
    scale: str = typer.Option("cpu", help=SCALE_HELP),
    out: Path = typer.Option(Path("results/holo"), help="output folder"),
    seeds: str = typer.Option(None, help="comma-separated seeds (default: per scale)"),
    device: str = typer.Option("auto", help="auto | cpu | cuda[:N]"),
    quick: bool = typer.Option(False, help="the same as --scale smoke"),
    seed: int = typer.Option(None, help="one random seed (the same as --seeds SEED)"),
) -> None:
    """Seed 001 (PRISM-Holo): specificity of holographic vs neural recall, and capacity."""
    scale = "smoke" if quick else scale
    seeds = str(seed) if seed is not None and not seeds else seeds
    _ledger(["holo"], scale, out, device, seeds, per_system_dirs=False)


@reproduce_app.command("knowledge")
def reproduce_knowledge_cmd(
    out: Path = typer.Option(Path("results/knowledge"), help="output folder"),
    seeds: str = typer.Option("0,1,2", help="comma-separated seeds"),
) -> None:
    """The Phase-3 probe: a trained PrismLM answers from facts that exist only in its seeded memory."""
    import torch

    from ..reproduce.knowledge import run_knowledge

    torch.set_num_threads(1)
    run_knowledge(out, seeds=tuple(parse_seeds(seeds) or (0, 1, 2)))
