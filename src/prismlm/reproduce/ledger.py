"""The claims ledger: every system's published claims beside what this run measured, one table.

    rows = run_ledger(["prizma_seq", "holo"], scale="smoke", out=Path("results/ledger"))

A system module (see `SYSTEMS`) exposes `CLAIMS: tuple[Claim, ...]` and
`measure(scale, out, device="auto", seeds=None) -> list[Measurement]` (one per claim; module
`reproduce/claim.py`). `run_ledger` calls each system's `measure` with its own output folder,
joins the measurements with the claims — a claim without a measurement still gets a row, "not
measured", saying why; a system that raises gets that error in every one of its rows and the next
system still runs — and writes `<out>/ledger.json|.md|.png` through `io.write_record`.
"""

from __future__ import annotations

import importlib
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

from ..bench.timing import environment
from ..config import fingerprint, require
from ..experiment.report import markdown_table
from ..io import write_record
from .claim import SCALES, VERDICTS, Claim, Measurement

# system -> the module holding its CLAIMS and measure(); tests may add a fake one.
SYSTEMS: dict[str, str] = {
    "prizma_seq": "prismlm.reproduce.prizma_seq",
    "continual": "prismlm.reproduce.continual",
    "prism": "prismlm.reproduce.prism",
    "holo": "prismlm.reproduce.holo",
}

# JSON field -> ledger column header
COLUMNS: dict[str, str] = {
    "id": "claim id",
    "system": "system",
    "claim": "claim",
    "seed_figure": "seed figure",
    "measured": "measured",
    "spread": "spread",
    "verdict": "verdict",
    "command": "command",
    "why": "why",
}


def cli_name(system: str) -> str:
    """The `prismlm reproduce` subcommand of a system: "prizma_seq" -> "prizma-seq"."""
    return system.replace("_", "-")


def load_system(system: str) -> ModuleType:
    """Import a system's module and check that it keeps the ledger contract."""
    require(system in SYSTEMS, "systems", f"unknown system {system!r}; known: {sorted(SYSTEMS)}")
    module = importlib.import_module(SYSTEMS[system])
    for name in ("CLAIMS", "measure"):
        if not hasattr(module, name):
            raise TypeError(f"{SYSTEMS[system]} has no {name}: it does not keep the ledger contract yet")
    return module


def _row(claim: Claim, m: Measurement | None, command: str, why: str) -> dict[str, Any]:
    """A ledger row; with no measurement, "not measured" because of `why`, re-run by `command`."""
    m = m or Measurement(claim.id, "–", None, "not measured", command, why)
    return {
        "id": claim.id,
        "system": claim.system,
        "claim": claim.text,
        "seed_figure": claim.seed_figure,
        "source": claim.source,
        "measured": m.measured,
        "spread": m.spread,
        "verdict": m.verdict,
        "command": m.command,
        "why": m.why,
    }


def join(
    system: str, claims: tuple[Claim, ...], measurements: list[Measurement], command: str
) -> list[dict[str, Any]]:
    """One row per claim, in CLAIMS order; a claim `measure` skipped is a "not measured" row.

    A measurement naming no claim of the system is a bug in that system: it raises ValueError.
    """
    by_id = {m.claim_id: m for m in measurements}
    stray = set(by_id) - {c.id for c in claims}
    if stray:
        raise ValueError(f"{system}.measure returned measurements for unknown claims {sorted(stray)}")
    why = "measure() returned no measurement for this claim"
    return [_row(c, by_id.get(c.id), command, why) for c in claims]


def _failed(system: str, claims: tuple[Claim, ...], command: str, why: str) -> list[dict[str, Any]]:
    if not claims:  # even a system whose claims could not be read keeps a row in the ledger
        claims = (Claim(f"{system}.*", system, "(the system's claims could not be loaded)", "–", "–"),)
    return [_row(c, None, command, why) for c in claims]


def run_ledger(
    systems: list[str] | None = None,
    scale: str = "smoke",
    out: Path = Path("results/ledger"),
    device: str = "auto",
    seeds: list[int] | None = None,
    per_system_dirs: bool = True,
    measure_options: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Measure every claim of `systems` (all when None) at `scale`; write and return the ledger rows.

    Each system writes its own results under `<out>/<system>/` (or straight into `out` with
    `per_system_dirs=False`, for a single system); `measure_options` holds extra keyword
    arguments for one system's `measure` (e.g. {"prizma_seq": {"legs": ["mqar"]}}).
    """
    require(scale in SCALES, "scale", f"must be one of {SCALES}, got {scale!r}")
    systems = list(SYSTEMS) if not systems else list(systems)
    for name in systems:
        require(name in SYSTEMS, "systems", f"unknown system {name!r}; known: {sorted(SYSTEMS)}")
    require(per_system_dirs or len(systems) == 1, "per_system_dirs", "False needs exactly one system")
    out = Path(out)
    rows: list[dict[str, Any]] = []
    settings: dict[str, Any] = {}
    for name in systems:
        command = f"prismlm reproduce {cli_name(name)} --scale {scale}"
        claims: tuple[Claim, ...] = ()
        try:
            module = load_system(name)
            claims = tuple(module.CLAIMS)
            options = (measure_options or {}).get(name, {})
            sys_out = out / name if per_system_dirs else out
            measurements = module.measure(scale, sys_out, device=device, seeds=seeds, **options)
            rows += join(name, claims, list(measurements), command)
            settings[name] = module.settings(scale) if hasattr(module, "settings") else None
        except Exception as err:  # one system's failure must not cost the others their rows
            rows += _failed(name, claims, command, f"{name} failed: {type(err).__name__}: {err}")
    write_ledger(rows, out, scale, seeds, device, settings)
    return rows


def verdict_counts(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """{system: {verdict: count}} over every verdict (zeros included), systems in row order."""
    counts: dict[str, Counter] = {}
    for r in rows:
        counts.setdefault(r["system"], Counter())[r["verdict"]] += 1
    return {s: {v: c[v] for v in VERDICTS} for s, c in counts.items()}


def summary_line(rows: list[dict[str, Any]]) -> str:
    """"10 claims: 3 reproduced, 1 refuted, 5 not reproducible at this scale, 1 not measured"."""
    total = Counter(r["verdict"] for r in rows)
    return f"{len(rows)} claims: " + ", ".join(f"{total[v]} {v}" for v in VERDICTS)


def _cell(v: Any) -> Any:
    return v.replace("|", "\\|").replace("\n", " ") if isinstance(v, str) else v


def ledger_markdown(rows: list[dict[str, Any]], scale: str, seeds: list[int] | None) -> str:
    counts = verdict_counts(rows)
    count_rows = [{"system": s, **c} for s, c in counts.items()]
    table = [{head: _cell(r.get(key)) for key, head in COLUMNS.items()} for r in rows]
    seed_text = seeds if seeds is not None else "each system's default"
    return "\n".join(
        [
            f"# Claims ledger ({scale} scale, seeds {seed_text})\n",
            summary_line(rows) + "\n",
            markdown_table(count_rows, ["system", *VERDICTS]),
            markdown_table(table, list(COLUMNS.values())),
        ]
    )


def _figure(counts: dict[str, dict[str, int]]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"reproduced": "tab:green", "refuted": "tab:red"}
    colours |= {"not reproducible at this scale": "tab:orange", "not measured": "tab:gray"}
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.5 * len(counts)))
    systems = list(counts)
    left = [0] * len(systems)
    for v in VERDICTS:
        widths = [counts[s][v] for s in systems]
        ax.barh(systems, widths, left=left, color=colours[v], label=v)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set_xlabel("claims")
    ax.invert_yaxis()
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def write_ledger(
    rows: list[dict[str, Any]],
    out: Path,
    scale: str,
    seeds: list[int] | None,
    device: str = "auto",
    settings: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """Write `<out>/ledger.json|.md|.png`: the rows, verdict counts, scale, seeds, environment
    and a fingerprint of the resolved settings (device and each system's `settings(scale)`: the
    sizes and recipes it ran, where the system exposes them)."""
    counts = verdict_counts(rows)
    resolved = {"device": device, "settings": settings or {}}
    payload = {
        "scale": scale,
        "seeds": seeds,
        **resolved,
        "fingerprint": fingerprint(resolved),
        "environment": environment(),
        "summary": summary_line(rows),
        "counts": counts,
        "rows": rows,
    }
    md = ledger_markdown(rows, scale, seeds)
    print(md, flush=True)
    return write_record(out, "ledger", payload, md, _figure(counts) if rows else None)
