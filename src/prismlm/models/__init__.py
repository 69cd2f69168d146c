"""Full language models behind the `SequenceLM` interface."""

from .base import MODEL_REGISTRY, SequenceLM, register_model
from .config import fingerprint

__all__ = ["MODEL_REGISTRY", "SequenceLM", "fingerprint", "register_model"]
