"""Atomic training checkpoints that cannot run code when loaded.

Layout under `<run_dir>/checkpoints/`:
    step-<N>.safetensors        model weights (tied tensors stored once)
    step-<N>.dcp/               instead, under FSDP2: the sharded model and optimizer state
                                (sharded_checkpoint.py; DCP folders are trusted as your own
                                runs' output and loaded only with prismlm's manifest)
    step-<N>.state.safetensors  trainer state: its tensors (optimizer moments, RNG states) as
                                safetensors, everything else (step, history, early-stop counters,
                                configs) as JSON in the file's metadata
    latest.json                 {"step": N, "weights": ..., "state": ...}, the commit point

Outside DCP folders nothing is ever unpickled: safetensors and JSON are data formats, so a
planted or corrupted file can at worst be refused. Each file is written to a temporary name and
renamed; `latest.json` is replaced last, so a run killed at any instant leaves the previous
committed checkpoint intact.
Names read from `latest.json` are confined to the folder (`prismlm.io.confined_path`).

Loading tries the committed checkpoint first, then older complete ones, warning about each file
it skips; it fails with a `CheckpointError` naming the files only when none is usable.
`clean_checkpoints` removes what a kill can leave behind: temporary files, a weights file without
its state (or the reverse), and checkpoints written after the last commit.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_model, save, save_model
from torch import nn

from ..io import atomic_write, atomic_write_bytes, confined_path

LATEST = "latest.json"
STATE_FORMAT = "prismlm-trainer-state-1"
_WEIGHTS = re.compile(r"step-(\d+)\.(safetensors|dcp)")
_STATE = re.compile(r"step-(\d+)\.state\.(safetensors|pt)")  # .pt: the old pickled state
_SAFE_STATE = re.compile(r"step-(\d+)\.state\.safetensors")
_TEMP = re.compile(r"\.(step-\d+\.(state\.)?(safetensors|pt|dcp)|latest\.json)\..+")
_RESERVED = ("__tensor__", "__tuple__", "__intkeys__")


class CheckpointError(ValueError):
    """A checkpoint file is unreadable, corrupt, unsafe or points outside its folder."""


class CheckpointWarning(UserWarning):
    """A damaged checkpoint was skipped in favour of an older one."""


def weights_name(step: int) -> str:
    return f"step-{step}.safetensors"


def state_name(step: int) -> str:
    return f"step-{step}.state.safetensors"


# ---------------------------------------------------------------------------------------------
# state codec: nested dicts/lists/tuples of JSON scalars and tensors <-> (JSON tree, tensors)


def _encode(obj: Any, tensors: dict[str, torch.Tensor], path: str) -> Any:
    if isinstance(obj, torch.Tensor):
        t = obj.detach()
        tensors[path] = (t.cpu() if t.device.type != "cpu" else t.clone()).contiguous()
        return {"__tensor__": path}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            bad = [k for k in obj if k in _RESERVED]
            if bad:
                raise TypeError(f"trainer state at {path!r} uses the reserved key {bad[0]!r}")
            return {k: _encode(v, tensors, f"{path}/{k}") for k, v in obj.items()}
        if all(isinstance(k, int) and not isinstance(k, bool) for k in obj):
            return {"__intkeys__": {str(k): _encode(v, tensors, f"{path}/{k}") for k, v in obj.items()}}
        raise TypeError(f"trainer state at {path!r}: dict keys must be all str or all int")
    if isinstance(obj, list | tuple):
        items = [_encode(v, tensors, f"{path}/{i}") for i, v in enumerate(obj)]
        return {"__tuple__": items} if isinstance(obj, tuple) else items
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if hasattr(obj, "item") and type(obj).__module__ == "numpy":
        return obj.item()
    raise TypeError(f"trainer state at {path!r}: cannot store a {type(obj).__name__}")


def _decode(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(tree, dict):
        if set(tree) == {"__tensor__"}:
            return tensors[tree["__tensor__"]]
        if set(tree) == {"__tuple__"}:
            return tuple(_decode(v, tensors) for v in tree["__tuple__"])
        if set(tree) == {"__intkeys__"}:
            return {int(k): _decode(v, tensors) for k, v in tree["__intkeys__"].items()}
        return {k: _decode(v, tensors) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_decode(v, tensors) for v in tree]
    return tree


def encode_state(state: dict[str, Any]) -> bytes:
    """The bytes of a `.state.safetensors` file holding `state` (tensors anywhere inside)."""
    tensors: dict[str, torch.Tensor] = {}
    tree = _encode(state, tensors, "state")
    return save(tensors, metadata={"format": STATE_FORMAT, "state": json.dumps(tree)})


def read_state(path: Path) -> dict[str, Any]:
    """Decode a `.state.safetensors` file; CheckpointError naming the file if it is not one."""
    path = Path(path)
    if not path.name.endswith(".state.safetensors"):
        raise CheckpointError(
            f"{path}: trainer state must be a .state.safetensors file; pickled state (.pt, from an"
            " older prismlm or planted) is never loaded because unpickling can run code"
        )
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            if meta.get("format") != STATE_FORMAT:
                raise CheckpointError(f"{path}: not a prismlm trainer state (format {meta.get('format')!r})")
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no iter
        state = _decode(json.loads(meta["state"]), tensors)
    except CheckpointError:
        raise
    except Exception as err:  # safetensors, OS and JSON errors alike: the file is damaged
        raise CheckpointError(f"{path}: unreadable trainer state ({type(err).__name__}: {err})") from err
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: trainer state is a {type(state).__name__}, not a dict")
    return state


# ---------------------------------------------------------------------------------------------
# the folder: save, prune, read the commit pointer, clean up, load with fallback


def _steps(ckpt_dir: Path, pattern: re.Pattern[str]) -> set[int]:
    return {int(m.group(1)) for p in ckpt_dir.iterdir() if (m := pattern.fullmatch(p.name))}


def _complete_steps(ckpt_dir: Path) -> list[int]:
    """Steps with both a weights and a (safe-format) state file, newest first."""
    return sorted(_steps(ckpt_dir, _WEIGHTS) & _steps(ckpt_dir, _SAFE_STATE), reverse=True)


def _remove_step(ckpt_dir: Path, step: int) -> None:
    for name in (weights_name(step), state_name(step), f"step-{step}.state.pt"):
        (ckpt_dir / name).unlink(missing_ok=True)
    shutil.rmtree(ckpt_dir / f"step-{step}.dcp", ignore_errors=True)


def _weights_path(ckpt_dir: Path, step: int) -> Path:
    """The weights of `step`: its safetensors file, or its DCP folder when that is what exists."""
    folder = ckpt_dir / f"step-{step}.dcp"
    return folder if folder.is_dir() else ckpt_dir / weights_name(step)


def save_checkpoint(
    ckpt_dir: Path,
    step: int,
    model: nn.Module,
    state: dict[str, Any],
    keep: int = 1,
    weights_dict: dict[str, torch.Tensor] | None = None,
    written: Path | None = None,
) -> Path:
    """Write weights + trainer state for `step`, commit them in `latest.json`, prune old ones.

    weights_dict: the full state dict to write instead of `model`'s; its tensors must not share
    storage. written: weights already written in the folder (a `sharded_checkpoint` folder).
    """
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    weights = ckpt_dir / weights_name(step) if written is None else Path(written)
    if written is None and weights_dict is None:
        atomic_write(weights, lambda tmp: save_model(model, tmp))
    elif written is None:
        atomic_write_bytes(weights, save(weights_dict))
    atomic_write_bytes(ckpt_dir / state_name(step), encode_state(state))
    pointer = {"step": step, "weights": weights.name, "state": state_name(step)}
    atomic_write_bytes(ckpt_dir / LATEST, json.dumps(pointer).encode())
    older = sorted(s for s in _steps(ckpt_dir, _WEIGHTS) | _steps(ckpt_dir, _STATE) if s < step)
    for old in older[: max(0, len(older) - (keep - 1))]:
        _remove_step(ckpt_dir, old)
    return weights


def read_pointer(ckpt_dir: Path) -> tuple[int, Path, Path] | None:
    """(step, weights path, state path) committed in `latest.json`; None when there is none.

    CheckpointError naming the file when it is not valid JSON of the right shape, or when a
    name in it escapes the folder (absolute, `..`, a symlink out).
    """
    pointer = Path(ckpt_dir) / LATEST
    if not pointer.exists():
        return None
    try:
        meta = json.loads(pointer.read_text())
        step, weights, state = meta["step"], meta["weights"], meta["state"]
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            raise TypeError(f"'step' must be a non-negative int, got {step!r}")
        if not isinstance(weights, str) or not isinstance(state, str):
            raise TypeError("'weights' and 'state' must be file names")
        return step, confined_path(ckpt_dir, weights), confined_path(ckpt_dir, state)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{pointer}: invalid checkpoint pointer ({err})") from err


def latest_step(ckpt_dir: Path) -> int | None:
    """Step of the committed checkpoint, or None when there is none."""
    found = read_pointer(ckpt_dir)
    return None if found is None else found[0]


def clean_checkpoints(ckpt_dir: Path) -> list[str]:
    """Remove what a killed run leaves behind; returns the removed names.

    Removed: temporary files of interrupted writes, a weights file without its state or a state
    without its weights, and checkpoints newer than the committed one (or every checkpoint when
    nothing was ever committed). Kept: the committed checkpoint and older complete ones (the
    fallbacks), and anything when `latest.json` is damaged (then every checkpoint may be needed).
    """
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return []
    removed = []
    for p in ckpt_dir.iterdir():
        if _TEMP.fullmatch(p.name) and p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)  # a DCP folder killed mid-write
            removed.append(p.name)
        elif _TEMP.fullmatch(p.name) and p.is_file():
            p.unlink(missing_ok=True)
            removed.append(p.name)
    try:
        found = read_pointer(ckpt_dir)
    except CheckpointError:
        return removed
    committed = -1 if found is None else found[0]
    weights, states = _steps(ckpt_dir, _WEIGHTS), _steps(ckpt_dir, _STATE)
    for step in sorted(weights | states):
        if step > committed or (step < committed and step not in weights & states):
            names = (weights_name(step), state_name(step), f"step-{step}.state.pt", f"step-{step}.dcp")
            removed += [n for n in names if (ckpt_dir / n).exists()]
            _remove_step(ckpt_dir, step)
    return removed


def load_checkpoint(
    ckpt_dir: Path,
    model: nn.Module,
    check: Callable[[dict[str, Any], Path], None] | None = None,
    load_weights: Callable[[Path], None] | None = None,
) -> dict[str, Any] | None:
    """Load the newest usable checkpoint into `model` and return its trainer state.

    None when the folder holds no checkpoint. `check(state, state_path)` runs before the weights
    are touched and may raise to refuse the checkpoint (that error propagates). A damaged
    checkpoint is skipped with a CheckpointWarning in favour of an older complete one; when none
    is usable a CheckpointError lists every file that failed and why. A fallback is re-committed
    in `latest.json`. `load_weights(path)` replaces the plain safetensors load (a sharded model).
    """
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return None
    failures: list[str] = []
    candidates: list[tuple[Path, Path]] = []
    try:
        found = read_pointer(ckpt_dir)
    except CheckpointError as err:
        failures.append(str(err))
        found = None
    if found is not None:
        candidates.append((found[1], found[2]))
    newest = found[0] if found is not None else None
    for step in _complete_steps(ckpt_dir):
        if newest is None or step < newest:
            candidates.append((_weights_path(ckpt_dir, step), ckpt_dir / state_name(step)))
    if found is None and not failures:
        return None  # nothing committed: a fresh run (clean_checkpoints drops uncommitted files)
    device = next(model.parameters()).device
    for weights, state_path in candidates:
        try:
            state = read_state(state_path)
        except CheckpointError as err:
            failures.append(str(err))
            continue
        try:
            if check is not None:
                check(state, state_path)  # a CheckpointError here is damage; other errors refuse
        except CheckpointError as err:
            failures.append(str(err))
            continue
        try:
            if load_weights is None and weights.is_dir():
                raise CheckpointError("a sharded (FSDP2) checkpoint: resume it with parallel='fsdp'")
            if load_weights is None:
                load_model(model, str(weights), device=str(device))
            else:
                load_weights(weights)
        except Exception as err:  # truncated or foreign weights file
            failures.append(f"{weights}: unreadable weights ({type(err).__name__}: {err})")
            continue
        if failures:
            warnings.warn(
                f"skipped damaged checkpoint(s), resuming from {state_path.name}: " + "; ".join(failures),
                CheckpointWarning,
                stacklevel=2,
            )
            # the fallback becomes the committed checkpoint; the damaged newer files are then
            # leftovers that clean_checkpoints removes
            pointer = {"step": state.get("step"), "weights": weights.name, "state": state_path.name}
            atomic_write_bytes(ckpt_dir / LATEST, json.dumps(pointer).encode())
        return state
    raise CheckpointError(
        f"no usable checkpoint in {ckpt_dir}: " + "; ".join(failures)
        + " (delete the folder or start afresh with restart=True)"
    )


def committed_weights(path: Path) -> Path:
    """The weights file another run's folder offers to `TrainConfig.init_from`.

    Accepts a run folder (`<run>/checkpoints/latest.json`), a checkpoints folder, a
    `save_pretrained` folder (`model.safetensors`), a `.safetensors` file or a sharded run's
    `.dcp` folder; a CheckpointError naming the path otherwise.
    """
    path = Path(path)
    if (path.is_file() and path.suffix == ".safetensors") or (path.is_dir() and path.suffix == ".dcp"):
        return path
    for folder in (path / "checkpoints", path):
        found = read_pointer(folder) if folder.is_dir() else None
        if found is not None:
            return found[1]
    if (path / "model.safetensors").is_file():
        return path / "model.safetensors"
    raise CheckpointError(
        f"invalid config field 'init_from': {path} holds no committed checkpoint, model.safetensors"
        " or .safetensors file"
    )


def init_weights(model: nn.Module, path: Path) -> Path:
    """Load the weights `committed_weights(path)` names into `model` (strict); returns the file."""
    weights = committed_weights(path)
    try:
        if weights.is_dir():  # an FSDP2 run's folder: its manifest is verified first
            from .sharded_checkpoint import load_model_weights

            load_model_weights(weights, model)
        else:
            load_model(model, str(weights), device=str(next(model.parameters()).device))
    except Exception as err:  # another architecture, or a damaged file
        raise CheckpointError(
            f"invalid config field 'init_from': {weights} does not fit {type(model).__name__} "
            f"({type(err).__name__}: {err})"
        ) from err
    return weights
