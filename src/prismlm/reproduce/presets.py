"""Named comparisons for `prismlm compare --preset NAME`: each a function scale -> Comparison.

    spec = preset_spec("prism-toy-copy", "smoke")      # a Comparison: a list of Cells
    rows = experiment.compare.compare(spec, out)

The presets are the reproduction experiments one may want to re-run as a plain comparison; they
live here, beside the systems they come from, and `experiment/` knows nothing of them.
"""

from __future__ import annotations

from collections.abc import Callable

from ..config import require
from ..experiment.compare import Comparison
from ..experiment.rows import make_arm
from ..experiment.sweep import grid

Preset = Callable[[str], Comparison]


def prizma_ablation(scale: str) -> Comparison:
    """The Prizma-Seq causal ablation: quad2 / rand_linear / none / matched Transformer on MQAR."""
    from .prizma_seq.scales import DEFAULT_SEEDS, SCALE_NAMES, SCALES

    require(scale in SCALE_NAMES, "scale", f"must be one of {SCALE_NAMES}, got {scale!r}")
    s = SCALES[scale]["mqar"]
    arms = [
        make_arm(m, s["small"], s["feat_n2"])
        for m in ("prizma-quad2", "prizma-rand_linear", "prizma-none", "transformer")
    ]
    return Comparison(grid(arms, [s["task"]], s["train"], DEFAULT_SEEDS[scale]), s["threshold"])


def _prism_toy(task: str) -> Preset:
    def preset(scale: str) -> Comparison:
        from .prism import toy_preset

        return toy_preset(task)(scale)

    return preset


PRISM_TOY_TASKS = ("induction", "copy", "mini_lm", "reasoning", "reasoning_steps")
PRESETS: dict[str, Preset] = {
    "prizma-ablation": prizma_ablation,
    "prism-toy": _prism_toy("induction"),
    **{f"prism-toy-{task}": _prism_toy(task) for task in PRISM_TOY_TASKS},
}


def preset_spec(name: str, scale: str) -> Comparison:
    """The Comparison a named preset describes at `scale`."""
    require(name in PRESETS, "preset", f"unknown preset {name!r}; known: {sorted(PRESETS)}")
    return PRESETS[name](scale)
