"""Sharded checkpoints of FSDP2 runs: `torch.distributed.checkpoint` folders with a manifest.

    path = save_sharded(ckpt_dir, step, model, opt, info)   # collective; each rank its shards
    load_sharded(path, model, opt, info)                    # collective; reshards on any world size

Layout: `<ckpt_dir>/step-<N>.dcp/` holds DCP's files (`__<rank>_0.distcp` shards written by every
rank, `.metadata` by the coordinator) for {"model", "optim"} sharded state dicts
(`get_state_dict`: DTensor shards, never gathered), plus `prismlm-manifest.json`: format, step
and the SHA-256 of every file. The folder is written as `.step-<N>.dcp.tmp`, the manifest is
written once every rank has finished, then the folder is renamed; the trainer commits it in
`latest.json` afterwards (checkpoint.py), so a kill -9 at any instant leaves either a temporary
folder or an uncommitted one, both removed by `clean_checkpoints`.

Trust: DCP stores its metadata and non-tensor values with pickle, and unpickling can run code.
A DCP folder is therefore trusted only as the output of your own runs: `load_sharded` and
`init_weights` refuse any folder without prismlm's manifest, or whose files are not exactly the
manifest's files with its hashes, before torch reads a byte of it. Single-process runs keep the
pickle-free safetensors checkpoints.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..io import atomic_write_bytes
from .checkpoint import CheckpointError
from .distributed import DistInfo, barrier

MANIFEST = "prismlm-manifest.json"
MANIFEST_FORMAT = "prismlm-dcp-1"


def dcp_name(step: int) -> str:
    return f"step-{step}.dcp"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(folder: Path) -> dict[str, Path]:
    return {p.name: p for p in folder.iterdir() if p.name != MANIFEST}


def write_manifest(folder: Path, step: int) -> None:
    """Record the SHA-256 of every file DCP wrote in `folder` (call after all ranks finished)."""
    entries = {}
    for name, path in sorted(_files(folder).items()):
        if not path.is_file() or path.is_symlink():
            raise CheckpointError(f"{path}: a DCP checkpoint holds plain files only")
        entries[name] = _sha256(path)
    payload = {"format": MANIFEST_FORMAT, "step": step, "files": entries}
    atomic_write_bytes(folder / MANIFEST, json.dumps(payload, indent=1).encode())


def verify_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a DCP folder whose files match it exactly; CheckpointError otherwise."""
    folder = Path(folder)
    manifest = folder / MANIFEST
    if not folder.is_dir() or not manifest.is_file():
        raise CheckpointError(
            f"{folder}: no {MANIFEST}; a DCP folder is loaded only with prismlm's manifest, because"
            " DCP unpickles its metadata (only your own runs' folders are trusted)"
        )
    try:
        meta = json.loads(manifest.read_text())
        files = meta["files"]
        if meta.get("format") != MANIFEST_FORMAT or not isinstance(files, dict):
            raise ValueError(f"format {meta.get('format')!r}")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{manifest}: invalid manifest ({err})") from err
    present = _files(folder)
    if set(present) != set(files):
        raise CheckpointError(
            f"{folder}: files differ from the manifest (extra {sorted(set(present) - set(files))},"
            f" missing {sorted(set(files) - set(present))})"
        )
    for name, digest in files.items():
        path = present[name]
        if path.is_symlink() or not path.is_file() or _sha256(path) != digest:
            raise CheckpointError(f"{path}: does not match its SHA-256 in the manifest (damaged or replaced)")
    return meta


def save_sharded(
    ckpt_dir: Path, step: int, model: nn.Module, opt: torch.optim.Optimizer, info: DistInfo
) -> Path:
    """Write `step-<step>.dcp` (module docstring); collective, every rank writes its own shards.
    Returns the final folder; it is not committed until the caller updates `latest.json`."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict

    ckpt_dir = Path(ckpt_dir)
    final, tmp = ckpt_dir / dcp_name(step), ckpt_dir / f".{dcp_name(step)}.tmp"
    if info.is_main:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)  # a previous attempt killed mid-write
    barrier(info)
    model_sd, optim_sd = get_state_dict(model, opt)
    dcp.save({"model": model_sd, "optim": optim_sd}, storage_writer=dcp.FileSystemWriter(str(tmp)))
    # dcp.save returns on every rank only after the coordinator wrote .metadata for all shards
    if info.is_main:
        write_manifest(tmp, step)
        shutil.rmtree(final, ignore_errors=True)  # an uncommitted folder of the same step
        os.replace(tmp, final)
    barrier(info)
    return final


def _agree(ok: bool, info: DistInfo) -> bool:
    """True on every rank when `ok` holds on every rank (a collective under torchrun)."""
    if not info.enabled:
        return ok
    import torch.distributed as dist

    flag = torch.tensor([1 if ok else 0], dtype=torch.int32)
    dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())


def load_sharded(path: Path, model: nn.Module, opt: torch.optim.Optimizer, info: DistInfo) -> None:
    """Load a `save_sharded` folder into the (sharded) model and optimizer; collective.
    The coordinator verifies the manifest first; every rank refuses together if it fails."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

    error: CheckpointError | None = None
    if info.is_main:
        try:
            verify_manifest(path)
        except CheckpointError as err:
            error = err
    if not _agree(error is None, info):
        raise error or CheckpointError(f"{path}: refused by the coordinating rank (see its log)")
    model_sd, optim_sd = get_state_dict(model, opt)  # initialises empty AdamW moments to fill
    state = {"model": model_sd, "optim": optim_sd}
    dcp.load(state, storage_reader=dcp.FileSystemReader(str(path)))
    set_state_dict(model, opt, model_state_dict=state["model"], optim_state_dict=state["optim"])


def load_model_weights(path: Path, model: nn.Module) -> None:
    """Only the model weights of a verified DCP folder, into an unsharded model (init_from)."""
    import torch.distributed.checkpoint as dcp

    verify_manifest(path)
    state = {"model": model.state_dict()}
    dcp.load(state, storage_reader=dcp.FileSystemReader(str(path)))
    model.load_state_dict(state["model"])
