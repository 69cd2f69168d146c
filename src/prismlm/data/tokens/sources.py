"""Document sources: the rows of one `DatasetSpec`, in a fixed order, one pass per call.

Local: .txt / .md files (a whole file is one document), .jsonl (one JSON object per line),
.parquet (needs `pyarrow`). A folder means its files with those suffixes, a glob its matches,
always sorted so the order never depends on the file system. "hf:<repo>" streams a Hugging Face
dataset (`datasets` is imported only here and only then; it needs the network). A row is a dict;
text files give {"text": contents}.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .mix import DatasetSpec

LOCAL_SUFFIXES = (".txt", ".md", ".jsonl", ".parquet")


def local_files(path: str) -> list[Path]:
    """The files a local `path` (file, folder or glob) names, sorted; ValueError if none."""
    p = Path(path)
    if p.is_dir():
        files = [f for f in p.rglob("*") if f.is_file() and f.suffix in LOCAL_SUFFIXES]
    elif p.is_file():
        files = [p]
    else:
        files = [Path(f) for f in glob.glob(path, recursive=True) if Path(f).is_file()]
    files = sorted(files)
    if not files:
        raise ValueError(f"invalid config field 'path': {path!r} matches no .txt/.md/.jsonl/.parquet file")
    bad = [str(f) for f in files if f.suffix not in LOCAL_SUFFIXES]
    if bad:
        raise ValueError(f"invalid config field 'path': unsupported file types {bad[:3]}")
    return files


def _file_rows(path: Path) -> Iterator[dict[str, Any]]:
    if path.suffix in (".txt", ".md"):
        yield {"text": path.read_text(encoding="utf-8")}
    elif path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as err:
                        raise ValueError(f"{path}:{n}: not a JSON object ({err.msg})") from err
    else:  # .parquet
        try:
            import pyarrow.parquet as pq
        except ImportError as err:
            raise ValueError(f"{path}: reading parquet needs `pip install pyarrow`") from err
        for batch in pq.ParquetFile(path).iter_batches():
            yield from batch.to_pylist()


def _hf_rows(spec: DatasetSpec) -> Iterator[dict[str, Any]]:
    try:
        import datasets
    except ImportError as err:
        raise ValueError(f"{spec.path}: Hugging Face streaming needs `pip install datasets`") from err
    yield from datasets.load_dataset(spec.path[3:], spec.config, split=spec.split, streaming=True)


def rows(spec: DatasetSpec) -> Iterator[dict[str, Any]]:
    """One pass over the rows of `spec` (at most max_samples of them)."""
    if spec.path.startswith("hf:"):
        it = _hf_rows(spec)
    else:
        it = (row for f in local_files(spec.path) for row in _file_rows(f))
    for n, row in enumerate(it):
        if spec.max_samples is not None and n >= spec.max_samples:
            return
        yield row
