"""Claim reproduction: one module per research system, the published figure beside the measured one.

    prizma_seq/   seed 000's Prizma-Seq legs (recall, char-LM, decode latency) and their claims
    continual/    seed 000's continual learner (E1-E5)
    prism.py      seed 002's PRISM toy comparison
    holo.py       seed 001's PRISM-Holo memory
    claim.py      the ledger vocabulary: Claim, Measurement, VERDICTS, SCALES
    ledger.py     run_ledger: every system's CLAIMS joined with its measure(), one table

Submodules are imported on demand (`ledger.SYSTEMS` names them), so one system's import cost
or failure never reaches another.
"""
