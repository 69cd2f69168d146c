"""Full language models behind the `SequenceLM` interface.

Importing this package registers every model class, so `SequenceLM.from_pretrained(path)`
can rebuild whichever model a checkpoint holds.
"""

from .base import MODEL_REGISTRY, SequenceLM, register_model
from .config import fingerprint
from .matching import count_parameters, match_transformer, transformer_width_for_params
from .prizma_seq import PrizmaSeqConfig, PrizmaSeqLM
from .transformer import TransformerConfig, TransformerLM

__all__ = [
    "MODEL_REGISTRY",
    "PrizmaSeqConfig",
    "PrizmaSeqLM",
    "SequenceLM",
    "TransformerConfig",
    "TransformerLM",
    "count_parameters",
    "fingerprint",
    "match_transformer",
    "register_model",
    "transformer_width_for_params",
]
