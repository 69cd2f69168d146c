"""The one result cache: a record is keyed by the fingerprint of the resolved configs that made it.

    record = cached_run(cache_dir, {"model": model_cfg, "train": train_cfg, "task": task_cfg,
                                    "seed": 0}, compute)

`configs` must be *resolved*: config objects (or dicts) with every default filled in, so changing a
default in code changes the key. The key also covers `CODE_VERSION` (bump it when a change alters
results without changing any config) and the execution options that change numbers (device type,
amp). A stored record is reused only if its stored configs equal the requested ones, so even a hash
collision cannot return another experiment's numbers. Records are JSON, written atomically.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import fingerprint, to_jsonable
from ..io import atomic_write_json

CODE_VERSION = f"{__version__}+engine2"


def cache_key(configs: dict[str, Any], options: dict[str, Any] | None = None) -> str:
    """Fingerprint of the resolved configs, the execution options and the code version."""
    return fingerprint({"configs": configs, "options": options or {}, "code": CODE_VERSION})


def record_path(cache_dir: Path, key: str) -> Path:
    return Path(cache_dir) / "cells" / f"{key}.json"


def load_cached(cache_dir: Path, configs: dict[str, Any], options: dict[str, Any] | None = None):
    """The stored record for exactly these configs and options, or None."""
    key = cache_key(configs, options)
    path = record_path(cache_dir, key)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None  # an unreadable record is recomputed, never trusted
    if record.get("configs") != to_jsonable(configs) or record.get("code") != CODE_VERSION:
        return None
    record["cached"] = True
    return record


def cached_run(
    cache_dir: Path,
    configs: dict[str, Any],
    compute: Callable[[str], dict[str, Any]],
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the cached record for `configs`, or call `compute(key)` and store its result.

    `compute` receives the key (to name a resumable run folder) and returns the measured fields;
    the stored record adds the key, the resolved configs, the options and the code version.
    """
    hit = load_cached(cache_dir, configs, options)
    if hit is not None:
        return hit
    key = cache_key(configs, options)
    t0 = time.time()
    measured = compute(key)
    record = {
        "key": key,
        "configs": to_jsonable(configs),
        "options": to_jsonable(options or {}),
        "code": CODE_VERSION,
        **measured,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "session_seconds": time.time() - t0,
    }
    atomic_write_json(record_path(cache_dir, key), record)
    record["cached"] = False
    return record
