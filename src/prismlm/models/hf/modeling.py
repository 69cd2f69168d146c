"""Hugging Face `PreTrainedModel`s over prismlm models: one generic causal LM, four typed subclasses.

    hf = PrizmaSeqForCausalLM(PrizmaSeqHFConfig(d_model=64))   # builds a fresh PrizmaSeqLM
    hf = from_prismlm(model)                                    # wraps a built model (weights shared)
    out = hf(input_ids, labels=input_ids)                       # out.loss, out.logits [B, T, V]
    hf.generate(input_ids, max_new_tokens=20)                   # prefill once, then one `step` per token

The wrapped prismlm model is `hf.lm`; its state-dict keys are `lm.<prismlm key>`.

Generation. With `use_cache=True` (the default of `generate`) the first forward runs the model's
parallel `prefill` over the prompt into a `PrismlmCache`; every later forward receives only the
tokens the cache has not consumed (one, in `generate`) and feeds them through `step`, so a new
token costs the same whatever the context length. `generate` runs inside
`reuse_decode_weights()`, so the decode-layout weight copies are built once per call.

Loss. With `labels` [B, T] (Hugging Face convention: labels = input_ids, −100 = ignored),
    loss = Σ_{t<T−1} m_t · CE(logits_t, labels_{t+1}) / max(Σ m_t, 1) + aux,   m_t = [labels_{t+1} ≠ −100]
the trainer's objective (`train.trainer.masked_cross_entropy` + the model's auxiliary loss, e.g.
PRISM's load-balance and read-entropy terms; 0 for the other models).

Tied head. prismlm models have no head module: logits = h · Eᵀ with E = `lm.embed.weight`
(`SequenceLM.tied_head`). The checkpoint therefore holds E once and nothing needs re-tying on load:
`_tied_weights_keys` is empty and `get_output_embeddings()` is None (there is no separate output
matrix to return); `config.tie_word_embeddings` is True to say the head is E.

Limits. Padded batches (an attention_mask with zeros), `inputs_embeds`, beam search and assisted
decoding are refused with clear errors.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutputWithPast

from ...layers.decode_weights import reuse_decode_weights
from ...layers.multirate_bus import MultiRateBus
from ...ops.multirate_scan import log_spaced_rates
from ...train.evaluation import masked_cross_entropy
from ..base import SequenceLM, build_model
from ..prism import PrismLM
from ..prizma_seq import PrizmaSeqLM
from ..ssm import SSMLM
from ..transformer import TransformerLM
from .cache import PrismlmCache
from .configuration import (
    PrismHFConfig,
    PrismlmHFConfig,
    PrismlmSSMHFConfig,
    PrismlmTransformerHFConfig,
    PrizmaSeqHFConfig,
    hf_config_for,
)

CACHE_KWARG = (
    "cache" if "cache" in inspect.signature(GenerationMixin.prepare_inputs_for_generation).parameters
    else "past_key_values"
)
"""The name under which this transformers version passes the cache between `generate` and forward."""
IGNORE_INDEX = -100


def causal_lm_loss(logits: torch.Tensor, labels: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
    """Shifted next-token CE over labels ≠ −100 (the trainer's masked mean) + aux; logits [B, T, V]."""
    targets = labels[:, 1:]
    mask = targets != IGNORE_INDEX
    ce = masked_cross_entropy(logits[:, :-1], targets.masked_fill(~mask, 0), mask.to(logits.dtype))
    return ce + aux


class PrismlmPreTrainedModel(PreTrainedModel):
    """Base of every prismlm Hugging Face model: the wrapped `SequenceLM` lives in `self.lm`."""

    config_class = PrismlmHFConfig
    base_model_prefix = "lm"
    main_input_name = "input_ids"
    _tied_weights_keys: dict[str, str] = {}  # the head is E itself: no second tensor to tie

    def _init_weights(self, module: nn.Module) -> None:
        """prismlm models initialise themselves on construction; Hugging Face must not redo it."""


class PrismlmForCausalLM(PrismlmPreTrainedModel, GenerationMixin):
    """A prismlm `SequenceLM` as a Hugging Face causal LM (module docstring for cache and loss)."""

    def __init__(self, config: PrismlmHFConfig, lm: SequenceLM | None = None) -> None:
        super().__init__(config)
        self.lm = build_model(config.to_prismlm()) if lm is None else lm
        self.post_init()

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        return False  # forward builds a PrismlmCache; a DynamicCache would hold nothing of ours

    def get_input_embeddings(self) -> nn.Embedding:
        return self.lm.embed

    def get_output_embeddings(self) -> None:
        return None  # logits = h · Eᵀ: the output matrix is the input embedding (see module doc)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        inputs_embeds: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> CausalLMOutputWithPast:
        """input_ids [B, T] -> logits [B, T, V] (the last `logits_to_keep` positions if > 0).

        With a non-empty cache (under `CACHE_KWARG`), input_ids are the tokens after the ones the
        state holds and are stepped one by one; with `use_cache` and no or an empty cache, the
        prompt is prefilled into a new `PrismlmCache`. With labels, `loss` = `causal_lm_loss`.
        """
        if inputs_embeds is not None:
            raise ValueError("prismlm models embed token ids themselves; pass input_ids, not inputs_embeds")
        if attention_mask is not None and not bool(attention_mask.all()):
            raise ValueError("prismlm models do not support padded batches (attention_mask has zeros)")
        cache = kwargs.pop(CACHE_KWARG, None)
        if cache is None:  # the older name, still accepted by Hugging Face models
            cache = kwargs.pop("past_key_values", None)
        if cache is not None and not isinstance(cache, PrismlmCache):
            if cache.get_seq_length() > 0:
                raise TypeError(f"a prismlm model needs a PrismlmCache, got a filled {type(cache).__name__}")
            cache = None
        if use_cache and cache is None:
            cache = PrismlmCache()
        self.lm.check_input_ids(input_ids)  # once here; `_step` below skips the per-token check

        if cache is not None and cache.state is not None:
            if labels is not None:
                raise ValueError("labels need the whole sequence: call forward without a filled cache")
            logits = self._step_tokens(input_ids, cache)
            aux = None
        else:
            needs_every_position = labels is not None or not (
                isinstance(logits_to_keep, int) and logits_to_keep == 1
            )
            logits, aux = self.lm(input_ids, return_aux=True) if needs_every_position else (None, None)
            if cache is not None:
                last, cache.state = self.lm.prefill(input_ids)
                logits = last[:, None] if logits is None else logits
        loss = None if labels is None else causal_lm_loss(logits, labels, aux)
        if isinstance(logits_to_keep, int):
            logits = logits[:, -logits_to_keep:] if logits_to_keep > 0 else logits
        else:
            logits = logits[:, logits_to_keep]
        return CausalLMOutputWithPast(loss=loss, logits=logits, **{CACHE_KWARG: cache})

    def _step_tokens(self, input_ids: torch.Tensor, cache: PrismlmCache) -> torch.Tensor:
        """Feed input_ids [B, n] through `step` one column at a time -> logits [B, n, V]."""
        state = cache.state
        if state.batch_size != input_ids.shape[0]:
            raise ValueError(
                f"input_ids has batch size {input_ids.shape[0]}, the cache {state.batch_size}"
            )
        steps = [self.lm._step(input_ids[:, t], state)[0] for t in range(input_ids.shape[1])]
        return torch.stack(steps, dim=1)

    def prepare_inputs_for_generation(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        use_cache: bool = True,
        logits_to_keep: int | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Once the cache holds a state, feed only the tokens it has not consumed (in `generate`:
        the last one); before that, the whole prompt."""
        cache = kwargs.get(CACHE_KWARG)
        if cache is not None and cache.get_seq_length() > 0:
            input_ids = input_ids[:, cache.get_seq_length():]
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "use_cache": use_cache,
                  CACHE_KWARG: cache}
        if logits_to_keep is not None:
            inputs["logits_to_keep"] = logits_to_keep
        return inputs

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        """`GenerationMixin.generate`, with decode-layout weights reused for the whole call."""
        with reuse_decode_weights():
            return super().generate(*args, **kwargs)


class PrizmaSeqPreTrainedModel(PrismlmPreTrainedModel):
    config_class = PrizmaSeqHFConfig


class PrizmaSeqForCausalLM(PrizmaSeqPreTrainedModel, PrismlmForCausalLM):
    """`PrizmaSeqLM` as a Hugging Face causal LM."""


class PrismPreTrainedModel(PrismlmPreTrainedModel):
    config_class = PrismHFConfig


class PrismForCausalLM(PrismPreTrainedModel, PrismlmForCausalLM):
    """`PrismLM` as a Hugging Face causal LM; `loss` includes PRISM's auxiliary terms."""

    def _init_weights(self, module: nn.Module) -> None:
        """Refill the bus's rate table Δ_k, a non-persistent buffer: Hugging Face loading builds
        the model on the meta device and leaves such buffers uninitialised (torch.empty)."""
        if isinstance(module, MultiRateBus):
            c = self.config
            with torch.no_grad():
                module.log_rates.copy_(log_spaced_rates(c.num_rates, c.min_rate, c.max_rate))


class PrismlmTransformerPreTrainedModel(PrismlmPreTrainedModel):
    config_class = PrismlmTransformerHFConfig


class PrismlmTransformerForCausalLM(PrismlmTransformerPreTrainedModel, PrismlmForCausalLM):
    """`TransformerLM` as a Hugging Face causal LM (its cache holds the KV cache)."""


class PrismlmSSMPreTrainedModel(PrismlmPreTrainedModel):
    config_class = PrismlmSSMHFConfig


class PrismlmSSMForCausalLM(PrismlmSSMPreTrainedModel, PrismlmForCausalLM):
    """`SSMLM` as a Hugging Face causal LM."""


CAUSAL_LM_FOR: dict[type[SequenceLM], type[PrismlmForCausalLM]] = {
    PrizmaSeqLM: PrizmaSeqForCausalLM,
    PrismLM: PrismForCausalLM,
    TransformerLM: PrismlmTransformerForCausalLM,
    SSMLM: PrismlmSSMForCausalLM,
}
"""prismlm model class -> its Hugging Face causal-LM class."""


def from_prismlm(model: SequenceLM) -> PrismlmForCausalLM:
    """Wrap a built prismlm model as its Hugging Face causal LM (weights shared, not copied)."""
    hf_cls = CAUSAL_LM_FOR.get(type(model))
    if hf_cls is None:
        known = sorted(c.__name__ for c in CAUSAL_LM_FOR)
        raise TypeError(f"no Hugging Face class for {type(model).__name__}; known: {known}")
    return hf_cls(hf_config_for(model.config), lm=model)
