"""The vocabulary of the claims ledger: a published claim, and what this run measured of it.

A *claim* is one numeric statement in a seed document (e.g. "quad2 reaches 0.99 MQAR accuracy").
Each system's reproduction module measures the claims it can at a *scale* (smoke | cpu | paper)
and returns one `Measurement` per claim id; `reproduce/ledger.py` joins them with `CLAIMS` into
one table. A claim nobody measured still gets a row, saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Verdict = Literal["reproduced", "refuted", "not reproducible at this scale", "not measured"]
VERDICTS: tuple[str, ...] = ("reproduced", "refuted", "not reproducible at this scale", "not measured")
SCALES: tuple[str, ...] = ("smoke", "cpu", "paper")


@dataclass(frozen=True)
class Claim:
    """A published figure. `id` is stable ("prizma_seq.mqar_quad2_acc"); `system` is one of
    prizma_seq | continual | prism | holo; `source` names the seed file and its section."""

    id: str
    system: str
    text: str
    seed_figure: str
    source: str


@dataclass(frozen=True)
class Measurement:
    """What one run measured for claim `claim_id`.

    measured: the figure as text ("0.973"); spread: e.g. "± 0.012 (95% t-CI, 3 seeds)" or None;
    verdict: one of VERDICTS; command: the shell command that re-measures it; why: the reason for
    the verdict (always given for anything but "reproduced").
    """

    claim_id: str
    measured: str
    spread: str | None
    verdict: Verdict
    command: str
    why: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
