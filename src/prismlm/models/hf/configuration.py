"""Typed Hugging Face configs, one per prismlm model, whose fields are the prismlm config's fields.

    PrizmaSeqHFConfig(vocab_size=256, d_model=128, n_layers=4, ...)   # model_type "prizma_seq"
    PrismHFConfig(...)                                                 # "prism"
    PrismlmTransformerHFConfig(...)                                    # "prismlm_transformer"
    PrismlmSSMHFConfig(...)                                            # "prismlm_ssm"
    config.to_prismlm()            -> the prismlm dataclass (PrizmaSeqConfig, ...)
    hf_config_for(prismlm_config)  -> the matching HF config, every field copied

Each class reads its fields from its prismlm dataclass (`prismlm_config_class`), so a field added
there appears here without a second copy. Values are validated by building that dataclass, which
raises a ValueError naming the bad field. Two names differ from prismlm's:

- `vocab_size` defaults to 256 (a byte vocabulary) where the prismlm dataclass requires it,
  because Hugging Face builds configs with no arguments (for defaults and diffs);
- PRISM's `top_k` (experts per token) is stored as `expert_top_k`: Hugging Face reads a model
  config's `top_k` as the *sampling* top-k of `generate`.

`config.json` holds every field (none is a Hugging Face default), so a later change of a prismlm
default never changes a saved model. `hidden_size`, `num_hidden_layers` and
`max_position_embeddings` alias `d_model`, `n_layers` and `max_len`, the names Hugging Face
utilities look for. `tie_word_embeddings` is True: every prismlm model's output head is Eᵀ.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from transformers import PretrainedConfig
from transformers.generation import GenerationConfig

from ..prism import PrismConfig
from ..prizma_seq import PrizmaSeqConfig
from ..ssm import SSMConfig
from ..transformer import TransformerConfig

HF_NAME = {"top_k": "expert_top_k"}
"""prismlm field -> Hugging Face attribute, where Hugging Face gives the prismlm name a meaning."""
REQUIRED_DEFAULTS = {"vocab_size": 256}
"""Defaults for prismlm fields that have none (Hugging Face configs must build without arguments)."""


def _reserved_names() -> set[str]:
    """Attribute names Hugging Face already means something by: generation parameters (read from
    the model config by `generate`) and the base config's own fields."""
    names = set(GenerationConfig._get_default_generation_params())
    return names | {f.name for f in dataclasses.fields(PretrainedConfig)}


class PrismlmHFConfig(PretrainedConfig):
    """Base of the four configs: flat prismlm fields + Hugging Face's own (`tie_word_embeddings`, ...).

    Subclasses set `model_type` and `prismlm_config_class`; keyword arguments are that dataclass's
    fields (with `HF_NAME` renames) or Hugging Face config arguments.
    """

    prismlm_config_class: ClassVar[type]
    attribute_map: ClassVar[dict[str, str]] = {
        "hidden_size": "d_model",
        "num_hidden_layers": "n_layers",
        "max_position_embeddings": "max_len",
    }

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # transformers 5 gives every config subclass without its own `__init__` a generated
        # dataclass one; ours (defaults + validation from the prismlm dataclass) must stay.
        cls.__init__ = PrismlmHFConfig.__init__
        clash = sorted(
            f.name for f in dataclasses.fields(cls.prismlm_config_class)
            if f.name not in HF_NAME and f.name in _reserved_names()
        )
        if clash:  # a silent clash would let `generate` or the base config reinterpret a field
            raise TypeError(
                f"{cls.__name__}: prismlm fields {clash} clash with Hugging Face names; add them to HF_NAME"
            )

    def __init__(self, **kwargs: Any) -> None:
        values = {}
        for f in dataclasses.fields(self.prismlm_config_class):
            name = HF_NAME.get(f.name, f.name)
            if name in kwargs:
                values[f.name] = kwargs.pop(name)
            elif f.default is not dataclasses.MISSING:
                values[f.name] = f.default
            else:
                values[f.name] = REQUIRED_DEFAULTS[f.name]
        self.prismlm_config_class(**values)  # validates, naming the bad field
        for field_name, value in values.items():
            setattr(self, HF_NAME.get(field_name, field_name), value)
        kwargs.setdefault("tie_word_embeddings", True)
        super().__init__(**kwargs)

    def to_prismlm(self) -> Any:
        """The prismlm dataclass config these fields describe."""
        return self.prismlm_config_class(
            **{
                f.name: getattr(self, HF_NAME.get(f.name, f.name))
                for f in dataclasses.fields(self.prismlm_config_class)
            }
        )


class PrizmaSeqHFConfig(PrismlmHFConfig):
    """Prizma-Seq (`prismlm.models.PrizmaSeqLM`); fields: `PrizmaSeqConfig`."""

    model_type = "prizma_seq"
    prismlm_config_class = PrizmaSeqConfig


class PrismHFConfig(PrismlmHFConfig):
    """PRISM (`prismlm.models.PrismLM`); fields: `PrismConfig`, with `top_k` as `expert_top_k`."""

    model_type = "prism"
    prismlm_config_class = PrismConfig


class PrismlmTransformerHFConfig(PrismlmHFConfig):
    """prismlm's Transformer baseline (`prismlm.models.TransformerLM`); fields: `TransformerConfig`."""

    model_type = "prismlm_transformer"
    prismlm_config_class = TransformerConfig


class PrismlmSSMHFConfig(PrismlmHFConfig):
    """prismlm's diagonal-SSM baseline (`prismlm.models.SSMLM`); fields: `SSMConfig`."""

    model_type = "prismlm_ssm"
    prismlm_config_class = SSMConfig


HF_CONFIGS: tuple[type[PrismlmHFConfig], ...] = (
    PrizmaSeqHFConfig, PrismHFConfig, PrismlmTransformerHFConfig, PrismlmSSMHFConfig,
)
HF_CONFIG_FOR: dict[type, type[PrismlmHFConfig]] = {c.prismlm_config_class: c for c in HF_CONFIGS}
"""prismlm config class -> its Hugging Face config class."""


def hf_config_for(config: Any) -> PrismlmHFConfig:
    """The Hugging Face config equal to a prismlm model config (every field copied)."""
    hf_cls = HF_CONFIG_FOR.get(type(config))
    if hf_cls is None:
        known = sorted(c.__name__ for c in HF_CONFIG_FOR)
        raise TypeError(f"no Hugging Face config for {type(config).__name__}; known: {known}")
    return hf_cls(**{HF_NAME.get(k, k): v for k, v in dataclasses.asdict(config).items()})
