"""Holographic (VSA) memory: the tape, encoders, the HoloHead expert and the knowledge base."""

from .capacity import asymptotic_capacity, predicted_accuracy, predicted_capacity
from .encoders import HoloEncoder, HoloKeyValueEncoder, SentenceEncoder, TextHashEncoder
from .holo_head import HoloHead, HoloHeadConfig
from .holo_tape import HoloTape, QueryResult
from .inference import Answer, HoloInference
from .ingest import chunk_text, extract_facts, ingest_files, ingest_text, question_to_key
from .kb_store import KBCorruptError, KBStore
from .sharded import ShardedHoloMemory

__all__ = [
    "asymptotic_capacity",
    "predicted_accuracy",
    "predicted_capacity",
    "HoloEncoder",
    "HoloKeyValueEncoder",
    "SentenceEncoder",
    "TextHashEncoder",
    "HoloHead",
    "HoloHeadConfig",
    "HoloTape",
    "QueryResult",
    "Answer",
    "HoloInference",
    "chunk_text",
    "extract_facts",
    "ingest_files",
    "ingest_text",
    "question_to_key",
    "KBCorruptError",
    "KBStore",
    "ShardedHoloMemory",
]
