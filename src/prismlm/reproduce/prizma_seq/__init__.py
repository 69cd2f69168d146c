"""Prizma-Seq (seed 000): its seven legs and its claims-ledger entry.

    from prismlm.reproduce import prizma_seq
    prizma_seq.CLAIMS                                   # the seed's numeric claims
    prizma_seq.measure("smoke", Path("results/x"))      # one Measurement per claim
    prizma_seq.reproduce(["mqar"], scale="cpu")         # one leg's report, as before
"""

from .claims import CLAIMS, measure, settings
from .legs import LEGS, reproduce

__all__ = ["CLAIMS", "LEGS", "measure", "reproduce", "settings"]
