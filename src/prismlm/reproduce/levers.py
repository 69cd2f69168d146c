"""PRISM's three training levers, each measured alone against the plain run at equal tokens.

    prismlm bench levers --scale cpu --out results/prism/levers

Every arm trains the same PRISM (all three expert kinds, top-1) with the same trainer, recipe and
number of training tokens (steps × batch × T) as the plain run of its task, for each seed:

| lever | task | what differs from plain |
|---|---|---|
| curriculum | 3-way mix | phase weights (3,1,1) → (1,3,1) → (1,1,3) over thirds of training |
| modular | 3-way mix | S/4 steps per single-kind model on its own mix, assembly by kind, S/4 fine-tune |
| reweight | mini-LM, arithmetic | loss-bucket re-weighting (the reference's "token recycling"), s = 1 |
| replay | mini-LM, arithmetic | a quarter of each batch replayed from a 256-row high-loss buffer |

The 3-way mix is mini-LM text (neural's data), MQAR associative recall (memory's) and chained
arithmetic (symbolic's), uniform; every arm is scored on its frozen eval set. The metric is the
final eval cross-entropy (nats, lower is better); verdict per lever and task from Welch's test at
ALPHA: "helps" / "hurts" when significant, else "no effect".

The modular "2–3× speedup" claim: per seed, the ideal parallel wall-clock of modular pretraining
is max(phase walls) + fine-tune wall (each phase on its own machine; this box runs them one after
another), against the wall-clock the plain joint run needed to first reach the assembled model's
final loss (from its eval history; "not reached" when no eval of it did). Wall-clock on a shared
2-core box is indicative only; the token counts are exact.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from ..bench.timing import environment
from ..config import require
from ..data import build_task
from ..experiment.cache import cached_run
from ..experiment.stats import Summary, summarize, welch
from ..io import write_record
from ..models.prism import EXPERT_KINDS, PrismConfig, PrismLM
from ..train import TrainConfig, train
from ..train.curriculum import CurriculumConfig
from ..train.levers import LeverConfig, Levers, ReplayConfig, ReweightConfig
from ..train.modular import assemble, freeze_experts, modular_config
from ..train.trainer import resolve_device

ALPHA = 0.05
MINI_LM = {"name": "mini_lm", "seq_len": 32}
RECALL = {"name": "mqar", "vocab_size": 12, "num_pairs": 3, "num_queries": 1, "key_frac": 0.5}
REASONING = {"name": "arithmetic", "modulus": 10, "num_ops": 3}
TASKS: dict[str, dict[str, Any]] = {
    "mix": {"name": "mix", "tasks": [MINI_LM, RECALL, REASONING]},
    "mini_lm": MINI_LM,
    "arithmetic": REASONING,
}
# each single-kind model's own mix over (text, recall, arithmetic), as in the reference's MIX_MODULAR
KIND_WEIGHTS = {"neural": (0.8, 0.1, 0.1), "memory": (0.1, 0.8, 0.1), "symbolic": (0.1, 0.1, 0.8)}
CURRICULUM = CurriculumConfig(starts=(0.0, 1 / 3, 2 / 3), weights=((3, 1, 1), (1, 3, 1), (1, 1, 3)))
LEVERS: dict[str, tuple[tuple[str, ...], LeverConfig | None]] = {
    "curriculum": (("mix",), LeverConfig(curriculum=CURRICULUM)),
    "modular": (("mix",), None),
    "reweight": (("mini_lm", "arithmetic"), LeverConfig(reweight=ReweightConfig())),
    "replay": (("mini_lm", "arithmetic"), LeverConfig(replay=ReplayConfig())),
}
MODEL = dict(d_model=32, n_layers=2, num_rates=4, d_mem=16, num_slots=8, top_k=1)
SCALES: dict[str, dict[str, Any]] = {
    "smoke": {"steps": 8, "batch_size": 4, "eval_batches": 1, "seeds": [0, 1]},
    "cpu": {"steps": 240, "batch_size": 16, "eval_batches": 8, "seeds": [0, 1, 2]},
}


def train_config(scale: dict[str, Any], seed: int, device: str, steps: int | None = None) -> TrainConfig:
    s = steps or scale["steps"]
    return TrainConfig(
        steps=s,
        batch_size=scale["batch_size"],
        lr=3e-3,
        warmup=max(1, s // 10),
        eval_every=max(1, s // 8),
        eval_batches=scale["eval_batches"],
        monitor="loss",
        plateau_patience=0,
        log_every=max(1, s // 4),
        seed=seed,
        device=device,
    )


def model_config(task: Any) -> PrismConfig:
    return PrismConfig(vocab_size=task.vocab_size, max_len=task.max_seq_len, **MODEL)


def _fit(cfg: PrismConfig, task: Any, tc: TrainConfig, levers: LeverConfig | None = None, model=None):
    if model is None:
        torch.manual_seed(tc.seed)
        model = PrismLM(cfg)
    res = train(model, task, tc, levers=None if levers is None else Levers(levers, task, tc.steps))
    history = [{"step": r["step"], "loss": r["loss"], "time": r["time"]} for r in res.history]
    return model, {"loss": res.final["loss"], "wall": res.wall_time, "history": history}


def _modular(task: Any, scale: dict[str, Any], seed: int, device: str, freeze: bool) -> dict[str, Any]:
    """Single-kind phases of S/4 steps on their own mixes, assembly, then S − 3·⌊S/4⌋ steps."""
    full, quarter = model_config(task), scale["steps"] // 4
    sources, phases = {}, {}
    for kind in EXPERT_KINDS:
        tc = train_config(scale, seed, device, quarter)
        sources[kind], phases[kind] = _fit(
            modular_config(full, kind), task.with_weights(KIND_WEIGHTS[kind]), tc
        )
    torch.manual_seed(seed)
    model = assemble(full, sources)
    if freeze:
        freeze_experts(model)
    _, tuned = _fit(full, task, train_config(scale, seed, device, scale["steps"] - 3 * quarter), model=model)
    total = sum(ph["wall"] for ph in phases.values()) + tuned["wall"]
    return {**tuned, "wall": total, "finetune_wall": tuned["wall"], "phases": phases}


def run_cell(lever: str, task_name: str, seed: int, scale_name: str, device: str, cache: Path) -> dict:
    """One seed of one arm ("plain" or a lever) on one task, cached by its resolved configs."""
    scale, task = SCALES[scale_name], build_task(TASKS[task_name])
    tc = train_config(scale, seed, device)
    configs: dict[str, Any] = {"model": model_config(task), "task": task, "train": tc, "arm": lever}
    if lever == "modular":
        configs["modular"] = {
            "phases": {k: modular_config(model_config(task), k) for k in EXPERT_KINDS},
            "weights": KIND_WEIGHTS,
            "phase_train": train_config(scale, seed, device, scale["steps"] // 4),
            "freeze": False,
        }
        return cached_run(
            cache,
            configs,
            lambda _k: _modular(task, scale, seed, device, False),
            {"device": resolve_device(device).type},
        )
    levers = None if lever == "plain" else LEVERS[lever][1]
    configs["levers"] = levers
    return cached_run(
        cache,
        configs,
        lambda _k: _fit(configs["model"], task, tc, levers)[1],
        {"device": resolve_device(device).type},
    )


def verdict(lever: list[float], plain: list[float]) -> tuple[str, float]:
    """(helps | no effect | hurts, two-sided Welch p) for final losses (lower is better)."""
    test = welch(lever, plain)
    if test.p_two_sided < ALPHA:
        return ("helps" if sum(lever) < sum(plain) else "hurts"), test.p_two_sided
    return "no effect", test.p_two_sided


def time_to_loss(history: list[dict[str, Any]], target: float) -> float | None:
    """Wall time of the first eval at or below `target`; None if no eval reached it."""
    return next((r["time"] for r in history if r["loss"] <= target), None)


def speedup(modular: list[dict[str, Any]], plain: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for m, p in zip(modular, plain, strict=True):
        walls = [ph["wall"] for ph in m["phases"].values()]
        parallel, sequential = max(walls) + m["finetune_wall"], m["wall"]
        joint = time_to_loss(p["history"], m["loss"])
        rows.append(
            {
                "target_loss": m["loss"],
                "parallel_wall": parallel,
                "sequential_wall": sequential,
                "joint_wall_to_target": joint,
                "speedup": None if joint is None else joint / parallel,
            }
        )
    return rows


def _fmt(s) -> str:
    return f"{s.mean:.4f} [{s.ci_low:.4f}, {s.ci_high:.4f}]"


def measure_levers(
    out: Path,
    scale: str = "cpu",
    seeds: list[int] | None = None,
    device: str = "cpu",
    levers: list[str] | None = None,
) -> dict[str, Any]:
    """Run every arm × task × seed (cached), write `<out>/levers.{json,md}`; returns the payload."""
    require(scale in SCALES, "scale", f"unknown scale {scale!r}; known: {sorted(SCALES)}")
    chosen = levers or list(LEVERS)
    for name in chosen:
        require(name in LEVERS, "lever", f"unknown lever {name!r}; known: {sorted(LEVERS)}")
    seeds = seeds or SCALES[scale]["seeds"]
    require(len(seeds) >= 2, "seeds", "Welch's test needs at least two seeds")
    cache = Path(out) / "cache"
    records: dict[tuple[str, str], list[dict]] = {}

    def cells(arm: str, task: str) -> list[dict]:
        if (arm, task) not in records:
            records[arm, task] = [run_cell(arm, task, s, scale, device, cache) for s in seeds]
        return records[arm, task]

    rows, speed = [], None
    for name in chosen:
        for task in LEVERS[name][0]:
            plain = [r["loss"] for r in cells("plain", task)]
            mine = [r["loss"] for r in cells(name, task)]
            word, p = verdict(mine, plain)
            rows.append(
                {
                    "lever": name,
                    "task": task,
                    "plain": summarize(plain).to_dict(),
                    "lever_loss": summarize(mine).to_dict(),
                    "p_welch": p,
                    "verdict": word,
                    "plain_wall": sum(r["wall"] for r in cells("plain", task)) / len(seeds),
                    "lever_wall": sum(r["wall"] for r in cells(name, task)) / len(seeds),
                }
            )
        if name == "modular":
            speed = speedup(cells("modular", "mix"), cells("plain", "mix"))
    steps, batch = SCALES[scale]["steps"], SCALES[scale]["batch_size"]
    payload = {
        "scale": scale,
        "seeds": seeds,
        "steps": steps,
        "batch_size": batch,
        "alpha": ALPHA,
        "model": dataclasses.asdict(model_config(build_task(TASKS["mix"]))),
        "rows": rows,
        "modular_speedup": speed,
        # wall-clock columns are only comparable on a quiet box: keep threads and load beside them
        "environment": environment(),
    }
    write_record(Path(out), "levers", payload, _markdown(payload))
    return payload


def _environment_line(env: dict[str, Any] | None) -> str:
    if not env:
        return "Threads and load average not recorded: read the wall-clock columns as indicative only."
    load = ", ".join(f"{x:.1f}" for x in env["load_average"])
    return f"{env['threads']} threads; load average {load} (wall-clock columns need a quiet box)."


def _markdown(payload: dict[str, Any]) -> str:
    lines = [
        f"# PRISM training levers, each against the plain run ({payload['scale']} scale)",
        "",
        f"Seeds {payload['seeds']}; {payload['steps']} steps × batch {payload['batch_size']} for every arm "
        "(equal tokens); final eval CE in nats, mean [Student-t 95% CI]; Welch two-sided p; "
        f"verdict at α = {payload['alpha']}.",
        "",
        _environment_line(payload.get("environment")),
        "",
        "| lever | task | plain CE | lever CE | Δ | Welch p | verdict | wall plain / lever (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in payload["rows"]:
        a, b = Summary(**r["plain"]), Summary(**r["lever_loss"])
        lines.append(
            f"| {r['lever']} | {r['task']} | {_fmt(a)} | {_fmt(b)} | {b.mean - a.mean:+.4f} | "
            f"{r['p_welch']:.3g} | {r['verdict']} | {r['plain_wall']:.1f} / {r['lever_wall']:.1f} |"
        )
    if payload["modular_speedup"]:
        lines += [
            "",
            '## Modular pretraining: "2–3× speedup via specialization + parallelism"',
            "",
            "| seed | assembled CE | ideal parallel wall (s) | sequential wall (s) "
            "| joint run to that CE (s) | speedup |",
            "|---|---|---|---|---|---|",
        ]
        for s, r in zip(payload["seeds"], payload["modular_speedup"], strict=True):
            joint = "not reached" if r["joint_wall_to_target"] is None else f"{r['joint_wall_to_target']:.1f}"
            sp = "—" if r["speedup"] is None else f"{r['speedup']:.2f}×"
            lines.append(
                f"| {s} | {r['target_loss']:.4f} | {r['parallel_wall']:.1f} | "
                f"{r['sequential_wall']:.1f} | {joint} | {sp} |"
            )
        lines += [
            "",
            "The parallel wall is an ideal bound (max of the three phase runs + the fine-tune), as "
            "if each phase had its own machine; here they ran one after another on a shared 2-core "
            "box, so every wall-clock figure is indicative only.",
        ]
    return "\n".join(lines)
