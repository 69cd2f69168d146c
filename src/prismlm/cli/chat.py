"""`prismlm chat`: a conversation with a memory that survives restarts (COGLOOP, prismlm.cogloop).

    prismlm chat                              # profile "default", KB-only answers, offline CPU
    prismlm chat --checkpoint ckpt/ --profile ana   # a saved byte-level PrismLM generates
    echo "remember: The capital of Zorbia is Quex." | prismlm chat --profile ana
    prismlm chat --list | --forget ID | --export memories.json

Each line read from stdin is one turn (a terminal or a pipe): "remember: …" stores it now; a
statement is noted in working memory (consolidated every --every turns when important enough);
a question is answered from memory, else by the model, else "I don't know" — the reply says
which. Commands inside the chat: /list, /forget ID, /export FILE, /quit. On end of input the
pending important statements are consolidated. The profile is the KB file --db, else
$PRISMLM_COGLOOP_DIR/<profile>.sqlite, else ~/.cache/prismlm/cogloop/<profile>.sqlite.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import typer

from .apps import app

DEFAULT_DIR = Path("~/.cache/prismlm/cogloop")
_PROFILE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def profile_path(profile: str, db: Path | None) -> Path:
    if db is not None:
        return db.expanduser()
    if not _PROFILE.fullmatch(profile):
        raise typer.BadParameter(f"--profile must be 1-64 letters, digits, _ or -, got {profile!r}")
    root = Path(os.environ.get("PRISMLM_COGLOOP_DIR") or DEFAULT_DIR).expanduser()
    return root / f"{profile}.sqlite"


def _fail(err: Exception | str) -> typer.Exit:
    typer.echo(f"error: {err}", err=True)
    return typer.Exit(2)


def _print_entries(ltm) -> None:
    entries = ltm.entries()
    for e in entries:
        typer.echo(f"{e.id}  importance {e.importance:.2f}  {e.kind:12s}  {e.text}")
    typer.echo(f"{len(entries)} remembered in {ltm.path}")


def _command(line: str, ltm) -> bool:
    """Run a /command; False on /quit."""
    cmd, _, arg = line[1:].partition(" ")
    arg = arg.strip()
    if cmd in ("quit", "exit"):
        return False
    if cmd == "list":
        _print_entries(ltm)
    elif cmd == "forget" and arg:
        try:
            typer.echo(f"forgot {ltm.forget(arg).id}")
        except KeyError as err:
            typer.echo(f"error: {err.args[0]}", err=True)
    elif cmd == "export" and arg:
        typer.echo(f"exported {ltm.export(Path(arg).expanduser())} entries to {arg}")
    else:
        typer.echo("commands: /list, /forget ID, /export FILE, /quit; 'remember: …' stores a fact")
    return True


@app.command("chat")
def chat(
    profile: str = typer.Option("default", help="whose memory: one KB file per profile"),
    db: Path | None = typer.Option(None, help="the profile's KB file (overrides --profile)"),
    checkpoint: Path | None = typer.Option(None, help="a saved byte-level PrismLM that generates"),
    encoder: str = typer.Option("auto", help="retriever: auto | sentence | lexical"),
    list_entries: bool = typer.Option(False, "--list", help="list what is remembered and exit"),
    forget: str | None = typer.Option(None, "--forget", help="delete remembered entry ID and exit"),
    export: Path | None = typer.Option(None, "--export", help="write the memories as JSON and exit"),
    every: int = typer.Option(16, "--every", help="turns between consolidations"),
    threshold: float = typer.Option(0.5, help="importance at or above which a turn is consolidated"),
    max_entries: int = typer.Option(1000, help="long-term bound; the least retained are evicted"),
    max_passes: int = typer.Option(3, help="reflection passes per question"),
) -> None:
    """Talk to a memory: remembers across restarts, answers from what it remembered."""
    import torch

    from ..cogloop import CogLoop, LongTermMemory, LoopConfig
    from ..memory.kb_store import KBCorruptError

    torch.set_num_threads(1)  # small tensor ops: one thread is faster on a shared CPU
    try:
        config = LoopConfig(importance_threshold=threshold, consolidate_every=every, max_passes=max_passes)
        ltm = LongTermMemory(profile_path(profile, db), max_entries=max_entries, encoder=encoder)
    except (KBCorruptError, ValueError) as err:
        raise _fail(err) from err
    with ltm:
        if list_entries or forget or export:
            if forget:
                _command(f"/forget {forget}", ltm)
            if export:
                _command(f"/export {export}", ltm)
            if list_entries:
                _print_entries(ltm)
            return
        model = None
        if checkpoint is not None:
            from ..models import SequenceLM

            try:
                model = SequenceLM.from_pretrained(checkpoint)
                loop = CogLoop(ltm, model, config)
            except (FileNotFoundError, ValueError, TypeError) as err:
                raise _fail(err) from err
        else:
            loop = CogLoop(ltm, None, config)
        interactive = sys.stdin.isatty()
        if interactive:
            typer.echo(f"memory: {ltm.path} ({len(ltm)} entries); /help for commands")
        while True:
            if interactive:
                typer.echo("you> ", nl=False)
            line = sys.stdin.readline()
            if not line:
                break
            line = line.strip()
            if not line:
                continue
            if line.startswith("/"):
                if not _command(line, ltm):
                    break
                continue
            try:
                typer.echo(loop.turn(line).reply)
            except (ValueError, TypeError) as err:
                typer.echo(f"error: {err}", err=True)
        done = loop.flush()
        if done:
            typer.echo(f"consolidated {len(done)} entry on exit ({done[0].id})")
