"""Dataset mixes declared as data: `DatasetSpec`s with weights, read from JSON (or YAML).

    {"seq_len": 1024, "seed": 0, "datasets": [
        {"path": "data/books/*.txt", "weight": 0.7},
        {"path": "data/qa.jsonl", "weight": 0.3, "phase": "instruct"},
        {"path": "hf:HuggingFaceFW/fineweb-edu", "config": "sample-10BT", "weight": 0.0}]}

path: a local file, folder or glob (.txt/.md: one document per file; .jsonl; .parquet), or
"hf:<repo id>" for Hugging Face `datasets` streaming (optional, online only). text_column: the
field holding a document (JSONL / parquet / hf). phase: "pretrain" (plain text) or "instruct"
(prompt/response rows, loss on the response only). max_samples: stop a source after that many
documents (then it starts over). Weights are relative; a window is drawn from dataset i with
probability w_i / Σ w.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...config import config_from_dict, require

PHASES = ("pretrain", "instruct")


@dataclass
class DatasetSpec:
    path: str
    weight: float = 1.0
    phase: str = "pretrain"
    text_column: str = "text"
    config: str | None = None
    split: str = "train"
    max_samples: int | None = None

    def __post_init__(self) -> None:
        require(bool(self.path), "path", "must name a file, folder, glob or hf:<repo>")
        require(self.weight >= 0, "weight", f"must be >= 0, got {self.weight}")
        require(self.phase in PHASES, "phase", f"must be one of {PHASES}, got {self.phase!r}")
        require(self.max_samples is None or self.max_samples >= 1, "max_samples", "must be >= 1")


@dataclass
class Mix:
    datasets: list[DatasetSpec] = field(default_factory=list)
    seq_len: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        self.datasets = [
            d if isinstance(d, DatasetSpec) else config_from_dict(DatasetSpec, d) for d in self.datasets
        ]
        require(len(self.datasets) >= 1, "datasets", "a mix needs at least one dataset")
        require(sum(d.weight for d in self.datasets) > 0, "weight", "at least one weight must be > 0")
        require(self.seq_len >= 2, "seq_len", f"must be >= 2, got {self.seq_len}")

    @property
    def weights(self) -> list[float]:
        total = sum(d.weight for d in self.datasets)
        return [d.weight / total for d in self.datasets]


def _read(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as err:
            raise ValueError(f"{path}: YAML mixes need `pip install pyyaml` (or write JSON)") from err
        return yaml.safe_load(text)
    return json.loads(text)


def load_mix(path: str | Path, **overrides) -> Mix:
    """A Mix from a JSON (or YAML) file; relative dataset paths are relative to the file."""
    path = Path(path)
    raw = dict(_read(path), **overrides)
    for d in raw.get("datasets", []):
        p = str(d.get("path", ""))
        if p and not p.startswith("hf:") and not Path(p).is_absolute():
            d["path"] = str(path.parent / p)
    return config_from_dict(Mix, raw)


def mix_from_paths(paths: list[str], phase: str = "pretrain", **fields) -> Mix:
    """A Mix weighting each of `paths` equally."""
    return Mix([DatasetSpec(p, 1.0, phase) for p in paths], **fields)
