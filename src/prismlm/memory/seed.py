"""Knowledge into a trained PrismLM's memory: facts and texts → the model's initial tape (a seed).

The encoder is the model's own write path, not a separate network (the reference trained a
separate Perceiver encoder whose slots the read head could not use, PRISM-KB's +0.006). For a
text, ē = mean token embedding, u = RMSNorm_route(ē) of the first memory block (the normalisation
its experts see); then, by memory kind:

* slot tape: a fact (key, value) is the text key‖value; each fact is written as if one token
  carrying u_fact were routed to the first memory block's head with weight 1:
      M ← M ⊙ (1 − g w eᵀ) + g w aᵀ,   (w, g, e, a) = that head's addressing of u_fact
  starting from M_init, facts in order. The seed is the written tape M_seed [S, d_mem].
* holo: H_0 = Σ_i sign(W_k u_key_i) ⊙ sign(W_v u_value_i) with the first holo expert's encoders
  (`HoloMemoryExpert.bind_facts`), viewed as [S, d_mem].

Both are differentiable (straight-through signs for holo), so training a model on seeded runs
trains the path that writes the seed (`reproduce.knowledge`). Texts are UTF-8 bytes: the text
functions need a byte-level model (vocab ≥ 256).

    seed = seed_from_texts(model, [("capital of France", "Paris")])
    model.generate(prompt_ids, 16, memory=seed, blend=1.0)
    generate_text(model, "capital of France", mode="knowledge", pairs=kb_pairs(store))
"""

from __future__ import annotations

import torch

from ..layers.holo_memory import HoloMemoryExpert
from ..layers.memory_tape import MemoryExpert
from ..models.prism import PrismLM
from ..ops.tape_scan import tape_scan

__all__ = ["MODES", "memory_head", "text_vectors", "seed_from_ids", "seed_from_texts",
           "kb_pairs", "utf8_ids", "generate_text"]

MODES = ("scratch", "knowledge", "oneshot")


def memory_head(model: PrismLM):
    """(block, expert) of the first block holding a memory expert; ValueError if none."""
    if not isinstance(model, PrismLM):
        raise TypeError(f"seeding needs a PrismLM, got {type(model).__name__}")
    for block in model.blocks:
        for expert in block.experts:
            if isinstance(expert, MemoryExpert | HoloMemoryExpert):
                return block, expert
    raise ValueError("the model has no memory expert (n_layers must be >= 2) and cannot be seeded")


def text_vectors(model: PrismLM, ids: torch.Tensor) -> torch.Tensor:
    """u = RMSNorm_route(mean token embedding). ids: [..., L] (L ≥ 1) -> [..., d_model]."""
    if ids.dtype not in (torch.int64, torch.int32) or ids.dim() < 1 or ids.shape[-1] < 1:
        raise ValueError(f"ids must be an integer tensor [..., L >= 1], got {ids.dtype} {tuple(ids.shape)}")
    block, _ = memory_head(model)
    return block.norm_route(model.embed(ids).mean(-2))


def _seed(
    model: PrismLM, u_keys: torch.Tensor, u_values: torch.Tensor, u_facts: torch.Tensor
) -> torch.Tensor:
    """Seed from fact vectors, each [..., N, d_model] -> [..., S, d_mem] (module docstring)."""
    _, head = memory_head(model)
    if isinstance(head, HoloMemoryExpert):
        return head.bind_facts(u_keys, u_values)
    a, b = head.fact_maps(u_facts)  # [..., N, S, d_mem]
    lead = a.shape[:-3]
    flat = (-1, *a.shape[-3:])
    tape = tape_scan(a.reshape(flat), b.reshape(flat), model.tape_init)[:, -1]
    return tape.reshape(*lead, *tape.shape[-2:])


def seed_from_ids(model: PrismLM, key_ids: torch.Tensor, value_ids: torch.Tensor) -> torch.Tensor:
    """Seed from token ids: key_ids [..., N, Lk], value_ids [..., N, Lv] -> [..., S, d_mem].

    A leading batch dim gives one seed per row ([B, S, d_mem]); gradients flow into the model.
    """
    if key_ids.shape[:-1] != value_ids.shape[:-1] or key_ids.dim() < 2:
        raise ValueError(
            f"key_ids and value_ids must be [..., N, L] with the same [..., N], got "
            f"{tuple(key_ids.shape)} and {tuple(value_ids.shape)}"
        )
    fact_ids = torch.cat([key_ids, value_ids], dim=-1)
    u_keys, u_values = text_vectors(model, key_ids), text_vectors(model, value_ids)
    return _seed(model, u_keys, u_values, text_vectors(model, fact_ids))


def utf8_ids(text: str, device: torch.device | None = None) -> torch.Tensor:
    """A text as its UTF-8 bytes: [L] int64 (byte-level models, vocab ≥ 256)."""
    return torch.tensor(list(text.encode("utf-8")), dtype=torch.int64, device=device)


def _check_byte_model(model: PrismLM) -> None:
    if model.config.vocab_size < 256:
        raise ValueError(f"text needs a byte-level model (vocab_size >= 256), got {model.config.vocab_size}")


def seed_from_texts(model: PrismLM, pairs: list[tuple[str, str]]) -> torch.Tensor:
    """Seed [S, d_mem] from (key text, value text) pairs — KB facts or one-shot (input, output)
    examples. Empty texts -> ValueError."""
    _check_byte_model(model)
    if not pairs:
        raise ValueError("need at least one (key, value) pair to seed from")
    dev = model.embed.weight.device
    rows = []
    for key, value in pairs:
        if not key or not value:
            raise ValueError(f"a pair needs a non-empty key and value, got {(key, value)!r}")
        k, v = utf8_ids(key, dev), utf8_ids(value, dev)
        rows.append([text_vectors(model, k), text_vectors(model, v), text_vectors(model, torch.cat([k, v]))])
    u_keys, u_values, u_facts = (torch.stack(col) for col in zip(*rows, strict=True))
    return _seed(model, u_keys, u_values, u_facts)


def kb_pairs(store, limit: int | None = None) -> list[tuple[str, str]]:
    """(key, value) texts of a `KBStore`'s first `limit` facts (all when None)."""
    return list(store.key_values(limit))


@torch.no_grad()
def generate_text(
    model: PrismLM,
    prompt: str,
    mode: str = "scratch",
    pairs: list[tuple[str, str]] | None = None,
    blend: float = 1.0,
    max_new_tokens: int = 64,
    temperature: float = 0.0,
) -> str:
    """Continue `prompt` from an empty tape (scratch), from KB facts (knowledge) or from a few
    (input, output) examples (oneshot); the facts go into memory, never into the prompt."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {MODES}")
    if mode == "scratch" and pairs:
        raise ValueError("mode 'scratch' takes no facts or examples")
    if mode != "scratch" and not pairs:
        raise ValueError(f"mode {mode!r} needs at least one (key, value) pair")
    _check_byte_model(model)
    if not prompt:
        raise ValueError("prompt must not be empty")
    memory = None if mode == "scratch" else seed_from_texts(model, pairs)
    ids = utf8_ids(prompt, model.embed.weight.device)[None]
    out = model.generate(ids, max_new_tokens, temperature=temperature, memory=memory, blend=blend)
    new = [int(t) for t in out[0, ids.shape[1] :].tolist() if t < 256]  # ids ≥ 256 are not bytes
    return bytes(new).decode("utf-8", errors="replace")
