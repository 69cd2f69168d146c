"""`prismlm presets` (the model-size presets and their parameter counts) and `prismlm pretrain`
(a preset trained on a token mix by the one trainer; `--smoke` is a CPU run of a few seconds on
text bundled with the package). Under `torchrun --nproc_per_node=N -m prismlm pretrain …` every
rank trains on its own rows of each global batch (see data/tokens/stream.py)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .apps import app

SMOKE = dict(seq_len=64, batch_size=4, steps=5, lr=3e-3, warmup=1)


@app.command("presets")
def presets_cmd(
    vocab: int = typer.Option(50304, help="vocabulary size the counts are taken at"),
    as_json: bool = typer.Option(False, "--json", help="print the rows as JSON"),
) -> None:
    """Preset sizes and parameter counts (meta device) of PRISM, PRISM-Holo, matched Prizma-Seq
    and Transformer, beside the reference implementation's count."""
    from ..models.presets import format_table, preset_table

    rows = preset_table(vocab)
    typer.echo(json.dumps(rows, indent=1) if as_json else format_table(rows))


def build_mix(data: list[str], phase: str, seq_len: int, seed: int):
    """A Mix from one .json/.yaml mix file or from data paths weighted equally."""
    from ..data.tokens import load_mix, mix_from_paths

    if len(data) == 1 and Path(data[0]).suffix in (".json", ".yaml", ".yml"):
        return load_mix(data[0], seq_len=seq_len, seed=seed)
    return mix_from_paths(data, phase=phase, seq_len=seq_len, seed=seed)


def run_pretrain(
    preset: str = "tiny",
    model: str = "prism",
    data: list[str] | None = None,
    phase: str = "pretrain",
    tokenizer: str = "bytes",
    seq_len: int = 256,
    batch_size: int = 8,
    steps: int = 1000,
    lr: float = 3e-4,
    warmup: int = 100,
    out: Path | None = None,
    device: str = "auto",
    seed: int = 0,
    checkpoint_every: int = 0,
    eval_every: int = 0,
    smoke: bool = False,
    restart: bool = False,
) -> dict:
    """Build the task and model and call `train`; returns the TrainResult as a dict."""
    from ..data.tokens import SMOKE_INSTRUCT, SMOKE_TEXT, TokenTask
    from ..models import build_model
    from ..models.presets import preset_config, smoke_config
    from ..train import TrainConfig, train

    if smoke:
        data = data or [str(SMOKE_INSTRUCT if phase == "instruct" else SMOKE_TEXT)]
        seq_len, batch_size, steps, lr, warmup = (
            SMOKE[k] for k in ("seq_len", "batch_size", "steps", "lr", "warmup")
        )
        device = "cpu"
    if not data:
        raise ValueError("invalid config field 'data': give a mix file or data paths (or --smoke)")
    task = TokenTask(build_mix(data, phase, seq_len, seed), tokenizer=tokenizer)
    if smoke:
        cfg = smoke_config(task.vocab_size, model)
    else:
        extra = {"max_len": max(4096, seq_len)} if model in ("transformer", "prizma-seq") else {}
        cfg = preset_config(preset, model, task.vocab_size, **extra)
    net = build_model(cfg)
    config = TrainConfig(
        steps=steps, batch_size=batch_size, lr=lr, warmup=warmup, warmup_frac=0.0, seed=seed,
        weight_decay=0.1, monitor="loss", eval_every=eval_every or steps, eval_batches=2,
        checkpoint_every=checkpoint_every, log_every=max(1, min(20, steps)), device=device,
        plateau_patience=0,
    )
    return train(net, task, config, run_dir=out, restart=restart).to_dict()


@app.command("pretrain")
def pretrain_cmd(
    preset: str = typer.Option("tiny", help="tiny | 300m | 350m | 846m (alias 700m) | 1b"),
    model: str = typer.Option("prism", help="prism | prism-holo | prizma-seq | transformer"),
    data: list[str] = typer.Option([], help="a MIX.json/.yaml file, or data paths (repeat the option)"),
    phase: str = typer.Option("pretrain", help="pretrain | instruct (for plain paths)"),
    tokenizer: str = typer.Option("bytes", help="bytes | path/tokenizer.json | a transformers name"),
    seq_len: int = typer.Option(256, help="tokens per window"),
    batch_size: int = typer.Option(8, help="global batch (windows per step, all ranks)"),
    steps: int = typer.Option(1000, help="optimizer steps"),
    lr: float = typer.Option(3e-4, help="peak learning rate"),
    warmup: int = typer.Option(100, help="warmup steps"),
    out: Path = typer.Option(Path("runs/pretrain"), help="run folder (metrics, checkpoints)"),
    device: str = typer.Option("auto", help="auto | cpu | cuda[:N]"),
    seed: int = typer.Option(0, help="mix order and initialisation seed"),
    checkpoint_every: int = typer.Option(0, help="checkpoint period in steps (0: only at the end)"),
    eval_every: int = typer.Option(0, help="eval period in steps (0: at the end)"),
    smoke: bool = typer.Option(False, help="tiny model, 5 steps, CPU, bundled text, no network"),
    restart: bool = typer.Option(False, help="discard the run folder's checkpoints"),
) -> None:
    """Train a preset on a token mix with the one trainer."""
    try:
        result = run_pretrain(
            preset, model, data, phase, tokenizer, seq_len, batch_size, steps, lr, warmup, out,
            device, seed, checkpoint_every, eval_every, smoke, restart,
        )
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err
    final = result["final"]
    typer.echo(f"steps {result['steps']}  eval loss {final.get('loss', float('nan')):.4f}  -> {out}")
