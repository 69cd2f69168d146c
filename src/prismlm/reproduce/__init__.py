"""reproduce"""


def _register_presets() -> None:
    """Put the reproduction presets into the one `prismlm compare` registry (experiment.compare).

    Each entry imports its system only when called, so importing prismlm.reproduce stays cheap.
    """
    from ..experiment.compare import Comparison, register_preset

    def prizma_ablation(scale: str) -> Comparison:
        from ..config import require
        from ..experiment.rows import make_arm
        from ..experiment.sweep import grid
        from .prizma_seq.scales import DEFAULT_SEEDS, SCALE_NAMES, SCALES

        require(scale in SCALE_NAMES, "scale", f"must be one of {SCALE_NAMES}, got {scale!r}")
        s = SCALES[scale]["mqar"]
        arms = [
            make_arm(m, s["small"], s["feat_n2"])
            for m in ("prizma-quad2", "prizma-rand_linear", "prizma-none", "transformer")
        ]
        return Comparison(grid(arms, [s["task"]], s["train"], DEFAULT_SEEDS[scale]), s["threshold"])

    def prism_toy(task: str):
        def preset(scale: str) -> Comparison:
            from .prism import toy_preset

            return toy_preset(task)(scale)

        return preset

    register_preset("prizma-ablation", prizma_ablation)
    for task in ("induction", "copy", "mini_lm", "reasoning", "reasoning_steps"):
        register_preset(f"prism-toy-{task}", prism_toy(task))
    register_preset("prism-toy", prism_toy("induction"))


_register_presets()
