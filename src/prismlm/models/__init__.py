"""Full language models behind the `SequenceLM` interface.

Importing this package imports every model module, which registers all four language models:
`SequenceLM.from_pretrained(path)` rebuilds whichever model a checkpoint holds, and
`build_model(config)` builds the model a config describes. Every model implements the
`SequenceLM` interface (`base.py`) and decodes with a `DecodeState` (`state.py`).
"""

from .base import MODEL_FOR_CONFIG, MODEL_REGISTRY, SequenceLM, build_model, model_class_for, register_model
from .matching import count_parameters, match_transformer
from .prism import PrismConfig, PrismLM
from .prizma_seq import PrizmaSeqConfig, PrizmaSeqLM
from .ssm import SSMLM, SSMConfig
from .state import DecodeState
from .transformer import TransformerConfig, TransformerLM

__all__ = [
    "DecodeState",
    "MODEL_FOR_CONFIG",
    "MODEL_REGISTRY",
    "PrismConfig",
    "PrismLM",
    "PrizmaSeqConfig",
    "PrizmaSeqLM",
    "SSMConfig",
    "SSMLM",
    "SequenceLM",
    "TransformerConfig",
    "TransformerLM",
    "build_model",
    "count_parameters",
    "match_transformer",
    "model_class_for",
    "register_model",
]
