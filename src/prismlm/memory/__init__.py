"""Holographic (VSA) memory: the tape, encoders, the HoloHead expert and the knowledge base."""

from .capacity import asymptotic_capacity, predicted_accuracy, predicted_capacity
from .encoders import HoloEncoder, HoloKeyValueEncoder, SentenceEncoder, TextHashEncoder
from .holo_head import HoloHead, HoloHeadConfig
from .holo_tape import HoloTape, QueryResult

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
]
