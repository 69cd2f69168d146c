"""Atomic training checkpoints: weights as safetensors, trainer state as a torch pickle.

Layout under `<run_dir>/checkpoints/`:
    step-<N>.safetensors   model weights (tied tensors stored once)
    step-<N>.state.pt      optimizer state, step, RNG states, history, early-stop counters
    latest.json            {"step": N, "weights": ..., "state": ...}

Each file is written to a temporary name and renamed; `latest.json` is replaced last, so a run
killed at any instant leaves either the previous complete checkpoint or the new one.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model
from torch import nn

from ..io import atomic_write, atomic_write_bytes

LATEST = "latest.json"


def save_checkpoint(
    ckpt_dir: Path, step: int, model: nn.Module, state: dict[str, Any], keep: int = 1
) -> Path:
    """Write weights + trainer state for `step`, point `latest.json` at them, prune old ones."""
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    weights = ckpt_dir / f"step-{step}.safetensors"
    state_file = ckpt_dir / f"step-{step}.state.pt"
    atomic_write(weights, lambda tmp: save_model(model, tmp))
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(state_file, buf.getvalue())
    pointer = {"step": step, "weights": weights.name, "state": state_file.name}
    atomic_write_bytes(ckpt_dir / LATEST, json.dumps(pointer).encode())
    steps = sorted(
        int(p.name[len("step-") : -len(".safetensors")]) for p in ckpt_dir.glob("step-*.safetensors")
    )
    for old in steps[:-keep]:
        if old != step:
            (ckpt_dir / f"step-{old}.safetensors").unlink(missing_ok=True)
            (ckpt_dir / f"step-{old}.state.pt").unlink(missing_ok=True)
    return weights


def latest_step(ckpt_dir: Path) -> int | None:
    """Step of the newest complete checkpoint, or None when there is none."""
    pointer = ckpt_dir / LATEST
    if not pointer.exists():
        return None
    return int(json.loads(pointer.read_text())["step"])


def load_checkpoint(ckpt_dir: Path, model: nn.Module) -> dict[str, Any] | None:
    """Load the newest checkpoint's weights into `model`; return its trainer state (or None)."""
    pointer = ckpt_dir / LATEST
    if not pointer.exists():
        return None
    meta = json.loads(pointer.read_text())
    device = next(model.parameters()).device
    load_model(model, str(ckpt_dir / meta["weights"]), device=str(device))
    return torch.load(ckpt_dir / meta["state"], map_location="cpu", weights_only=False)
