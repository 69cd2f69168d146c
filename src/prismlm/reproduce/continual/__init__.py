"""The Prizma continual learner's reproduction: E1-E5 and digits, and its claims-ledger entry.

    configs.py      experiment configs and the reference figures they are read against
    experiments.py  E1, E4, E5, digits drivers (cached by resolved configs)
    sweeps.py       E2 (noise) and E3 (capacity) sweeps
    report.py       rows, checks and markdown; figures.py the plots
    claims.py       CLAIMS and measure(scale, out, device, seeds) for the ledger
"""

from .claims import CLAIMS, measure

__all__ = ["CLAIMS", "measure"]
