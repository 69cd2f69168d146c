"""Hugging Face interface: any prismlm model as a `PreTrainedModel` for `AutoModelForCausalLM`.

    from prismlm.models.hf import PrismlmForCausalLM
    hf_model = PrismlmForCausalLM.from_prismlm(model)    # wraps (shares weights)
    hf_model.save_pretrained("dir")                        # config.json + model.safetensors
    AutoModelForCausalLM.from_pretrained("dir")           # after `import prismlm.models.hf`
    hf_model.generate(input_ids, max_new_tokens=20)

Needs the optional extra `prismlm[hf]` (transformers). Hugging Face `generate` here recomputes the
prefix each step (no HF cache object); prismlm's own `model.generate` is the constant-memory
decoder.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

try:
    from transformers import (
        AutoConfig,
        AutoModelForCausalLM,
        GenerationMixin,
        PretrainedConfig,
        PreTrainedModel,
    )
    from transformers.modeling_outputs import CausalLMOutput
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "prismlm.models.hf needs Hugging Face transformers: pip install 'prismlm[hf]'"
    ) from error

from ..config import config_from_dict, config_to_dict
from .base import MODEL_REGISTRY, SequenceLM


class PrismlmConfig(PretrainedConfig):
    """Names the prismlm model class and carries its dataclass config as a dict."""

    model_type = "prismlm"

    def __init__(self, model_class: str = "PrizmaSeqLM", model_config: dict | None = None, **kwargs):
        self.model_class = model_class
        self.model_config = dict(model_config or {})
        if "vocab_size" in self.model_config:
            kwargs.setdefault("vocab_size", self.model_config["vocab_size"])
        kwargs.setdefault("num_hidden_layers", self.model_config.get("n_layers", 1))
        kwargs.setdefault("use_cache", False)  # decoding state lives in prismlm's own `step`
        super().__init__(**kwargs)


class PrismlmForCausalLM(PreTrainedModel, GenerationMixin):
    config_class = PrismlmConfig
    base_model_prefix = "lm"
    main_input_name = "input_ids"

    def __init__(self, config: PrismlmConfig, lm: SequenceLM | None = None) -> None:
        super().__init__(config)
        if lm is None:
            if config.model_class not in MODEL_REGISTRY:
                raise ValueError(
                    f"unknown prismlm model class {config.model_class!r}; known: {sorted(MODEL_REGISTRY)}"
                )
            model_cls = MODEL_REGISTRY[config.model_class]
            lm = model_cls(config_from_dict(model_cls.config_class, config.model_config))
        self.lm = lm
        self.post_init()  # Hugging Face bookkeeping; `_init_weights` below leaves weights alone

    def _init_weights(self, module: Any) -> None:
        """prismlm models initialise themselves on construction; nothing to redo here."""

    @classmethod
    def from_prismlm(cls, model: SequenceLM) -> PrismlmForCausalLM:
        """Wrap an existing prismlm model (weights shared, not copied)."""
        config = PrismlmConfig(type(model).__name__, config_to_dict(model.config))
        config.model_config.pop("config_class", None)
        return cls(config, lm=model)

    def get_input_embeddings(self) -> torch.nn.Module:
        return self.lm.embed

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> CausalLMOutput:
        """input_ids [B, T] -> logits [B, T, V]; with labels, the shifted next-token loss
        (label −100 is ignored). Padding masks are not supported: the models are causal LMs over
        unpadded sequences."""
        if attention_mask is not None and not bool(attention_mask.all()):
            raise ValueError("prismlm models do not support padded batches (attention_mask has zeros)")
        logits = self.lm(input_ids)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                ignore_index=-100,
            )
        return CausalLMOutput(loss=loss, logits=logits)

    def prepare_inputs_for_generation(self, input_ids: torch.Tensor, **kwargs: Any) -> dict:
        return {"input_ids": input_ids}


AutoConfig.register("prismlm", PrismlmConfig, exist_ok=True)
AutoModelForCausalLM.register(PrismlmConfig, PrismlmForCausalLM, exist_ok=True)
