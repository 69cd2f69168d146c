"""Streaming, packed, resumable token data for scaled training (see stream.py for the order).

    mix = load_mix("mix.json")                 # or mix_from_paths(["data/*.txt"], seq_len=1024)
    task = TokenTask(mix, tokenizer="bytes")   # a Task: train(model, task, config, run_dir)

Optional extras, never imported by default: `tokenizers` / `transformers` (tokenizers),
`pyarrow` (parquet), `datasets` (hf:<repo> streaming), `pyyaml` (YAML mixes).
`SMOKE_TEXT` is a small text bundled with the package, for offline smoke runs.
"""

from pathlib import Path

from .mix import PHASES, DatasetSpec, Mix, load_mix, mix_from_paths
from .packing import PackedStream, encode_row, windows_to_batch
from .stream import MixedStream, TokenTask
from .tokenizer import ByteTokenizer, load_tokenizer, padded_vocab

SMOKE_TEXT = Path(__file__).with_name("smoke_corpus.txt")
SMOKE_INSTRUCT = Path(__file__).with_name("smoke_instruct.jsonl")

__all__ = [
    "PHASES",
    "SMOKE_INSTRUCT",
    "SMOKE_TEXT",
    "ByteTokenizer",
    "DatasetSpec",
    "Mix",
    "MixedStream",
    "PackedStream",
    "TokenTask",
    "encode_row",
    "load_mix",
    "load_tokenizer",
    "mix_from_paths",
    "padded_vocab",
    "windows_to_batch",
]
