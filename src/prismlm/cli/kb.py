"""`prismlm kb ...`: a holographic knowledge base in one SQLite file.

    prismlm kb ingest notes.txt more.md      # extract facts, store them (one transaction per file)
    prismlm kb ask "What is the capital of France?"
    prismlm kb stats

The store path comes from --db, else $PRISMLM_KB, else ~/.cache/prismlm/kb.sqlite.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from .apps import app

kb_app = typer.Typer(no_args_is_help=True, help="Holographic knowledge base (facts added without training).")
app.add_typer(kb_app, name="kb")

DEFAULT_DB = Path("~/.cache/prismlm/kb.sqlite")


def _db_path(db: Path | None) -> Path:
    if db is not None:
        return db.expanduser()
    env = os.environ.get("PRISMLM_KB")
    return Path(env).expanduser() if env else DEFAULT_DB.expanduser()


def _open(db: Path | None, dim: int | None = None):
    from ..memory.kb_store import KBCorruptError, KBStore

    path = _db_path(db)
    try:
        return KBStore(path, dim=dim)
    except (KBCorruptError, ValueError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from err


def _single_thread() -> None:
    import torch

    torch.set_num_threads(1)  # small tensor ops: one thread is faster on a shared CPU


@kb_app.command("ingest")
def kb_ingest(
    files: list[Path] = typer.Argument(..., help="text files to ingest"),
    db: Path | None = typer.Option(None, help="KB file (default $PRISMLM_KB or ~/.cache/prismlm/kb.sqlite)"),
    dim: int | None = typer.Option(None, help="vector dimension when creating a new KB (default 8192)"),
) -> None:
    """Extract facts from FILES and store them; re-ingesting a file adds nothing new."""
    from ..memory.ingest import ingest_files

    _single_thread()
    store = _open(db, dim)
    try:
        reports = ingest_files(store, files)
    except (FileNotFoundError, ValueError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from err
    for r in reports:
        typer.echo(f"{r['file']}: {r['facts_found']} facts found, {r['facts_new']} new")
    typer.echo(f"{store.count_facts()} facts in {store.path}")


@kb_app.command("ask")
def kb_ask(
    question: str = typer.Argument(..., help="a question or a key, e.g. 'What is the capital of France?'"),
    db: Path | None = typer.Option(None, help="KB file"),
    as_json: bool = typer.Option(False, "--json", help="print the full answer record as JSON"),
) -> None:
    """Answer QUESTION from the holographic tapes (no model, no training)."""
    from ..memory.inference import HoloInference
    from ..memory.kb_store import KBCorruptError

    _single_thread()
    store = _open(db)
    try:
        ans = HoloInference(store).ask(question)
    except (KBCorruptError, ValueError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from err
    if as_json:
        typer.echo(json.dumps(ans.to_dict(), indent=2))
    elif ans.value is None:
        typer.echo(f"no answer ({ans.matched_by})")
    else:
        typer.echo(ans.value)
        typer.echo(
            f"  key '{ans.key}' ({ans.matched_by}); cosine {ans.score:.3f}, strength "
            f'{ans.strength:.2f}; from {ans.source}: "{ans.sentence}"',
            err=True,
        )


@kb_app.command("stats")
def kb_stats(db: Path | None = typer.Option(None, help="KB file")) -> None:
    """Documents, facts, shards (tapes) in use and their load."""
    from ..memory.inference import HoloInference

    _single_thread()
    typer.echo(json.dumps(HoloInference(_open(db)).stats(), indent=2))
