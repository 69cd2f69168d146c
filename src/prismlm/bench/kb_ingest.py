"""Knowledge-base ingest memory: MB per 1,000 facts at the default dimension, measured.

    rec = run_kb_ingest_benchmark(out_dir, sizes=(1000, 4000), dim=8192)   # JSON + MD record
    python -m prismlm.bench.kb_ingest --out results/bench_kb_ingest

For each size n a document of n lines "entity i attribute: answer i" is written to a temporary
file and streamed into a fresh KB with `ingest_file` (one transaction). Two meters:
  * traced — `tracemalloc` peak during the ingest (Python objects and numpy buffers; SQLite's page
    cache is outside it, and bounded by its own cache_size),
  * rss — (rss=True) in a fresh process, the peak resident set sampled every few ms during the
    ingest minus the resident set just before it: sees everything, SQLite and torch included.
The figure of merit is the marginal cost, the slope of peak memory against n in MB per 1,000
facts, compared with TARGET_MB_PER_1000; `per_1000_mb` (peak / n) is reported beside it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

from ..io import write_record
from ..memory.encoders import TextHashEncoder
from ..memory.ingest import ingest_file
from ..memory.kb_store import DEFAULT_DIM, KBStore
from .timing import environment

__all__ = ["TARGET_MB_PER_1000", "measure_traced", "measure_rss", "run_kb_ingest_benchmark"]

TARGET_MB_PER_1000 = 5.0
MB = 1 << 20


def _write_doc(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(f"entity {i} attribute: answer {i}\n")


def measure_traced(n: int, dim: int = DEFAULT_DIM) -> dict:
    """Ingest n facts; returns {"n", "peak_mb", "seconds", "facts"} (tracemalloc peak)."""
    with tempfile.TemporaryDirectory() as tmp:
        doc = Path(tmp) / "doc.txt"
        _write_doc(doc, n)
        with KBStore(Path(tmp) / "kb.sqlite", dim=dim) as store:
            encoder = TextHashEncoder(dim)  # its constant bank is not part of the per-fact cost
            tracemalloc.start()
            try:
                t0 = time.perf_counter()
                result = ingest_file(store, doc, encoder)
                seconds = time.perf_counter() - t0
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            return {"n": n, "peak_mb": peak / MB, "seconds": seconds, "facts": result.facts_new}


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


def _child(doc: str, db: str, dim: int) -> None:  # runs in the fresh process
    store = KBStore(db, dim=dim)
    encoder = TextHashEncoder(dim)
    before, peak, done = _rss_bytes(), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(0.002)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    result = ingest_file(store, doc, encoder)
    done.set()
    t.join()
    peak[0] = max(peak[0], _rss_bytes())
    print(json.dumps({"growth_mb": (peak[0] - before) / MB, "facts": result.facts_new}))


def measure_rss(n: int, dim: int = DEFAULT_DIM) -> dict:
    """Peak RSS growth (MB) of a fresh process while it ingests n facts (Linux /proc)."""
    with tempfile.TemporaryDirectory() as tmp:
        doc, db = Path(tmp) / "doc.txt", Path(tmp) / "kb.sqlite"
        _write_doc(doc, n)
        code = f"from prismlm.bench.kb_ingest import _child; _child({str(doc)!r}, {str(db)!r}, {dim})"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        return {"n": n, **json.loads(out.stdout.strip().splitlines()[-1])}


def _slope_per_1000(rows: list[dict], field: str) -> float:
    a, b = rows[0], rows[-1]
    return (b[field] - a[field]) / (b["n"] - a["n"]) * 1000


def run_kb_ingest_benchmark(
    out_dir: Path | None,
    sizes: tuple[int, ...] = (1000, 4000),
    dim: int = DEFAULT_DIM,
    rss: bool = True,
) -> dict:
    """Measure both meters at each size; write `bench_kb_ingest.{json,md}` when out_dir is given."""
    if len(sizes) < 2 or sorted(set(sizes)) != list(sizes) or sizes[0] < 1:
        raise ValueError(f"sizes must be >= 2 increasing positive counts, got {sizes}")
    traced = [measure_traced(n, dim) for n in sizes]
    rec = {
        "dim": dim,
        "target_mb_per_1000": TARGET_MB_PER_1000,
        "traced": traced,
        "traced_slope_mb_per_1000": _slope_per_1000(traced, "peak_mb"),
        "environment": environment(threads=1),
    }
    if rss:
        rows = [measure_rss(n, dim) for n in sizes]
        rec["rss"] = rows
        rec["rss_slope_mb_per_1000"] = _slope_per_1000(rows, "growth_mb")
    for row in traced:
        row["per_1000_mb"] = row["peak_mb"] / row["n"] * 1000
    if out_dir is not None:
        lines = [
            f"# KB ingest memory (dim {dim}, target < {TARGET_MB_PER_1000} MB per 1,000 facts)",
            "",
            "| facts | traced peak MB | traced MB / 1,000 | RSS growth MB | ingest s |",
            "|---|---|---|---|---|",
        ]
        for i, row in enumerate(traced):
            r = f"{rec['rss'][i]['growth_mb']:.1f}" if rss else "-"
            cells = (row["n"], f"{row['peak_mb']:.2f}", f"{row['per_1000_mb']:.2f}", r)
            cells += (f"{row['seconds']:.2f}",)
            lines.append("| " + " | ".join(map(str, cells)) + " |")
        lines += ["", f"Marginal (slope): traced {rec['traced_slope_mb_per_1000']:.3f} MB per 1,000 facts"]
        if rss:
            lines[-1] += f", RSS {rec['rss_slope_mb_per_1000']:.3f} MB per 1,000 facts"
        lines.append(f"Load average at the time: {rec['environment']['load_average']}")
        write_record(Path(out_dir), "bench_kb_ingest", rec, "\n".join(lines))
    return rec


def main() -> None:  # pragma: no cover - thin wrapper
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("results/bench_kb_ingest"))
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000])
    ap.add_argument("--dim", type=int, default=DEFAULT_DIM)
    args = ap.parse_args()
    rec = run_kb_ingest_benchmark(args.out, tuple(args.sizes), args.dim)
    print(json.dumps({k: v for k, v in rec.items() if "slope" in k}, indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
