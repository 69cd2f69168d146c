"""Hugging Face models for every prismlm language model (optional extra `prismlm[hf]`).

Importing this package registers the four configs with `AutoConfig` and the four causal LMs with
`AutoModelForCausalLM`, so after `import prismlm.models.hf` a saved model loads with
`AutoModelForCausalLM.from_pretrained(path)`:

    import prismlm.models.hf as hf
    hf_model = hf.from_prismlm(model)                  # wraps a built model (weights shared)
    hf_model.save_pretrained("dir")                    # config.json + model.safetensors
    AutoModelForCausalLM.from_pretrained("dir")        # the same model back
    hf_model.generate(ids, max_new_tokens=20)          # prefill once, then one `step` per token

| prismlm model | model_type            | config                       | causal LM                      |
|---------------|-----------------------|------------------------------|--------------------------------|
| PrizmaSeqLM   | `prizma_seq`          | `PrizmaSeqHFConfig`          | `PrizmaSeqForCausalLM`         |
| PrismLM       | `prism`               | `PrismHFConfig`              | `PrismForCausalLM`             |
| TransformerLM | `prismlm_transformer` | `PrismlmTransformerHFConfig` | `PrismlmTransformerForCausalLM`|
| SSMLM         | `prismlm_ssm`         | `PrismlmSSMHFConfig`         | `PrismlmSSMForCausalLM`        |

Layout as in flash-linear-attention's models: `configuration.py` (typed configs), `cache.py`
(the `Cache` over a prismlm `DecodeState`), `modeling.py` (the models; its docstring states the
cache behaviour, the loss and the tied head). Scoring for lm-evaluation-harness-style
loglikelihoods is a plain forward: log_softmax(model(context + continuation).logits) at the
continuation positions, equal to stepping the tokens one by one.
"""

try:
    from transformers import AutoConfig, AutoModelForCausalLM
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "prismlm.models.hf needs Hugging Face transformers: pip install 'prismlm[hf]'"
    ) from error

from .cache import PrismlmCache
from .configuration import (
    HF_CONFIG_FOR,
    HF_CONFIGS,
    PrismHFConfig,
    PrismlmHFConfig,
    PrismlmSSMHFConfig,
    PrismlmTransformerHFConfig,
    PrizmaSeqHFConfig,
    hf_config_for,
)
from .modeling import (
    CAUSAL_LM_FOR,
    PrismForCausalLM,
    PrismlmForCausalLM,
    PrismlmPreTrainedModel,
    PrismlmSSMForCausalLM,
    PrismlmTransformerForCausalLM,
    PrizmaSeqForCausalLM,
    causal_lm_loss,
    from_prismlm,
)

for _causal_lm in CAUSAL_LM_FOR.values():
    AutoConfig.register(_causal_lm.config_class.model_type, _causal_lm.config_class, exist_ok=True)
    AutoModelForCausalLM.register(_causal_lm.config_class, _causal_lm, exist_ok=True)

__all__ = [
    "CAUSAL_LM_FOR",
    "HF_CONFIGS",
    "HF_CONFIG_FOR",
    "PrismForCausalLM",
    "PrismHFConfig",
    "PrismlmCache",
    "PrismlmForCausalLM",
    "PrismlmHFConfig",
    "PrismlmPreTrainedModel",
    "PrismlmSSMForCausalLM",
    "PrismlmSSMHFConfig",
    "PrismlmTransformerForCausalLM",
    "PrismlmTransformerHFConfig",
    "PrizmaSeqForCausalLM",
    "PrizmaSeqHFConfig",
    "causal_lm_loss",
    "from_prismlm",
    "hf_config_for",
]
