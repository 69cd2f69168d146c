"""`prismlm generate`: continue a prompt with a trained byte-level PrismLM, its memory seeded.

    prismlm generate --checkpoint ckpt/ --prompt "Paris is the capital of"          # scratch
    prismlm generate --checkpoint ckpt/ --mode knowledge --kb kb.sqlite --prompt "..."
    prismlm generate --checkpoint ckpt/ --mode oneshot --examples '[["cat", "chat"]]' --prompt "dog"

knowledge binds the KB's first --limit facts into the model's memory; oneshot writes the given
(input, output) examples there. Neither puts anything into the prompt (`memory.seed`).
Errors print one line and exit with code 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .apps import app


def _fail(err: Exception | str) -> typer.Exit:
    typer.echo(f"error: {err}", err=True)
    return typer.Exit(2)


def _examples(text: str | None) -> list[tuple[str, str]]:
    try:
        rows = json.loads(text or "")
    except json.JSONDecodeError as err:
        raise _fail(f"--examples must be JSON [[input, output], ...]: {err}") from err
    if not isinstance(rows, list) or not all(
        isinstance(r, list) and len(r) == 2 and all(isinstance(x, str) for x in r) for r in rows
    ):
        raise _fail("--examples must be a JSON list of [input, output] string pairs")
    return [(a, b) for a, b in rows]


@app.command("generate")
def generate_cmd(
    checkpoint: Path = typer.Option(..., help="a PrismLM checkpoint directory (save_pretrained)"),
    prompt: str = typer.Option(..., help="text to continue"),
    mode: str = typer.Option("scratch", help="scratch | knowledge | oneshot"),
    kb: Path | None = typer.Option(None, help="knowledge mode: the KB file to seed from"),
    limit: int | None = typer.Option(None, help="knowledge mode: facts taken from the KB (default all)"),
    examples: str | None = typer.Option(None, help='oneshot mode: JSON [["input", "output"], ...]'),
    blend: float = typer.Option(1.0, help="seed blend ratio in [0, 1] (0 = no seed)"),
    max_new_tokens: int = typer.Option(64, help="bytes to generate"),
    temperature: float = typer.Option(0.0, help="0 = greedy"),
) -> None:
    """Generate from a checkpoint, from scratch or with knowledge / examples in its memory."""
    from ..memory.seed import MODES, generate_text, kb_pairs
    from ..models import SequenceLM
    from ..models.prism import PrismLM

    if mode not in MODES:
        raise _fail(f"unknown --mode {mode!r}; choose one of {', '.join(MODES)}")
    pairs = None
    if mode == "knowledge":
        if kb is None:
            raise _fail("--mode knowledge needs --kb")
        from ..memory.kb_store import KBCorruptError, KBStore

        try:
            with KBStore(kb, create=False) as store:
                pairs = kb_pairs(store, limit)
        except (FileNotFoundError, ValueError, KBCorruptError) as err:
            raise _fail(err) from err
    elif mode == "oneshot":
        pairs = _examples(examples)
    try:
        model = SequenceLM.from_pretrained(checkpoint)
    except (FileNotFoundError, ValueError, KeyError, TypeError) as err:
        raise _fail(f"cannot load {checkpoint}: {err}") from err
    if not isinstance(model, PrismLM):
        raise _fail(f"{checkpoint} holds a {type(model).__name__}; seeded generation needs a PrismLM")
    try:
        text = generate_text(model, prompt, mode, pairs, blend, max_new_tokens, temperature)
    except (ValueError, TypeError) as err:
        raise _fail(err) from err
    typer.echo(text)
