"""Decode rows of `prismlm bench mixer`: per-token `step` latency after a context of n tokens.

For every context n and batch B, each model prefills one random prompt of n tokens (batch 1, in
parallel), its state is repeated to B rows (decode cost does not depend on the rows' content;
prefilling B copies would only cost memory), and `decode_tokens` greedy steps are timed from a
fresh copy of that state per repeat, the models taking turns (one run each per round). Three
programs are timed, never mixed in one ratio:

    eager      `model.step` inside `reuse_decode_weights()` (the generation loop's setting),
               with the fused CPU kernels (ops.cpu_kernels) both models use by default:
               Prizma's mixer step, the Transformer's rotary + KV-cache write
    eager_ops  the same with `cpu_kernels(False)`: every step as plain torch ops
    compiled   `model.compile_step()` (the whole step as one torch.compile graph), if enabled

ratio = Prizma ms/token ÷ Transformer ms/token within the same program. The Transformer runs its
best decode path: a preallocated KV cache, one fused qkv matmul, rotary from a table and SDPA
over the valid prefix only; Prizma carries a constant-size state.
"""

from __future__ import annotations

import copy
import statistics

import torch

from ..layers.decode_weights import reuse_decode_weights
from ..ops.cpu_kernels import cpu_kernels
from .timing import time_call

# Prizma decode / Transformer KV decode at batch 1 (issue 19): at most these ratios at these n.
DECODE_TARGETS = {2048: 1.0, 16384: 0.5}
DECODE_TARGET_BATCH = 1


def _repeat_batch(state, batch: int):
    """`state` (batch 1) with every batched tensor repeated to `batch` rows, in place."""
    def repeat(t: torch.Tensor) -> torch.Tensor:
        if t.dim() < 2 or t.shape[0] != 1:  # unbatched (e.g. the window's valid mask)
            return t
        return t.repeat(batch, *([1] * (t.dim() - 1)))

    if batch > 1:
        state.apply(repeat)
    return state


def _decode_run(step, start, tokens: int, kernels: bool = True):
    """A timed callable for `time_call`: `tokens` greedy steps from a fresh copy of `start`
    (made by `setup`, outside the timed region); the final state is kept in `run.final`."""

    def run(begin):
        logits, state = begin
        token = logits.argmax(-1)
        with reuse_decode_weights(), cpu_kernels(kernels):
            for _ in range(tokens):
                logits, state = step(token, state)
                token = logits.argmax(-1)
        run.final = state

    return run


def _time_interleaved(programs: dict[str, tuple], tokens: int, repeats: int) -> dict[str, tuple]:
    """name -> (median seconds per token, final state) for every (step, start, kernels) in
    `programs` (kernels: whether the fused CPU kernels are on).

    One untimed warm-up round, then `repeats` rounds that time each program once, in turn: on a
    shared CPU a slow spell then lands on every model of a round instead of on one model's runs,
    so the ratio of medians is steadier than timing each model's runs back to back.
    """
    runs = {name: _decode_run(step, start, tokens, kernels)
            for name, (step, start, kernels) in programs.items()}
    setups = {name: (lambda s=start: copy.deepcopy(s)) for name, (_, start, _) in programs.items()}
    seconds: dict[str, list[float]] = {name: [] for name in programs}
    for round_ in range(repeats + 1):
        for name, run in runs.items():
            timing = time_call(run, repeats=1, warmup=0, setup=setups[name])
            if round_:
                seconds[name].append(timing["median_s"])
    return {name: (statistics.median(seconds[name]) / tokens, runs[name].final) for name in programs}


@torch.no_grad()
def bench_decode(models: dict, compiled: dict, n: int, batch: int, tokens: int, repeats: int,
                 vocab_size: int, gen: torch.Generator) -> dict:
    """One row: ms/token of every model at context n and batch B, eager (and compiled); the
    models of one program are timed interleaved (`_time_interleaved`)."""
    prompt = torch.randint(0, vocab_size, (1, n), generator=gen)
    row = {"context": n, "batch": batch, "threads": torch.get_num_threads(), "repeats": repeats}
    starts = {}
    for name, model in models.items():
        model.eval()
        logits, state = model.prefill(prompt)
        starts[name] = (logits.repeat(batch, 1), _repeat_batch(state, batch))
    programs = {f"{name}{suffix}": (m.step, starts[name], kernels)
                for name, m in models.items() for suffix, kernels in (("", True), ("_ops", False))}
    eager = _time_interleaved(programs, tokens, repeats)
    for name in models:
        row[f"{name}_ms_per_token"] = 1e3 * eager[name][0]
        row[f"{name}_ops_ms_per_token"] = 1e3 * eager[f"{name}_ops"][0]
        row[f"{name}_state_floats"] = eager[name][1].num_floats()
    if compiled:
        timed = _time_interleaved({name: (step, starts[name], True) for name, step in compiled.items()},
                                  tokens, repeats)
        for name, (seconds, _) in timed.items():
            row[f"{name}_compiled_ms_per_token"] = 1e3 * seconds
    row["ratio"] = row["prizma_ms_per_token"] / row["transformer_ms_per_token"]
    row["ops_ratio"] = row["prizma_ops_ms_per_token"] / row["transformer_ops_ms_per_token"]
    if compiled:
        row["compiled_ratio"] = (
            row["prizma_compiled_ms_per_token"] / row["transformer_compiled_ms_per_token"]
        )
    return row


def decode_verdicts(decode_rows: list[dict]) -> list[dict]:
    """Pass/fail per target context at batch 1, one row per program measured; state constancy."""
    out = []
    for n, target in DECODE_TARGETS.items():
        row = next((r for r in decode_rows
                    if r["context"] == n and r["batch"] == DECODE_TARGET_BATCH), None)
        if row is None:
            continue
        for program, key in (("eager, fused CPU kernels", "ratio"), ("eager, torch ops only", "ops_ratio"),
                             ("compiled", "compiled_ratio")):
            if key in row:
                out.append({
                    "claim": f"Prizma decode ≤ {target:g}× Transformer KV decode at n={n}, "
                             f"B={DECODE_TARGET_BATCH} ({program})",
                    "measured": f"{row[key]:.2f}×", "pass": row[key] <= target,
                })
    for batch in sorted({r["batch"] for r in decode_rows}):
        sizes = {r["prizma_state_floats"] for r in decode_rows if r["batch"] == batch}
        out.append({"claim": f"Prizma decode state constant in n (B={batch})",
                    "measured": f"{sorted(sizes)} floats", "pass": len(sizes) == 1})
    return out
