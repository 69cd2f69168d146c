"""`prismlm compare` and `prismlm train`: parse, then call the library."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .apps import app, parse_seeds


@app.command("compare")
def compare_cmd(
    models: str = typer.Option("prizma-quad2,prizma-none,transformer", help="comma-separated arm names"),
    task: str = typer.Option(
        '{"name": "induction", "vocab_size": 32, "prefix_len": 32}',
        help="task as JSON, or a bare task name with default fields",
    ),
    scale: str = typer.Option("cpu", help="smoke | cpu | paper (sizes and recipe)"),
    seeds: str = typer.Option(None, help="comma-separated seeds"),
    preset: str = typer.Option(None, help="a named comparison (overrides --models/--task)"),
    train_json: str = typer.Option(
        "{}", "--train", help="TrainConfig overrides as JSON, e.g. '{\"steps\": 2000}'"
    ),
    name: str = typer.Option("compare", help="report file name under --out"),
    out: Path = typer.Option(Path("results/compare"), help="output folder"),
    device: str = typer.Option("auto", help="auto | cpu | cuda[:N]"),
    progress: bool = typer.Option(False, help="show a progress bar per training run"),
) -> None:
    """Train every model on one task over several seeds; table with mean, CI, solve rate, Welch."""
    from .. import reproduce  # noqa: F401  (importing it registers the reproduction presets)
    from ..experiment.compare import compare, spec_from_names
    from ..reproduce.presets import preset_spec
    from ..reproduce.prizma_seq.scales import DEFAULT_SEEDS, SCALE_NAMES, SCALES

    try:
        if preset:
            spec = preset_spec(preset, scale)
            name = preset if name == "compare" else name
        else:
            if scale not in SCALE_NAMES:
                raise ValueError(f"invalid config field 'scale': must be one of {SCALE_NAMES}, got {scale!r}")
            spec_task = json.loads(task) if task.strip().startswith("{") else {"name": task}
            sized = SCALES[scale]["induction"]  # default arm sizes and recipe of the named scale
            spec = spec_from_names(
                [m for m in models.split(",") if m], spec_task, dict(sized["train"]),
                DEFAULT_SEEDS[scale], sized["dims"], sized["feat_n2"],
            )
        spec = spec.with_train(json.loads(train_json))
        compare(spec, out, name, parse_seeds(seeds), device, progress, scale)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err


@app.command("train")
def train_cmd(
    model: str = typer.Option("prizma-quad2", help="arm name"),
    task: str = typer.Option(
        '{"name": "induction", "vocab_size": 32, "prefix_len": 32}', help="task as JSON"
    ),
    dims: str = typer.Option('{"d_model": 32, "n_layers": 2, "n_heads": 2}', help="model fields as JSON"),
    train_json: str = typer.Option("{}", "--train", help="TrainConfig fields as JSON"),
    seed: int = typer.Option(0),
    run_dir: Path = typer.Option(Path("runs/train"), help="checkpoints and metrics.jsonl"),
    progress: bool = typer.Option(True),
    restart: bool = typer.Option(False, "--restart", help="discard run_dir's checkpoints and start afresh"),
) -> None:
    """Train one model on one task (resumes from run_dir if its configs match), then save it."""
    import torch

    from ..data.registry import build_task
    from ..experiment.arms import build_arm
    from ..train import TrainConfig, train

    try:
        t = build_task(json.loads(task))
        cfg = TrainConfig(**{**json.loads(train_json), "seed": seed, "progress": progress})
        torch.manual_seed(seed)
        m = build_arm({"model": model, **json.loads(dims)}, t.vocab_size, t.max_seq_len + 8)
        result = train(m, t, cfg, run_dir=run_dir, restart=restart)
    except ValueError as err:  # bad fields, or a run_dir made with other configs
        raise typer.BadParameter(str(err)) from err
    m.save_pretrained(run_dir / "model")
    typer.echo(
        json.dumps(
            {
                "steps": result.steps,
                "best": result.best,
                "final": result.final,
                "stop_reason": result.stop_reason,
            },
            indent=1,
        )
    )
