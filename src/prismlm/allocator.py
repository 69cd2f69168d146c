"""Process-wide allocator setting shared by every long-running loop (benchmarks, continual runs).

glibc serves allocations above a dynamic threshold (at most 32 MB) with mmap and hands them back
to the kernel on free, so a step that allocates the same large temporaries every iteration pays a
page fault per 4 KB page each time. On this project's 2-core CPU that was up to 2.5× of a
Prizma-Seq training step at B=8, T=2048 ([B, H, T, d_φ] temporaries of 67 MB each).
"""

from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, glibc <malloc.h>
_applied = False  # whether keep_freed_memory took effect in this process


def keep_freed_memory() -> bool:
    """Ask glibc malloc to serve every allocation from its heap and never trim it.

    By default allocations above a (dynamic, at most 32 MB) threshold are mmap-ed and returned
    to the kernel on free, so a loop that allocates the same large temporaries every step pays
    a page fault per 4 KB page each time (about 15% of a job's CPU time here). The process keeps
    its peak footprint instead. Returns False (and changes nothing) off glibc.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    global _applied
    ok = libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30)
    _applied = _applied or bool(ok and libc.mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1))
    return _applied


def setting() -> str:
    """The allocator setting in force in this process, as benchmarks record it
    (`environment.allocator`): set once, it lasts for the rest of the process."""
    return "glibc keeps freed memory" if _applied else "default"


