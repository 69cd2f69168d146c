"""`prismlm prism-train` (PRISM on a task or mix, with the training levers as flags) and
`prismlm bench levers` (each lever against the plain run, several seeds)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .apps import app, bench_app, parse_seeds


def _json(text: str, flag: str) -> dict:
    try:
        value = json.loads(text) if text else {}
    except json.JSONDecodeError as err:
        raise typer.BadParameter(f"{flag} must be a JSON object: {err}") from err
    if not isinstance(value, dict):
        raise typer.BadParameter(f"{flag} must be a JSON object, got {text!r}")
    return value


@app.command("prism-train")
def prism_train_cmd(
    out: Path = typer.Option(..., help="run folder (resumed when it holds this same run)"),
    task: str = typer.Option(
        "", help='task spec JSON (default: the levers\' 3-way mix), e.g. {"name": "mix", ...}'
    ),
    model: str = typer.Option("", help='PrismConfig overrides as JSON, e.g. {"d_model": 64}'),
    steps: int = typer.Option(400),
    batch_size: int = typer.Option(32),
    lr: float = typer.Option(3e-3),
    seed: int = typer.Option(0),
    device: str = typer.Option("auto"),
    modular_phase: str = typer.Option(
        "", help="neural | memory | symbolic | assemble (empty: the full model)"
    ),
    modular_neural_ckpt: Path = typer.Option(None, help="assemble: the neural phase's saved model"),
    modular_memory_ckpt: Path = typer.Option(None, help="assemble: the memory phase's saved model"),
    modular_symbolic_ckpt: Path = typer.Option(None, help="assemble: the symbolic phase's saved model"),
    freeze_experts: bool = typer.Option(False, help="assemble: train only router, MRB, norms, embeddings"),
    curriculum: str = typer.Option(
        "", help='CurriculumConfig JSON, e.g. {"starts": [0, 0.5], "weights": ...}'
    ),
    loss_reweighting: bool = typer.Option(False, help="loss-bucket re-weighting (the reference's recycling)"),
    reweight_strength: float = typer.Option(1.0, help="s in w = (1 - s) + s·w_bucket"),
    replay: bool = typer.Option(False, help="replay high-loss rows from a bounded buffer"),
    replay_fraction: float = typer.Option(0.25, help="share of each batch taken from the buffer"),
    replay_capacity: int = typer.Option(256, help="rows the replay buffer holds"),
) -> None:
    """Train PrismLM with the one trainer; the levers are flags and join the run's fingerprint.

    A single-kind phase trains on its own mix (KIND_WEIGHTS) when the task is a mix, and saves
    `<out>/model` for the assemble phase."""
    from ..data import build_task
    from ..models import PrismConfig, PrismLM
    from ..reproduce.levers import KIND_WEIGHTS, TASKS
    from ..train import TrainConfig, train
    from ..train.curriculum import CurriculumConfig
    from ..train.levers import LeverConfig, Levers, ReplayConfig, ReweightConfig
    from ..train.modular import EXPERT_KINDS, PHASES, assemble, modular_config
    from ..train.modular import freeze_experts as freeze

    try:
        spec = _json(task, "--task") or TASKS["mix"]
        data = build_task(spec)
        cfg = PrismConfig(
            **{"vocab_size": data.vocab_size, "max_len": data.max_seq_len, **_json(model, "--model")}
        )
        lever_cfg = LeverConfig(
            curriculum=CurriculumConfig(**_json(curriculum, "--curriculum")) if curriculum else None,
            reweight=ReweightConfig(strength=reweight_strength) if loss_reweighting else None,
            replay=ReplayConfig(capacity=replay_capacity, fraction=replay_fraction) if replay else None,
        )
        if modular_phase in EXPERT_KINDS:
            cfg = modular_config(cfg, modular_phase)
            if spec.get("name") == "mix" and len(spec.get("tasks", [])) == len(KIND_WEIGHTS[modular_phase]):
                data = data.with_weights(KIND_WEIGHTS[modular_phase])
            net = PrismLM(cfg)
        elif modular_phase == "assemble":
            paths = {
                "neural": modular_neural_ckpt,
                "memory": modular_memory_ckpt,
                "symbolic": modular_symbolic_ckpt,
            }
            sources = {k: PrismLM.from_pretrained(p) for k, p in paths.items() if p is not None}
            if not sources:
                raise ValueError(
                    "invalid config field 'modular_phase': assemble needs at least one --modular-*-ckpt"
                )
            net = assemble(cfg, sources)
            if freeze_experts:
                freeze(net, tuple(sources))
        elif modular_phase:
            raise ValueError(
                f"invalid config field 'modular_phase': {modular_phase!r}; choose "
                f"{', '.join(PHASES)}"
            )
        else:
            net = PrismLM(cfg)
        tc = TrainConfig(
            steps=steps,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            device=device,
            monitor="loss",
            plateau_patience=0,
            eval_every=max(1, steps // 8),
        )
        levers = None if lever_cfg == LeverConfig() else Levers(lever_cfg, data, steps)
        result = train(net, data, tc, out, levers=levers)
    except (ValueError, TypeError) as err:
        raise typer.BadParameter(str(err)) from err
    net.save_pretrained(Path(out) / "model")
    typer.echo(json.dumps({"final": result.final, "steps": result.steps, "model": str(Path(out) / "model")}))


@bench_app.command("levers")
def bench_levers_cmd(
    out: Path = typer.Option(Path("results/prism/levers"), help="output folder"),
    scale: str = typer.Option("cpu", help="smoke | cpu"),
    seeds: str = typer.Option("", help="comma-separated seeds (default: the scale's)"),
    levers: str = typer.Option("", help="comma-separated subset of curriculum, modular, reweight, replay"),
    device: str = typer.Option("cpu", help="cpu | cuda[:N] | auto"),
    threads: int = typer.Option(1, help="torch threads (1 avoids oversubscription)"),
) -> None:
    """Each PRISM training lever against the plain run at equal tokens: mean ± CI, Welch, verdict."""
    import torch

    from ..reproduce.levers import measure_levers

    if threads:
        torch.set_num_threads(threads)
    try:
        measure_levers(out, scale, parse_seeds(seeds), device, [x for x in levers.split(",") if x] or None)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err
    typer.echo((Path(out) / "levers.md").read_text())
