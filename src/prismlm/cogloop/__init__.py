"""COGLOOP: a conversational loop with working memory and a persistent, bounded long-term memory
(one knowledge-base file per profile). `CogLoop.turn(text)` perceives, reflects, responds and
consolidates; see loop.py."""

from .long_term import Entry, LongTermMemory
from .loop import CogLoop, LoopConfig, Perception, Turn
from .reflect import ReflectPass, ReflectTrace, reflect
from .working_memory import Episode, WorkingMemory, importance_of

__all__ = ["CogLoop", "LoopConfig", "Perception", "Turn", "Entry", "LongTermMemory", "ReflectPass",
           "ReflectTrace", "reflect", "Episode", "WorkingMemory", "importance_of"]  # fmt: skip
