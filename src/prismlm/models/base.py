"""The one interface every language model in prismlm implements.

    logits = model(input_ids)                        # [B, T] int64 -> [B, T, V]
    logits, aux = model(input_ids, return_aux=True)  # aux: scalar auxiliary loss (0 if none)
    state = model.init_state(batch_size)             # a `DecodeState` at position 0
    logits, state = model.step(token, state)         # token [B] -> logits [B, V]
    logits, state = model.prefill(prompt)            # prompt [B, T0] -> last logits [B, V]
    out = model.generate(prompt, max_new_tokens)     # [B, T0 + max_new_tokens]
    model.save_pretrained(path); SequenceLM.from_pretrained(path)

Step semantics, the same for every model: `step(token, state)` consumes one token per row,
**updates `state` in place and returns that same object** with `position` advanced by one.
`prefill(prompt)` returns a fresh state equal to stepping the prompt token by token. Stepping
reproduces the forward pass: `step` at position t gives `model(ids)[:, t]` up to float rounding.

Every model owns `embed: nn.Embedding` and ties its output head to it: logits = h · Eᵀ, with no
separate head parameter (`tied_head`), so `num_parameters` counts E once. Every model initialises
with `layers.init.init_linear_and_embedding_`.

A checkpoint is a directory holding `config.json` (the model class and its config) and
`model.safetensors`. `save_pretrained` writes both into a temporary directory beside the target
and then swaps it in, so a crash leaves the previous pair or the new pair, never a mix.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import torch
from safetensors.torch import load_model, save_model
from torch import nn

from ..config import config_from_dict, config_to_dict
from ..layers.decode_weights import reuse_decode_weights, transposed_weight
from .config import require_lm_shape
from .state import DecodeState

MODEL_REGISTRY: dict[str, type[SequenceLM]] = {}
"""Model class name -> class: what `from_pretrained` reads from a checkpoint's config.json."""
MODEL_FOR_CONFIG: dict[type, type[SequenceLM]] = {}
"""Config class -> model class (Hugging Face's AutoModel pattern): `build_model(config)`."""

CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"
_INT_DTYPES = (torch.int64, torch.int32, torch.int16, torch.uint8)


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


def _backup_path(path: Path) -> Path:
    """Where `save_pretrained` parks the previous checkpoint during its swap."""
    return path.parent / f".{path.name}.previous"


class SequenceLM(nn.Module):
    """Base class: input validation, decoding, generation, parameter counting, save/load.

    Subclasses set `config_class`, build their layers (including `self.embed`) from
    `self.config`, and implement `forward(input_ids, return_aux=False)`,
    `init_state(batch_size, device=None)` and `_step(token, state)`, the unchecked decode step
    that the public `step` calls after validating its arguments.
    """

    config_class: ClassVar[type]
    embed: nn.Embedding

    def __init__(self, config: Any) -> None:
        super().__init__()
        if not isinstance(config, self.config_class):
            raise TypeError(
                f"{type(self).__name__} needs a {self.config_class.__name__}, "
                f"got {type(config).__name__}"
            )
        require_lm_shape(config)  # every model, whatever its config's own __post_init__ checks
        self.config = config

    # ----------------------------------------------------------------------------- validation
    def check_input_ids(
        self, input_ids: torch.Tensor, max_len: int | None = None, ndim: int = 2
    ) -> None:
        """Raise a clear error for token tensors the model cannot consume.

        input_ids: an integer tensor of `ndim` dimensions ([B, T] for `forward`, [B] for
        `step`), non-empty, with ids in [0, vocab_size) and at most `max_len` positions.
        """
        if not isinstance(input_ids, torch.Tensor):
            raise TypeError(f"input_ids must be a torch.Tensor, got {type(input_ids).__name__}")
        if input_ids.dtype not in _INT_DTYPES:
            raise TypeError(f"input_ids must be an integer tensor, got dtype {input_ids.dtype}")
        if input_ids.dim() != ndim:
            shape = "[B, T]" if ndim == 2 else "[B]"
            raise ValueError(f"input_ids must be {shape}, got shape {tuple(input_ids.shape)}")
        if input_ids.numel() == 0:
            raise ValueError(f"input_ids is empty (shape {tuple(input_ids.shape)})")
        vocab = self.config.vocab_size
        lo, hi = (int(v) for v in torch.aminmax(input_ids))  # one op, one sync
        if lo < 0 or hi >= vocab:
            raise ValueError(
                f"input_ids contains token id {hi if hi >= vocab else lo} outside the "
                f"vocabulary [0, {vocab})"
            )
        if max_len is not None and ndim == 2 and input_ids.shape[1] > max_len:
            raise ValueError(
                f"sequence length {input_ids.shape[1]} exceeds the configured max_len {max_len}"
            )

    @staticmethod
    def check_batch_size(batch_size: int) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")

    # ----------------------------------------------------------------------------------- head
    def tied_head(self, h: torch.Tensor, decode: bool = False) -> torch.Tensor:
        """logits = h · Eᵀ: [..., d_model] -> [..., vocab], tied to the input embedding E.

        decode=True multiplies by a cached contiguous Eᵀ (faster per token; no gradient).
        """
        return h @ (transposed_weight(self.embed) if decode else self.embed.weight.t())

    # ------------------------------------------------------------------------------- decoding
    def init_state(self, batch_size: int, device: torch.device | None = None) -> DecodeState:
        """A state at position 0 for `batch_size` rows, on `device` (default: the model's)
        and in the model's dtype."""
        raise NotImplementedError

    def _step(self, token: torch.Tensor, state: DecodeState) -> tuple[torch.Tensor, DecodeState]:
        raise NotImplementedError

    def step(self, token: torch.Tensor, state: DecodeState) -> tuple[torch.Tensor, DecodeState]:
        """token: [B] ids -> (logits [B, V], state), `state` updated in place and returned.

        Raises ValueError/TypeError for ids that are not [B] integers in [0, vocab) and for a
        state whose batch size is not B.
        """
        self.check_step_inputs(token, state)
        return self._step(token, state)

    def check_step_inputs(self, token: torch.Tensor, state: DecodeState) -> None:
        """The checks of `step`: token [B] ids in [0, vocab), state a DecodeState of batch B."""
        self.check_input_ids(token, ndim=1)
        if not isinstance(state, DecodeState):
            raise TypeError(f"state must be a DecodeState from init_state, got {type(state).__name__}")
        if state.batch_size != token.shape[0]:
            raise ValueError(
                f"token has batch size {token.shape[0]} but the state was built for batch size "
                f"{state.batch_size}"
            )

    def compile_step(self, **compile_options):
        """`step` compiled whole with `torch.compile` (models/compiled_step.py): returns a
        callable `(token, state) -> (logits, state)` with `step`'s contract, run without autograd.
        `compile_options` go to `torch.compile` (default `dynamic=True`)."""
        from .compiled_step import CompiledStep

        return CompiledStep(self, **compile_options)

    @torch.no_grad()
    def prefill(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, DecodeState]:
        """Consume a prompt [B, T]; return the last logits [B, V] and the decode state.

        The default steps token by token (exact by construction); models override it with a
        parallel prefill where they have one.
        """
        self.check_input_ids(input_ids)
        state = self.init_state(input_ids.shape[0], device=input_ids.device)
        logits = None
        for t in range(input_ids.shape[1]):
            logits, state = self._step(input_ids[:, t], state)
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
        """Autoregressive decoding: prefill the prompt, then one `step` per new token.

        input_ids: [B, T0] prompt. temperature 0 is greedy (argmax); temperature > 0 samples from
        softmax(logits / temperature), restricted to the top_k most likely ids when top_k is
        given. Returns [B, T0 + max_new_tokens]. The model's train/eval mode is restored.
        """
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int):
            raise ValueError(f"max_new_tokens must be an int, got {max_new_tokens!r}")
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
        if not isinstance(temperature, int | float) or not math.isfinite(temperature) or temperature < 0:
            raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise ValueError(f"top_k must be None or an int >= 1, got {top_k!r}")
        self.check_input_ids(input_ids)
        was_training = self.training
        self.eval()
        try:
            # Nothing edits the weights inside this loop: reuse the decode-layout copies.
            with reuse_decode_weights():
                logits, state = self.prefill(input_ids)
                out = [input_ids]
                for i in range(max_new_tokens):
                    token = self._next_token(logits, temperature, top_k, generator)
                    out.append(token[:, None])
                    if i + 1 < max_new_tokens:  # the model's own ids: valid by construction
                        logits, state = self._step(token, state)
        finally:
            self.train(was_training)
        return torch.cat(out, dim=1)

    @staticmethod
    def _next_token(logits, temperature, top_k, generator) -> torch.Tensor:
        """logits [B, V] -> ids [B]: argmax at temperature 0, else a (top-k) softmax sample."""
        if temperature == 0.0:
            return logits.argmax(-1)
        scaled = logits.float() / temperature
        if top_k is not None and top_k < scaled.shape[-1]:
            kth = torch.topk(scaled, top_k, dim=-1).values[:, -1:]
            scaled = scaled.masked_fill(scaled < kth, float("-inf"))
        probs = torch.softmax(scaled, dim=-1)
        return torch.multinomial(probs, 1, generator=generator).squeeze(-1)

    # ------------------------------------------------------------------------------ bookkeeping
    def num_parameters(self, trainable_only: bool = True) -> int:
        """Number of distinct parameters (tied weights counted once)."""
        params = {id(p): p for p in self.parameters() if p.requires_grad or not trainable_only}
        return sum(p.numel() for p in params.values())

    def save_pretrained(self, path: str | os.PathLike) -> Path:
        """Write `config.json` + `model.safetensors` as directory `path`, replacing it whole.

        Both files go to a fresh temporary directory beside `path`, are fsynced, and the directory
        is renamed into place; an existing checkpoint is first renamed aside to `.<name>.previous`
        and deleted afterwards. A directory holding anything but a checkpoint is refused.
        """
        path = Path(path)
        if path.exists():
            if not path.is_dir():
                raise ValueError(f"save_pretrained: {path} exists and is not a directory")
            extra = sorted(p.name for p in path.iterdir() if p.name not in (CONFIG_FILE, WEIGHTS_FILE))
            if extra:
                raise ValueError(
                    f"save_pretrained replaces the whole directory {path}, which also holds {extra}"
                )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
        backup = _backup_path(path)
        try:
            save_model(self, str(tmp / WEIGHTS_FILE))
            meta = {"model_class": type(self).__name__, "config": config_to_dict(self.config)}
            (tmp / CONFIG_FILE).write_bytes(json.dumps(meta, indent=2).encode())
            for name in (WEIGHTS_FILE, CONFIG_FILE):
                with open(tmp / name, "rb") as f:
                    os.fsync(f.fileno())
            if path.exists():
                shutil.rmtree(backup, ignore_errors=True)
                os.replace(path, backup)
            os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(backup, ignore_errors=True)
        return path

    @classmethod
    def from_pretrained(
        cls, path: str | os.PathLike, map_location: str | torch.device = "cpu"
    ) -> SequenceLM:
        """Load a model saved by `save_pretrained` (any registered class when called on the base).

        Missing files raise FileNotFoundError and unreadable ones ValueError, naming the file.
        """
        path = Path(path)
        meta_file, weights = path / CONFIG_FILE, path / WEIGHTS_FILE
        for f in (meta_file, weights):
            if not f.is_file():
                hint = ""
                if _backup_path(path).is_dir():
                    hint = f"; an interrupted save left the previous checkpoint in {_backup_path(path)}"
                raise FileNotFoundError(f"checkpoint file {f} is missing{hint}")
        try:
            meta = json.loads(meta_file.read_text())
            name, config_dict = meta["model_class"], meta["config"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
            raise ValueError(f"{meta_file} is not a prismlm checkpoint config: {error!r}") from error
        model_cls = MODEL_REGISTRY.get(name) if cls is SequenceLM else cls
        if model_cls is None:
            raise ValueError(f"{meta_file}: unknown model class {name!r}; known: {sorted(MODEL_REGISTRY)}")
        if model_cls.__name__ != name:
            raise ValueError(f"{meta_file}: checkpoint holds a {name}, not a {model_cls.__name__}")
        try:
            config = config_from_dict(model_cls.config_class, config_dict)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{meta_file}: bad {model_cls.config_class.__name__}: {error}") from error
        model = model_cls(config)
        try:
            load_model(model, str(weights), device=str(map_location))
        except Exception as error:  # safetensors' header errors and torch's shape mismatches
            raise ValueError(f"{weights} does not load into {name}: {error}") from error
        return model
