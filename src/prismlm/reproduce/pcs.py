"""Progressive Capacity Stacking through the one trainer: train, grow, continue.

    stages = [Stage(small_cfg, 300), Stage(mid_cfg, 300), Stage(big_cfg, 400)]
    result = run_progressive(stages, task, TrainConfig(...), run_dir)

A schedule is data: one `Stage(model config, steps)` per stage (`split_steps` turns token
fractions into step counts: int(total · f) each, the remainder to the last stage). Stage 0
builds its model under `seed`; stage i > 0 is `grow(model of stage i − 1, stage.config)`, which
computes the same function (models/grow.py), then trains on. Each stage is one `train()` call
with its own step budget, a fresh AdamW and its own warmup (optimizer state is not carried; see
models/grow.py), and its own run folder `<run_dir>/stage<i>-<key>`. The key fingerprints the
resolved configs of that stage *and of every stage before it* (the weights it starts from), so a
folder is only ever resumed by the same lineage, and the trainer's own check refuses a folder
made with other configs. Resume after a kill is therefore the trainer's: finished stages load
their final checkpoint and train nothing, the killed stage restarts from its last checkpoint,
and the run ends where an uninterrupted one does.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..config import config_to_dict, fingerprint, require, to_jsonable
from ..models import build_model
from ..models.grow import grow
from ..train import TrainConfig, TrainResult, train

__all__ = ["ProgressiveResult", "Stage", "run_progressive", "split_steps", "stage_keys"]


@dataclass(frozen=True)
class Stage:
    """One stage: the model config trained in it and its optimizer steps."""

    config: Any
    steps: int

    def __post_init__(self) -> None:
        ok = isinstance(self.steps, int) and self.steps >= 1
        require(ok, "steps", f"must be an int >= 1, got {self.steps!r}")


def split_steps(total: int, fractions: list[float]) -> list[int]:
    """Token fractions -> steps: int(total · f) per stage, the last stage gets the remainder."""
    require(len(fractions) >= 1, "fractions", "need at least one stage")
    require(all(f > 0 for f in fractions), "fractions", f"must be > 0, got {fractions}")
    require(abs(sum(fractions) - 1.0) < 1e-6, "fractions", f"must sum to 1, got {sum(fractions)}")
    steps = [int(total * f) for f in fractions[:-1]]
    steps.append(total - sum(steps))
    require(all(s >= 1 for s in steps), "fractions", f"{total} steps leave an empty stage: {steps}")
    return steps


@dataclass
class ProgressiveResult:
    """Per-stage results plus one eval curve over the whole run.

    curve: one dict per eval, with the stage, the global step, tokens seen (batch · seq_len ·
    steps) and wall-clock summed over the stages so far, and the eval metrics.
    """

    stages: list[TrainResult] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    curve: list[dict[str, Any]] = field(default_factory=list)
    model: Any = None

    @property
    def final(self) -> dict[str, Any]:
        return self.curve[-1] if self.curve else {}


def _train_config(base: TrainConfig, stage: Stage) -> TrainConfig:
    return dataclasses.replace(base, steps=stage.steps)


def stage_keys(stages: list[Stage], task: Any, base: TrainConfig, seed: int) -> list[str]:
    """Fingerprint of each stage's lineage: its resolved configs and those of all stages before."""
    keys, lineage = [], []
    task_cfg = {"task_class": type(task).__name__, "vocab_size": task.vocab_size,
                "max_seq_len": task.max_seq_len}
    if dataclasses.is_dataclass(task):
        task_cfg["fields"] = to_jsonable(task)
    for stage in stages:
        train_cfg = dataclasses.asdict(_train_config(base, stage))
        lineage.append({"model": config_to_dict(stage.config), "train": train_cfg})
        keys.append(fingerprint(to_jsonable({"lineage": lineage, "task": task_cfg, "seed": seed}))[:12])
    return keys


def run_progressive(
    stages: list[Stage],
    task: Any,
    base: TrainConfig,
    run_dir: Path | None = None,
    seed: int = 0,
    restart: bool = False,
) -> ProgressiveResult:
    """Train stage by stage, growing between stages (module docstring). `base` gives every
    TrainConfig field but `steps`; a one-stage schedule is ordinary from-scratch training."""
    require(len(stages) >= 1, "stages", "need at least one stage")
    keys = stage_keys(stages, task, base, seed)
    out = ProgressiveResult(keys=keys)
    tokens_per_step = base.batch_size * task.max_seq_len
    step0, wall0 = 0, 0.0
    model = None
    for i, stage in enumerate(stages):
        if model is None:
            torch.manual_seed(seed)
            model = build_model(stage.config)
        else:
            model = grow(model, stage.config, seed=seed + i)
        stage_dir = None if run_dir is None else Path(run_dir) / f"stage{i}-{keys[i]}"
        res = train(model, task, _train_config(base, stage), stage_dir, restart=restart)
        out.stages.append(res)
        for rec in res.history:
            step = step0 + rec["step"]
            out.curve.append({
                **rec, "stage": i, "global_step": step, "tokens": step * tokens_per_step,
                "wall": wall0 + rec.get("time", 0.0), "params": model.num_parameters(),
            })
        step0, wall0 = step0 + res.steps, wall0 + res.wall_time
    out.model = model
    return out


# ---------------------------------------------------------------------------------- measurement
SEED_CLAIM = (0.40, 0.50)
"""Seed 001: progressive stacking saves "~40–50 %" of the wall-clock of training from scratch."""


def first_reach(curve: list[dict], target: float, axis: str) -> float | None:
    """The `axis` value (tokens or wall) at which the eval loss first reaches `target`, linearly
    interpolated between evals; None if it never does."""
    prev = None
    for rec in curve:
        if rec["loss"] <= target:
            if prev is None or prev["loss"] == rec["loss"]:
                return float(rec[axis])
            f = (prev["loss"] - target) / (prev["loss"] - rec["loss"])
            return float(prev[axis] + f * (rec[axis] - prev[axis]))
        prev = rec
    return None


def loss_at(curve: list[dict], axis: str, at: float) -> float:
    """Eval loss at `axis` = at, interpolated (the last loss beyond the curve's end)."""
    prev = None
    for rec in curve:
        if rec[axis] >= at:
            if prev is None:
                return float(rec["loss"])
            f = (at - prev[axis]) / max(rec[axis] - prev[axis], 1e-12)
            return float(prev["loss"] + f * (rec["loss"] - prev["loss"]))
        prev = rec
    return float(curve[-1]["loss"])


def compare_seed(scratch: ProgressiveResult, prog: ProgressiveResult) -> dict[str, Any]:
    """One seed: the saving in tokens and wall-clock to reach scratch's final eval loss, and
    the loss of each at the progressive run's total wall-clock."""
    target = scratch.final["loss"]
    row: dict[str, Any] = {"target_loss": target, "progressive_final_loss": prog.final["loss"]}
    for axis in ("tokens", "wall"):
        reach = first_reach(prog.curve, target, axis)
        row[f"{axis}_to_target"] = reach
        row[f"{axis}_saving"] = None if reach is None else 1.0 - reach / scratch.final[axis]
    wall = prog.final["wall"]
    row["equal_wall"] = wall
    row["scratch_loss_at_equal_wall"] = loss_at(scratch.curve, "wall", wall)
    return row


def verdict(savings: list[float | None], claim: tuple[float, float] = SEED_CLAIM) -> str:
    """'reproduced' when the CI of the token saving lies inside the claim's band, 'refuted' when
    it lies wholly below it, 'exceeded' above, else 'inconclusive' (a seed that never reached
    the target counts as saving 0)."""
    from ..experiment.stats import summarize

    s = summarize([0.0 if x is None else x for x in savings])
    if s.ci_high < claim[0]:
        return "refuted"
    if s.ci_low > claim[1]:
        return "exceeded"
    if claim[0] <= s.ci_low and s.ci_high <= claim[1]:
        return "reproduced"
    return "inconclusive"


def cpu_schedule(vocab: int, total_steps: int, seq_len: int) -> tuple[list[Stage], Stage]:
    """Three Transformer stages, d 64 → 128 (2 layers) → 128 (4 layers, ~0.8M parameters),
    token fractions 0.4 / 0.35 / 0.25 (the seed's), and the from-scratch run of the last one."""
    def cfg(d: int, n_layers: int):
        from ..models import TransformerConfig

        return TransformerConfig(vocab_size=vocab, d_model=d, n_layers=n_layers, n_heads=d // 32,
                                 max_len=seq_len)

    steps = split_steps(total_steps, [0.4, 0.35, 0.25])
    stages = [Stage(cfg(64, 2), steps[0]), Stage(cfg(128, 2), steps[1]), Stage(cfg(128, 4), steps[2])]
    return stages, Stage(cfg(128, 4), total_steps)


def measure_pcs(out_dir: Path, seeds: list[int], total_steps: int = 300, seq_len: int = 64,
                batch_size: int = 16, run_dir: Path | None = None) -> dict[str, Any]:
    """Progressive vs from-scratch on tiny-shakespeare (charlm), per seed; writes results/pcs/."""
    from ..bench.timing import environment
    from ..data import build_task
    from ..experiment.stats import summarize
    from ..io import write_record

    task = build_task({"name": "charlm", "corpus": "tinyshakespeare", "seq_len": seq_len})
    stages, scratch_stage = cpu_schedule(task.vocab_size, total_steps, seq_len)
    base = TrainConfig(batch_size=batch_size, lr=3e-3, warmup=20, eval_every=max(1, total_steps // 10),
                       eval_batches=4, monitor="loss", plateau_patience=0, device="cpu",
                       checkpoint_every=max(1, total_steps // 5) if run_dir else 0)
    env_before = environment()
    rows = []
    for seed in seeds:
        sub = None if run_dir is None else Path(run_dir) / f"seed{seed}"
        scratch = run_progressive([scratch_stage], task, dataclasses.replace(base, seed=seed),
                                  None if sub is None else sub / "scratch", seed=seed)
        prog = run_progressive(stages, task, dataclasses.replace(base, seed=seed),
                               None if sub is None else sub / "progressive", seed=seed)
        rows.append({"seed": seed, **compare_seed(scratch, prog),
                     "scratch_final_wall": scratch.final["wall"], "scratch_tokens": scratch.final["tokens"]})
    summary = {k: summarize([0.0 if r[k] is None else r[k] for r in rows]).to_dict()
               for k in ("tokens_saving", "wall_saving", "target_loss", "progressive_final_loss",
                         "scratch_loss_at_equal_wall")}
    payload = {
        "stages": [{"config": config_to_dict(s.config), "steps": s.steps} for s in stages],
        "scratch": {"config": config_to_dict(scratch_stage.config), "steps": scratch_stage.steps},
        "train": dataclasses.asdict(base), "task": {"corpus": "tinyshakespeare", "seq_len": seq_len},
        "rows": rows, "summary": summary, "claim": list(SEED_CLAIM),
        "verdict": verdict([r["tokens_saving"] for r in rows]),
        "environment": {"before": env_before, "after": environment()},
    }
    write_record(Path(out_dir), "pcs_cpu", payload, _markdown(payload))
    return payload


def _markdown(p: dict[str, Any]) -> str:
    def ci(k: str, pct: bool = False) -> str:
        s, f = p["summary"][k], (100.0 if pct else 1.0)
        return f"{s['mean'] * f:.3g} [{s['ci_low'] * f:.3g}, {s['ci_high'] * f:.3g}]"

    stages = " → ".join(f"d{s['config']['d_model']}×L{s['config']['n_layers']} ({s['steps']} steps)"
                        for s in p["stages"])
    load = p["environment"]["before"]["load_average"][0], p["environment"]["after"]["load_average"][0]
    return "\n".join([
        "# Progressive Capacity Stacking at CPU scale (tiny-shakespeare, charlm)", "",
        f"Schedule: {stages}; from scratch: the last config for the same total steps. "
        f"{len(p['rows'])} seeds, mean [95% CI].", "",
        "| measure | value |", "|---|---|",
        f"| token saving to reach scratch's final val loss (%) | {ci('tokens_saving', True)} |",
        f"| wall-clock saving to the same target (%) | {ci('wall_saving', True)} |",
        f"| scratch final val loss (target) | {ci('target_loss')} |",
        f"| progressive final val loss | {ci('progressive_final_loss')} |",
        f"| scratch val loss at the progressive run's wall-clock | {ci('scratch_loss_at_equal_wall')} |",
        "", f"Seed claim: {p['claim'][0]:.0%}–{p['claim'][1]:.0%} less wall-clock. "
        f"Verdict on the token saving (primary; wall-clock is noisy on a shared box, "
        f"1-min load average {load[0]:.1f} before, {load[1]:.1f} after): **{p['verdict']}**.",
        "A seed whose progressive run never reaches the target counts as saving 0.",
    ])
