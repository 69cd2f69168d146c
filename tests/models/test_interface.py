"""The `SequenceLM` interface, as one specification every registered model passes.

Each test runs on tiny configs of all four language models (PrismLM with both memory kinds).
A model added to the registry must be added to CONFIGS: `test_every_registered_model_is_covered`
fails otherwise.
"""

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import prismlm
from prismlm.models import (
    MODEL_REGISTRY,
    DecodeState,
    PrismConfig,
    PrizmaSeqConfig,
    SequenceLM,
    SSMConfig,
    TransformerConfig,
    base,
    build_model,
)

# Step and prefill run other kernels than forward (recurrent vs chunked scans, cached transposed
# weights), so they agree with it to float32 rounding, not bitwise. Causality holds to the same
# bound; a leak from the future moves logits by orders of magnitude more.
ATOL = 1e-4
V, B, T = 24, 2, 24

CONFIGS = {
    # window 4 and chunk 8 < T, so the window ring wraps and the chunked scan crosses chunks
    "prizma_seq": PrizmaSeqConfig(V, d_model=32, n_layers=2, n_heads=2, feat_n2=16, window=4,
                                  chunk_size=8),
    "transformer": TransformerConfig(V, d_model=32, n_layers=2, n_heads=2, max_len=64),
    "prism_tape": PrismConfig(V, d_model=32, n_layers=3, d_mem=8, num_slots=6),
    "prism_holo": PrismConfig(V, d_model=32, n_layers=3, d_mem=8, num_slots=6, memory_kind="holo"),
    "ssm": SSMConfig(V, d_model=16, n_layers=2, d_state=4),
    # single-kind PRISM models (the modular-pretraining phases); memory-only keeps its last block
    "prism_neural": PrismConfig(V, d_model=32, n_layers=2, d_mem=8, num_slots=6, expert_types=("neural",)),
    "prism_memory": PrismConfig(V, d_model=32, n_layers=2, d_mem=8, num_slots=6, expert_types=("memory",)),
    "prism_symbolic": PrismConfig(V, d_model=32, n_layers=2, d_mem=8, num_slots=6,
                                  expert_types=("symbolic",)),
}
RECURRENT = {"prizma_seq", "prism_tape", "prism_holo", "ssm",
             "prism_neural", "prism_memory", "prism_symbolic"}  # constant-size decode state


def _build(name: str) -> SequenceLM:
    torch.manual_seed(0)
    return build_model(CONFIGS[name]).eval()


def _tokens(shape, seed: int) -> torch.Tensor:
    return torch.randint(0, V, shape, generator=torch.Generator().manual_seed(seed))


def _step_all(model, tokens, state):
    """Step every column of tokens [B, n]; return the logits [B, n, V] and the state."""
    out = []
    for t in range(tokens.shape[1]):
        logits, state = model.step(tokens[:, t], state)
        out.append(logits)
    return torch.stack(out, 1), state


models = pytest.mark.parametrize("name", list(CONFIGS))


def test_every_registered_model_is_covered():
    assert {type(build_model(c)).__name__ for c in CONFIGS.values()} == set(MODEL_REGISTRY)


# ------------------------------------------------------------------------------- causality
@models
@pytest.mark.parametrize("t", [0, 9, T - 1])
def test_a_token_changes_the_logits_at_and_after_it_and_never_before(name, t):
    model = _build(name)
    x = _tokens((B, T), 1)
    y = x.clone()
    y[:, t] = (y[:, t] + 1 + _tokens((B,), 2) % (V - 1)) % V  # a different id in every row
    with torch.no_grad():
        a, b = model(x), model(y)
    torch.testing.assert_close(b[:, :t], a[:, :t], atol=ATOL, rtol=0)
    assert (b[:, t:] - a[:, t:]).abs().max() > 100 * ATOL


# ------------------------------------------------------------------------ decoding = forward
@models
def test_stepping_token_by_token_reproduces_forward(name):
    model = _build(name)
    x = _tokens((B, T), 3)
    with torch.no_grad():
        stepped, _ = _step_all(model, x, model.init_state(B))
        torch.testing.assert_close(stepped, model(x), atol=ATOL, rtol=0)


@models
@pytest.mark.parametrize("prompt_len", [1, 5, 13])
def test_prefill_then_step_reproduces_forward(name, prompt_len):
    model = _build(name)
    x = _tokens((B, T), 4)
    with torch.no_grad():
        full = model(x)
        last, state = model.prefill(x[:, :prompt_len])
        rest, _ = _step_all(model, x[:, prompt_len:], state)
    torch.testing.assert_close(last, full[:, prompt_len - 1], atol=ATOL, rtol=0)
    torch.testing.assert_close(rest, full[:, prompt_len:], atol=ATOL, rtol=0)


# -------------------------------------------------------------------------- state protocol
@models
def test_decode_state_protocol(name):
    model = _build(name)
    state = model.init_state(3)
    assert isinstance(state, DecodeState) and state.position == 0 and state.batch_size == 3
    sizes = []
    with torch.no_grad():
        for n in range(1, 9):
            _, returned = model.step(_tokens((3,), n), state)
            assert returned is state  # one step semantics: in place, same object back
            assert state.position == n
            sizes.append(state.num_floats())
    assert sizes[0] > 0
    if name in RECURRENT:
        assert len(set(sizes)) == 1
    else:  # a KV cache: keys and values of every position so far
        assert sizes == [n * sizes[0] for n in range(1, 9)]
    _, prefilled = model.prefill(_tokens((3, 5), 9))
    assert prefilled.position == 5 and prefilled.batch_size == 3
    assert state.to("cpu") is state and all(t.device.type == "cpu" for t in state.tensors())


@models
def test_init_state_follows_the_model_dtype(name):
    model = _build(name).to(torch.float64)
    state = model.init_state(B)
    assert all(t.dtype == torch.float64 for t in state.tensors() if t.is_floating_point())
    with torch.no_grad():
        logits, _ = model.step(_tokens((B,), 5), state)
    assert logits.dtype == torch.float64


# ----------------------------------------------------------------------------- bad inputs
@models
def test_bad_token_ids_are_rejected_with_clear_errors(name):
    model = _build(name)
    with pytest.raises(ValueError, match=f"outside the vocabulary \\[0, {V}\\)"):
        model(torch.tensor([[1, 2, V]]))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model(torch.tensor([[1, -1]]))
    with pytest.raises(TypeError, match="integer tensor"):
        model(torch.rand(1, 5))
    with pytest.raises(ValueError, match="empty"):
        model(torch.zeros(1, 0, dtype=torch.long))
    with pytest.raises(ValueError, match=r"must be \[B, T\]"):
        model(torch.zeros(1, 2, 3, dtype=torch.long))
    state = model.init_state(2)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model.step(torch.tensor([0, V]), state)
    with pytest.raises(ValueError, match=r"must be \[B\]"):
        model.step(torch.zeros(2, 1, dtype=torch.long), state)
    with pytest.raises(ValueError, match="batch size 3 but the state was built for batch size 2"):
        model.step(torch.zeros(3, dtype=torch.long), state)
    with pytest.raises(ValueError, match="batch_size"):
        model.init_state(0)


# ------------------------------------------------------------------------------- generate
@models
def test_greedy_generation_is_the_argmax_of_forward_at_every_new_position(name):
    model = _build(name)
    prompt = _tokens((B, 6), 6)
    out = model.generate(prompt, max_new_tokens=8)
    assert out.shape == (B, 14) and torch.equal(out[:, :6], prompt)
    with torch.no_grad():
        assert torch.equal(out[:, 6:], model(out)[:, 5:-1].argmax(-1))


@models
def test_sampling_is_reproducible_and_draws_from_the_top_k(name):
    model = _build(name)
    prompt = _tokens((B, 4), 7)

    def sample(seed, **kw):
        return model.generate(prompt, 10, generator=torch.Generator().manual_seed(seed), **kw)

    out = sample(0, temperature=1.5, top_k=3)
    assert torch.equal(out, sample(0, temperature=1.5, top_k=3))
    assert not torch.equal(sample(0, temperature=50.0), sample(1, temperature=50.0))
    with torch.no_grad():
        allowed = model(out)[:, 3:-1].topk(3, dim=-1).indices
    assert (allowed == out[:, 4:, None]).any(-1).all()
    assert torch.equal(sample(0, temperature=1.0, top_k=1), model.generate(prompt, 10))


@pytest.mark.parametrize("kwargs, field", [
    ({"top_k": 0}, "top_k"), ({"top_k": -1}, "top_k"), ({"temperature": math.nan}, "temperature"),
    ({"temperature": math.inf}, "temperature"), ({"temperature": -1.0}, "temperature"),
    ({"max_new_tokens": 2.0}, "max_new_tokens"), ({"max_new_tokens": -1}, "max_new_tokens"),
])
def test_generate_rejects_bad_arguments_naming_them(kwargs, field):
    model = _build("ssm")
    args = {"max_new_tokens": 3, "temperature": 1.0, **kwargs}
    with pytest.raises(ValueError, match=field):
        model.generate(_tokens((1, 3), 0), **args)


@models
def test_generate_restores_train_mode_when_decoding_fails(name, monkeypatch):
    model = _build(name).train()

    def broken_step(token, state):
        raise RuntimeError("decode failed")

    monkeypatch.setattr(model, "_step", broken_step)
    with pytest.raises(RuntimeError, match="decode failed"):
        model.generate(_tokens((1, 3), 0), max_new_tokens=4)
    assert model.training


# ------------------------------------------------------------------------------ save/load
_LOAD_IN_FRESH_PROCESS = """
import sys, torch
from prismlm.models import SequenceLM
root = sys.argv[1]
x, names = torch.load(root + "/input.pt")
out = {}
for name in names:
    model = SequenceLM.from_pretrained(f"{root}/{name}").eval()
    with torch.no_grad():
        out[name] = (type(model).__name__, repr(model.config), model(x))
torch.save(out, root + "/output.pt")
"""


def test_every_model_reloads_in_a_fresh_process_that_imports_only_prismlm_models(tmp_path):
    x = _tokens((B, T), 8)
    built = {name: _build(name) for name in CONFIGS}
    for name, model in built.items():
        model.save_pretrained(tmp_path / name)
    torch.save((x, list(built)), tmp_path / "input.pt")
    src = str(Path(prismlm.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", _LOAD_IN_FRESH_PROCESS, str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    loaded = torch.load(tmp_path / "output.pt")
    for name, model in built.items():
        cls, config, logits = loaded[name]
        assert cls == type(model).__name__ and config == repr(model.config)
        with torch.no_grad():
            assert torch.equal(logits, model(x))


# ----------------------------------------------------------------------------- checkpoints
def _two_transformers():
    old = _build("transformer")
    torch.manual_seed(1)
    return old, build_model(CONFIGS["transformer"]).eval()


def _same_logits(a: SequenceLM, b: SequenceLM) -> bool:
    x = _tokens((1, 8), 10)
    with torch.no_grad():
        return torch.equal(a(x), b(x))


def test_saving_over_a_checkpoint_replaces_it_whole(tmp_path):
    old, new = _two_transformers()
    old.save_pretrained(tmp_path / "ckpt")
    new.save_pretrained(tmp_path / "ckpt")
    assert _same_logits(SequenceLM.from_pretrained(tmp_path / "ckpt"), new)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]  # no temporary or backup left


def test_a_crash_after_the_weights_are_written_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    old, new = _two_transformers()
    assert not _same_logits(old, new)
    old.save_pretrained(tmp_path / "ckpt")
    real_save = base.save_model

    def save_then_crash(model, filename):
        real_save(model, filename)
        raise RuntimeError("killed after writing the weights")

    monkeypatch.setattr(base, "save_model", save_then_crash)
    with pytest.raises(RuntimeError, match="killed"):
        new.save_pretrained(tmp_path / "ckpt")
    assert _same_logits(SequenceLM.from_pretrained(tmp_path / "ckpt"), old)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_a_crash_inside_the_swap_keeps_the_previous_checkpoint_and_says_where(tmp_path, monkeypatch):
    old, new = _two_transformers()
    old.save_pretrained(tmp_path / "ckpt")
    real_replace, calls = os.replace, []

    def replace_then_crash(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # the old checkpoint is already moved aside
            raise RuntimeError("killed between the renames")
        real_replace(src, dst)

    monkeypatch.setattr(base.os, "replace", replace_then_crash)
    with pytest.raises(RuntimeError, match="killed"):
        new.save_pretrained(tmp_path / "ckpt")
    monkeypatch.undo()
    with pytest.raises(FileNotFoundError, match=r"\.ckpt\.previous"):
        SequenceLM.from_pretrained(tmp_path / "ckpt")
    assert _same_logits(SequenceLM.from_pretrained(tmp_path / ".ckpt.previous"), old)


def test_save_refuses_a_directory_holding_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="notes.txt"):
        _build("ssm").save_pretrained(tmp_path)


@pytest.mark.parametrize("damage, error, file", [
    (lambda p: (p / "config.json").unlink(), FileNotFoundError, "config.json"),
    (lambda p: (p / "model.safetensors").unlink(), FileNotFoundError, "model.safetensors"),
    (lambda p: (p / "config.json").write_text("{not json"), ValueError, "config.json"),
    (lambda p: (p / "config.json").write_text('{"model_class": "SSMLM"}'), ValueError, "config.json"),
    (lambda p: (p / "config.json").write_text(
        (p / "config.json").read_text().replace('"d_state"', '"d_stat"')), ValueError, "config.json"),
    (lambda p: (p / "model.safetensors").write_bytes((p / "model.safetensors").read_bytes()[:100]),
     ValueError, "model.safetensors"),
])
def test_loading_a_damaged_checkpoint_names_the_bad_file(tmp_path, damage, error, file):
    _build("ssm").save_pretrained(tmp_path / "ckpt")
    damage(tmp_path / "ckpt")
    with pytest.raises(error, match=file):
        SequenceLM.from_pretrained(tmp_path / "ckpt")
