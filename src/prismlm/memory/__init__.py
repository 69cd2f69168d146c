"""The non-neural knowledge base: holographic tapes, capacity, sharding, the SQLite store, ingest
and inference. The neural holographic memory layer is `prismlm.layers.holo_memory`."""

from .capacity import asymptotic_capacity, predicted_accuracy, predicted_capacity
from .encoders import SentenceEncoder, TextHashEncoder
from .holo_tape import HoloTape, QueryResult
from .inference import Answer, HoloInference, KnowledgeBase
from .ingest import (
    SKIP_REASONS,
    IngestResult,
    chunk_text,
    extract_facts,
    ingest_file,
    ingest_files,
    ingest_text,
    question_to_key,
)
from .kb_store import KBCorruptError, KBStore
from .sharded import ShardedHoloMemory

__all__ = [
    "asymptotic_capacity",
    "predicted_accuracy",
    "predicted_capacity",
    "SentenceEncoder",
    "TextHashEncoder",
    "HoloTape",
    "QueryResult",
    "Answer",
    "HoloInference",
    "KnowledgeBase",
    "SKIP_REASONS",
    "IngestResult",
    "chunk_text",
    "extract_facts",
    "ingest_file",
    "ingest_files",
    "ingest_text",
    "question_to_key",
    "KBCorruptError",
    "KBStore",
    "ShardedHoloMemory",
]
