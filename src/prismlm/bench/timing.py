"""The one timing helper every benchmark uses, and the environment record it writes beside.

    stats = time_call(fn, repeats=5, warmup=1, device=dev)   # {"median_s", "min_s", "runs_s", "cpu_s"}
    env = environment(threads=2)                              # load average, threads, torch, machine

Timings on a shared CPU are noisy: report the median of several runs, compare ratios measured in
the same run, and keep the load average next to every figure so a reader can discount a busy box.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch


def _sync(device: torch.device | str | None) -> None:
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_call(
    fn: Callable[[], Any],
    repeats: int = 5,
    warmup: int = 1,
    device: torch.device | str | None = None,
    setup: Callable[[], Any] | None = None,
) -> dict[str, Any]:
    """Run `fn` `warmup` times untimed, then `repeats` times timed (CUDA synchronised).

    With `setup`, every run first calls `arg = setup()` outside the timed region and then times
    `fn(arg)` — e.g. a prefill before timing the decode steps that continue from its state.
    Returns {"median_s", "min_s", "runs_s": [...], "cpu_s": median process CPU seconds}.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats}, {warmup}")

    def once() -> tuple[float, float]:
        call = fn if setup is None else (lambda arg=setup(): fn(arg))
        _sync(device)
        w0, c0 = time.perf_counter(), time.process_time()
        call()
        _sync(device)
        return time.perf_counter() - w0, time.process_time() - c0

    for _ in range(warmup):
        once()
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = once()
        wall.append(w)
        cpu.append(c)
    return {
        "median_s": statistics.median(wall),
        "min_s": min(wall),
        "runs_s": wall,
        "cpu_s": statistics.median(cpu),
    }


def environment(threads: int | None = None) -> dict[str, Any]:
    """What a timing depends on: threads, load average, CPU count, machine, torch, CUDA device."""
    return {
        "threads": threads if threads is not None else torch.get_num_threads(),
        "load_average": list(os.getloadavg()),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }
