"""Fused CPU decode kernels (numba): the switch every kernel module shares.

Eager decoding on CPU is bound by the number of tensor ops per token; a decode step whose
elementwise work between matmuls runs as one compiled loop nest issues a few calls instead of
dozens. Each model keeps its torch form as the reference and as the path for what a kernel does
not cover (autograd, autocast, GPU, `torch.compile`), and tests hold the two equal.
Kernels: `mixer_step_cpu` (the Prizma mixer), `attention_step_cpu` (the Transformer's rotary and
KV-cache write). Both models use them by default, so eager is compared with eager.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba is a dependency; the torch forms still work
    njit = None

AVAILABLE = njit is not None
_enabled: ContextVar[bool] = ContextVar("prismlm_cpu_kernels", default=True)


@contextmanager
def cpu_kernels(enabled: bool) -> Iterator[None]:
    """Use (or not) the fused CPU decode kernels inside the block."""
    token = _enabled.set(enabled)
    try:
        yield
    finally:
        _enabled.reset(token)


def kernels_enabled() -> bool:
    """True when numba is importable and no enclosing `cpu_kernels(False)` turned them off."""
    return AVAILABLE and _enabled.get()


def jit(fn: Callable) -> Callable:
    """numba's nopython JIT, cached on disk, releasing the GIL (the plain function without numba).

    fastmath allows reassociation and fused multiply-adds only — what lets LLVM vectorise the
    dot products (~1.3× at batch 8) — not the no-NaN/no-inf assumptions. numba's disk cache is
    keyed on the kernel's own file, not on these options: after changing them, delete the
    `*.nbi` / `*.nbc` files in ops/__pycache__.
    """
    return njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})(fn) if AVAILABLE else fn
