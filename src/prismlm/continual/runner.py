"""Run a set of learners on one stream: grouped into batched jobs, the jobs run in parallel.

A job is a batch of runs that share one code path (all Prizma variants; backprop + EWC +
replay, whose identical first task trains once (`run_sgd`); oracle). Inside a job every seed
and variant trains side by side in one tensor program; jobs run in separate single-threaded
processes (`workers`), which on a shared CPU is more robust than intra-op threading.

Process split: the stream is built once in the parent and the workers are forked from it
(where the platform can fork), so no worker re-imports torch/scipy or rebuilds the data; jobs
are submitted longest first (LPT scheduling onto the free worker) by `JOB_COST`. Each job runs
single-threaded with glibc's allocator told to keep freed memory (`keep_freed_memory`): the
tensors here are a few MB, and returning each one to the kernel made every step page-fault.
None of this changes a number: a job computes the same tensor program wherever it runs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from ..allocator import keep_freed_memory
from ..config import require
from . import streams as st
from .baselines import EWC, SGD_LEARNERS, MLPConfig, Replay, fill_oracle_first_task, run_oracle, run_sgd
from .learner import Prizma, PrizmaConfig
from .protocol import run_stream

PRIZMA_VARIANTS = {"prizma_dfa": "dfa", "prizma_exact": "exact",
                   "prizma_exact_reference": "exact_reference", "noroute": "noroute"}
LEARNERS = ("backprop", "ewc", "replay", "oracle", *PRIZMA_VARIANTS)


@dataclass(frozen=True)
class StreamSpec:
    """A stream as data: kind in {'structured', 'digits', 'checkerboard', 'checkerboard_rbf',
    'noise_sweep'} (config: a tuple of StructuredPermutedConfig, one per sweep point); built
    inside the worker process that uses it."""

    kind: str
    config: object
    seeds: tuple[int, ...]

    def build(self) -> st.Stream:
        if self.kind == "structured":
            return st.structured_permuted(self.config, self.seeds)
        if self.kind == "digits":
            return st.digits(self.config, self.seeds)
        if self.kind == "checkerboard":
            return st.checkerboard(self.config, self.seeds)
        if self.kind == "checkerboard_rbf":
            return st.rbf_lift(st.checkerboard(self.config, self.seeds))
        if self.kind == "noise_sweep":  # config = stream configs; seed axis = config-major
            return st.concat_seeds([st.structured_permuted(c, self.seeds) for c in self.config])
        raise ValueError(f"unknown stream kind '{self.kind}'")


@dataclass(frozen=True)
class RunConfig:
    """Which learners, how long, and with what hyper-parameters (everything that changes the
    numbers; how many processes run the jobs is an argument of `run_learners`, not config)."""

    learners: tuple[str, ...] = LEARNERS
    epochs: int = 15
    batch_size: int = 128
    prizma: PrizmaConfig = field(default_factory=PrizmaConfig)
    mlp: MLPConfig = field(default_factory=MLPConfig)

    def __post_init__(self) -> None:
        require(len(self.learners) > 0, "learners", "need at least one learner")
        unknown = sorted(set(self.learners) - set(LEARNERS))
        require(not unknown, "learners", f"unknown {unknown}; known: {list(LEARNERS)}")
        require(self.epochs >= 1, "epochs", "must be >= 1")
        require(self.batch_size >= 1, "batch_size", "must be >= 1")


def _jobs(names) -> list[tuple[str, tuple[str, ...]]]:
    jobs = []
    pz = tuple(n for n in names if n in PRIZMA_VARIANTS)
    if pz:
        jobs.append(("prizma", pz))
    sgd = tuple(n for n in SGD_LEARNERS if n in names)
    if "replay" in sgd and len(sgd) > 1:  # one job: the first task trains once for all
        jobs.append(("sgd", sgd))
    else:
        if sgd and sgd != ("replay",):
            jobs.append(("ewc", tuple(n for n in sgd if n != "replay")))
        if "replay" in sgd:
            jobs.append(("replay", ("replay",)))
    if "oracle" in names:  # with an SGD learner, oracle's task-0 nets are its first task
        jobs.append(("oracle_rest" if sgd else "oracle", ("oracle",)))
    return jobs


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run with n intra-op threads, then restore. One thread per job: on a shared CPU, spinning
    OpenMP threads of several processes make multi-threaded small matmuls many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_job(kind: str, names: tuple[str, ...], spec: StreamSpec | st.Stream, cfg: RunConfig,
            progress: bool = False, threads: int = 1) -> dict:
    """Train one job; returns {name: {"R": [S, T, T], ...}, "_seconds": float}."""
    keep_freed_memory()
    with torch_threads(threads):
        return _run_job(kind, names, spec, cfg, progress)


# CPU seconds of each job in E1 (10 seeds, 15 epochs, one thread), per learner it holds: the
# weights of the longest-first schedule. Only the order they induce matters. In E1 the two
# workers get sgd (~48 s) and prizma + oracle_rest (~44 s).
JOB_COST = {"prizma": 9.0, "ewc": 12.5, "replay": 23.0, "oracle": 13.0, "sgd": 17.0,
            "oracle_rest": 10.5}


def job_cost(kind: str, names: tuple[str, ...]) -> float:
    return JOB_COST[kind] * len(names)


_INHERITED: dict = {}  # the parent's stream, read by forked workers (never pickled)


def _forked_job(kind, names, cfg) -> dict:
    return run_job(kind, names, _INHERITED["stream"], cfg, False)


def _run_job(kind, names, spec, cfg, progress) -> dict:
    stream = spec if isinstance(spec, st.Stream) else spec.build()
    t0, c0 = time.perf_counter(), time.process_time()
    S, d, C = stream.n_seeds, stream.n_in, stream.n_classes
    out: dict = {}
    if kind == "prizma":
        learner = Prizma.variants(cfg.prizma, [PRIZMA_VARIANTS[n] for n in names],
                                  stream.seeds, d, C)
        r = run_stream(learner, stream, cfg.epochs, cfg.batch_size, progress, "prizma")
        summ = learner.summary()
        purity = routing_purity(learner, stream)
        for i, n in enumerate(names):
            sl = slice(i * S, (i + 1) * S)
            out[n] = {"R": r[sl], "purity": purity[sl].tolist(),
                      **{k: v[sl] for k, v in summ.items()}}
    elif kind == "ewc":
        lams = [0.0 if n == "backprop" else cfg.mlp.ewc_lambda for n in names]
        learner = EWC(cfg.mlp, stream.seeds, d, C, lambdas=lams)
        r = run_stream(learner, stream, cfg.epochs, cfg.batch_size, progress, "backprop/ewc")
        for i, n in enumerate(names):
            out[n] = {"R": r[i * S:(i + 1) * S]}
    elif kind == "sgd":
        r = run_sgd(names, stream, cfg.mlp, cfg.epochs, cfg.batch_size, progress)
        out.update({n: {"R": v} for n, v in r.items()})
    elif kind == "replay":
        learner = Replay(cfg.mlp, stream.seeds, d, C)
        out["replay"] = {"R": run_stream(learner, stream, cfg.epochs, cfg.batch_size, progress,
                                         "replay")}
    elif kind in ("oracle", "oracle_rest"):  # oracle_rest: task 0 filled by run_learners
        out["oracle"] = {"R": run_oracle(stream, cfg.mlp, cfg.epochs, cfg.batch_size, progress,
                                         first=int(kind == "oracle_rest"))}
    else:
        raise ValueError(f"unknown job kind '{kind}'")
    out["_seconds"] = time.perf_counter() - t0
    out["_cpu_seconds"] = time.process_time() - c0
    return out


def run_learners(spec: StreamSpec, cfg: RunConfig, workers: int = 2,
                 progress: bool = False) -> dict:
    """All requested learners on one stream, the jobs spread over `workers` processes.

    Returns {name: {"R": [S, T, T], ...}} plus '_timing'. Results do not depend on `workers`.
    """
    require(workers >= 1, "workers", "must be >= 1")
    t0 = time.perf_counter()
    jobs = _jobs(cfg.learners)
    results: dict = {}
    timing: dict = {}
    if workers == 1 or len(jobs) == 1:
        stream = spec.build()
        parts = [run_job(k, n, stream, cfg, progress) for k, n in jobs]
    else:
        parts = _run_pool(jobs, spec, cfg, min(workers, len(jobs)), progress)
    cpu = {}
    for (kind, _), part in zip(jobs, parts, strict=True):
        timing[kind] = part.pop("_seconds")
        cpu[kind] = part.pop("_cpu_seconds")
        results.update(part)
    if any(k == "oracle_rest" for k, _ in jobs):
        sgd = next(n for n in SGD_LEARNERS if n in results)
        fill_oracle_first_task(results["oracle"]["R"], results[sgd]["R"])
    timing["wall"] = time.perf_counter() - t0
    timing["cpu"] = cpu
    # wall time on an otherwise idle machine: jobs' CPU seconds, longest first, onto workers
    loads = [0.0] * min(workers, len(jobs))
    for c in sorted(cpu.values(), reverse=True):
        loads[loads.index(min(loads))] += c
    timing["idle_estimate"] = max(loads)
    results["_timing"] = timing
    return results


def _run_pool(jobs, spec: StreamSpec, cfg: RunConfig, workers: int, progress: bool) -> list:
    """Run `jobs` on `workers` processes, longest first; returns their results in job order."""
    import multiprocessing as mp

    order = sorted(range(len(jobs)), key=lambda i: -job_cost(*jobs[i]))
    fork = "fork" in mp.get_all_start_methods()
    if fork:
        with torch_threads(1):  # no OpenMP pool exists in the parent at fork time
            _INHERITED["stream"] = spec.build()
    ctx = mp.get_context("fork" if fork else "spawn")
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as ex:
            futs = {i: (ex.submit(_forked_job, *jobs[i], cfg) if fork
                        else ex.submit(run_job, *jobs[i], spec, cfg, False)) for i in order}
            for _ in tqdm(as_completed(futs.values()), total=len(futs), desc="learner jobs",
                          disable=not progress):
                pass
            return [futs[i].result() for i in range(len(jobs))]
    finally:
        _INHERITED.clear()


def routing_purity(learner: Prizma, stream: st.Stream) -> np.ndarray:
    """Per run and test domain: the share of samples sent to that domain's modal expert. [R, T]"""
    cols = []
    for j in range(stream.n_tasks):
        idx, _ = learner.route_samples(stream.x_test[:, j])
        counts = torch.nn.functional.one_hot(idx, learner.M).sum(1).float()
        cols.append(counts.max(1).values / idx.shape[1])
    return torch.stack(cols, 1).numpy()

