"""The one interface every language model in prismlm implements.

    logits = model(input_ids)                       # [B, T] int64 -> [B, T, V]
    logits, aux = model(input_ids, return_aux=True)  # aux: scalar auxiliary loss (0 if none)
    state = model.init_state(batch_size)
    logits, state = model.step(token, state)        # token [B] -> logits [B, V]
    out = model.generate(prompt, max_new_tokens)    # [B, T0 + max_new_tokens]
    model.save_pretrained(path); SequenceLM.from_pretrained(path)

Weights are stored as safetensors beside a `config.json` naming the model class, both written
atomically (temporary file + rename) so a crash never leaves a half-written checkpoint.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar

import torch
from safetensors.torch import load_model, save_model
from torch import nn

from ..config import config_from_dict, config_to_dict
from ..io import atomic_write, atomic_write_bytes

MODEL_REGISTRY: dict[str, type[SequenceLM]] = {}
"""Model class name -> class: what `from_pretrained` reads from a checkpoint's config.json."""
MODEL_FOR_CONFIG: dict[type, type[SequenceLM]] = {}
"""Config class -> model class (Hugging Face's AutoModel pattern): `build_model(config)`."""


def register_model(cls: type[SequenceLM]) -> type[SequenceLM]:
    """Class decorator: make a model loadable by name and buildable from its config class.

    `prismlm.models` imports every model module, so importing it registers all of them.
    """
    MODEL_REGISTRY[cls.__name__] = cls
    MODEL_FOR_CONFIG[cls.config_class] = cls
    return cls


def model_class_for(config: Any) -> type[SequenceLM]:
    """The registered model class that `config` (a model config instance) builds."""
    model_cls = MODEL_FOR_CONFIG.get(type(config))
    if model_cls is None:
        known = sorted(c.__name__ for c in MODEL_FOR_CONFIG)
        raise TypeError(f"no model is registered for {type(config).__name__}; known configs: {known}")
    return model_cls


def build_model(config: Any) -> SequenceLM:
    """The model a config describes, e.g. `build_model(PrismConfig(...))` -> PrismLM."""
    return model_class_for(config)(config)


class SequenceLM(nn.Module):
    """Base class: input validation, generation, parameter counting, save/load.

    Subclasses set `config_class`, build their layers from `self.config`, and implement
    `forward(input_ids, return_aux=False)`, `init_state(batch_size)` and `step(token, state)`.
    """

    config_class: ClassVar[type]

    def __init__(self, config: Any) -> None:
        super().__init__()
        if not isinstance(config, self.config_class):
            raise TypeError(
                f"{type(self).__name__} needs a {self.config_class.__name__}, "
                f"got {type(config).__name__}"
            )
        self.config = config

    # ----------------------------------------------------------------------------- validation
    def check_input_ids(self, input_ids: torch.Tensor, max_len: int | None = None) -> None:
        """Raise a clear error for token tensors the model cannot consume.

        input_ids: [B, T] (or [B] for `step`) integer tensor with ids in [0, vocab_size).
        """
        if not isinstance(input_ids, torch.Tensor):
            raise TypeError(f"input_ids must be a torch.Tensor, got {type(input_ids).__name__}")
        if input_ids.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
            raise TypeError(f"input_ids must be an integer tensor, got dtype {input_ids.dtype}")
        if input_ids.numel() == 0:
            raise ValueError("input_ids is empty")
        vocab = self.config.vocab_size
        lo, hi = int(input_ids.min()), int(input_ids.max())
        if lo < 0 or hi >= vocab:
            raise ValueError(
                f"input_ids contains token id {hi if hi >= vocab else lo} outside the "
                f"vocabulary [0, {vocab})"
            )
        if max_len is not None and input_ids.dim() == 2 and input_ids.shape[1] > max_len:
            raise ValueError(
                f"sequence length {input_ids.shape[1]} exceeds the configured max_len {max_len}"
            )

    # ------------------------------------------------------------------------------- decoding
    def init_state(self, batch_size: int, device: torch.device | None = None) -> Any:
        raise NotImplementedError

    def step(self, token: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        raise NotImplementedError

    @torch.no_grad()
    def prefill(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """Consume a prompt [B, T]; return the last logits [B, V] and the decode state.

        The default steps token by token (exact by construction); models override it with a
        parallel prefill where they have one.
        """
        state = self.init_state(input_ids.shape[0], device=input_ids.device)
        logits = None
        for t in range(input_ids.shape[1]):
            logits, state = self.step(input_ids[:, t], state)
        return logits, state

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 0.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Autoregressive sampling with constant-size (or KV) decode state.

        input_ids: [B, T0] prompt. temperature 0 means greedy. Returns [B, T0 + max_new_tokens].
        """
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        self.check_input_ids(input_ids)
        was_training = self.training
        self.eval()
        logits, state = self.prefill(input_ids)
        out = [input_ids]
        for i in range(max_new_tokens):
            if temperature == 0.0:
                token = logits.argmax(-1)
            else:
                scaled = logits.float() / temperature
                if top_k is not None:
                    kth = torch.topk(scaled, min(top_k, scaled.shape[-1]), dim=-1).values[:, -1:]
                    scaled = scaled.masked_fill(scaled < kth, float("-inf"))
                probs = torch.softmax(scaled, dim=-1)
                token = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
            out.append(token[:, None])
            if i + 1 < max_new_tokens:
                logits, state = self.step(token, state)
        self.train(was_training)
        return torch.cat(out, dim=1)

    # ------------------------------------------------------------------------------ bookkeeping
    def num_parameters(self, trainable_only: bool = True) -> int:
        """Number of distinct parameters (tied weights counted once)."""
        params = {id(p): p for p in self.parameters() if p.requires_grad or not trainable_only}
        return sum(p.numel() for p in params.values())

    def save_pretrained(self, path: str | os.PathLike) -> Path:
        """Write `config.json` and `model.safetensors` under directory `path`, atomically."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        atomic_write(path / "model.safetensors", lambda tmp: save_model(self, tmp))
        meta = {"model_class": type(self).__name__, "config": config_to_dict(self.config)}
        atomic_write_bytes(path / "config.json", json.dumps(meta, indent=2).encode())
        return path

    @classmethod
    def from_pretrained(
        cls, path: str | os.PathLike, map_location: str | torch.device = "cpu"
    ) -> SequenceLM:
        """Load a model saved by `save_pretrained` (any registered class when called on the base)."""
        path = Path(path)
        meta_file, weights = path / "config.json", path / "model.safetensors"
        if not meta_file.exists() or not weights.exists():
            raise FileNotFoundError(f"{path} holds no config.json + model.safetensors checkpoint")
        meta = json.loads(meta_file.read_text())
        name = meta.get("model_class")
        model_cls = MODEL_REGISTRY.get(name) if cls is SequenceLM else cls
        if model_cls is None:
            raise ValueError(f"unknown model class {name!r}; known: {sorted(MODEL_REGISTRY)}")
        if model_cls.__name__ != name:
            raise ValueError(f"checkpoint holds a {name}, not a {model_cls.__name__}")
        model = model_cls(config_from_dict(model_cls.config_class, meta["config"]))
        load_model(model, str(weights), device=str(map_location))
        return model
