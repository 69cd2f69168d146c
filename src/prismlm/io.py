"""Crash-safe file output: every file prismlm writes goes through here.

A reader (or a run resumed after `kill -9`) sees either the old file or the whole new one, never a
torn write: data go to a temporary file in the same folder, are fsynced, then renamed over the
target. A leaf module: it imports nothing from prismlm except the JSON conversion in `config`.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import to_jsonable


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call `write(tmp_path)` to produce the file, then rename it onto `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so readers see either the old file or the whole new one."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    atomic_write(path, write)


def atomic_write_json(path: Path, obj: Any, indent: int | None = 1) -> None:
    """JSON (dataclasses and NumPy values converted) written atomically."""
    atomic_write_bytes(path, json.dumps(to_jsonable(obj), indent=indent, default=str).encode())


def write_record(
    out_dir: Path, name: str, payload: dict[str, Any], markdown: str, figure: Any = None
) -> dict[str, Path]:
    """The one report writer: `<out_dir>/<name>.json`, `.md` and, given a matplotlib figure, `.png`.

    Returns {"json": path, "md": path[, "png": path]}. The figure is closed after saving.
    """
    out_dir = Path(out_dir)
    paths = {"json": out_dir / f"{name}.json", "md": out_dir / f"{name}.md"}
    atomic_write_json(paths["json"], payload)
    atomic_write_bytes(paths["md"], (markdown.rstrip() + "\n").encode())
    if figure is not None:
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        figure.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        paths["png"] = out_dir / f"{name}.png"
        atomic_write_bytes(paths["png"], buf.getvalue())
    return paths


def confined_path(root: Path, name: str | os.PathLike) -> Path:
    """`root / name` resolved, guaranteed to lie strictly inside `root`.

    For every path built from a file's contents or a user string. Raises a ValueError naming
    `name` and `root` when `name` is empty, absolute, contains a `..` component or a NUL byte, or
    resolves (symlinks followed) to `root` itself or anywhere outside it.
    """
    text = os.fspath(name)
    base = Path(root).resolve()

    def reject(why: str) -> ValueError:
        return ValueError(f"path {text!r} is not allowed under {str(base)!r}: {why}")

    if not text or "\x00" in text:
        raise reject("empty or contains a NUL byte")
    rel = Path(text)
    if rel.is_absolute() or rel.anchor:
        raise reject("absolute paths are refused")
    if ".." in rel.parts:
        raise reject("'..' components are refused")
    target = (base / rel).resolve()
    if target == base or not target.is_relative_to(base):
        raise reject("it resolves outside the folder (a symlink?)")
    return target
