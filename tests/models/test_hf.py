"""The Hugging Face models (extra `prismlm[hf]`, installed by the dev extra): one specification
every prismlm model passes — Auto* round trip, cached greedy generate equal to prismlm's, a
per-token cost flat in the context, the trainer's loss through `labels`, and loglikelihoods."""

import json

import pytest
import torch

transformers = pytest.importorskip("transformers")

import prismlm.models.hf as hf  # noqa: E402  (registers the Auto classes)
from prismlm.config import to_jsonable  # noqa: E402
from prismlm.models import (  # noqa: E402
    PrismConfig,
    PrizmaSeqConfig,
    SSMConfig,
    TransformerConfig,
    build_model,
)
from prismlm.train.evaluation import masked_cross_entropy  # noqa: E402

# Step and prefill run other kernels than forward (recurrent vs chunked scans), so they agree to
# float32 rounding, not bitwise (the same bound as tests/models/test_interface.py).
ATOL = 1e-4
V = 24

CONFIGS = {
    "prizma_seq": PrizmaSeqConfig(V, d_model=32, n_layers=2, n_heads=2, feat_n2=16, window=4, chunk_size=8),
    "transformer": TransformerConfig(V, d_model=32, n_layers=2, n_heads=2, max_len=128),
    "prism_tape": PrismConfig(V, d_model=32, n_layers=3, d_mem=8, num_slots=6, top_k=2),
    "prism_holo": PrismConfig(V, d_model=32, n_layers=3, d_mem=8, num_slots=6, memory_kind="holo"),
    "ssm": SSMConfig(V, d_model=16, n_layers=2, d_state=4),
}
models = pytest.mark.parametrize("name", list(CONFIGS))


def _build(name):
    torch.manual_seed(0)
    return build_model(CONFIGS[name]).eval()


def _tokens(shape, seed=0):
    return torch.randint(0, V, shape, generator=torch.Generator().manual_seed(seed))


def test_every_model_has_a_typed_config_and_causal_lm_registered():
    assert {type(_build(n)) for n in CONFIGS} == set(hf.CAUSAL_LM_FOR)
    for causal_lm in hf.CAUSAL_LM_FOR.values():
        config_cls = causal_lm.config_class
        assert transformers.AutoConfig.for_model(config_cls.model_type).__class__ is config_cls
        assert type(transformers.AutoModelForCausalLM.from_config(config_cls())) is causal_lm
    types = {c.model_type for c in hf.HF_CONFIGS}
    assert types == {"prizma_seq", "prism", "prismlm_transformer", "prismlm_ssm"}


@models
def test_save_then_auto_load_gives_the_same_model(tmp_path, name):
    model = _build(name)
    hf.from_prismlm(model).save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    loaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert loaded.config.to_prismlm() == model.config
    for field, value in vars(model.config).items():  # every field recorded, not only non-defaults
        assert saved[hf.configuration.HF_NAME.get(field, field)] == to_jsonable(value)
    # buffers too: Hugging Face builds on the meta device, so derived buffers must be refilled
    original = dict(model.state_dict(keep_vars=False)) | dict(model.named_buffers())
    for key, tensor in list(loaded.lm.state_dict().items()) + list(loaded.lm.named_buffers()):
        assert torch.equal(tensor, original[key]), key
    ids = _tokens((2, 12))
    with torch.no_grad():
        assert torch.equal(loaded(ids).logits, model(ids))


def test_prism_expert_top_k_is_not_read_as_the_sampling_top_k(tmp_path):
    model = hf.from_prismlm(_build("prism_tape"))
    assert model.config.expert_top_k == 2 and model.config.to_prismlm().top_k == 2
    generation = transformers.GenerationConfig.from_model_config(model.config)
    assert generation.top_k != 2


def test_bad_config_values_name_the_field():
    with pytest.raises(ValueError, match="n_heads"):
        hf.PrizmaSeqHFConfig(d_model=30, n_heads=4)


@models
def test_cached_greedy_generate_equals_prismlm_generate(name):
    model = _build(name)
    ids = _tokens((2, 9), seed=1)
    out = hf.from_prismlm(model).generate(ids, max_new_tokens=8, do_sample=False, use_cache=True)
    assert torch.equal(out, model.generate(ids, max_new_tokens=8))


def _count_tokens(lm, monkeypatch):
    """Record the tokens per row each forward / prefill / step call processes."""
    calls = []
    for method in ("forward", "prefill", "_step"):
        original = getattr(lm, method)

        def counted(ids, *args, _original=original, _method=method, **kwargs):
            calls.append((_method, ids.shape[1] if ids.dim() == 2 else 1))
            return _original(ids, *args, **kwargs)

        monkeypatch.setattr(lm, method, counted)
    return calls


@models
def test_generate_prefills_once_then_feeds_one_token_per_step_at_any_context_length(name, monkeypatch):
    model = _build(name)
    hf_model = hf.from_prismlm(model)
    calls = _count_tokens(model, monkeypatch)
    new = 6
    for context in (4, 48):
        calls.clear()
        hf_model.generate(_tokens((1, context)), max_new_tokens=new, do_sample=False)
        assert calls == [("prefill", context)] + [("_step", 1)] * (new - 1)


@models
def test_loss_through_labels_is_the_trainer_objective(name):
    model = _build(name)
    hf_model = hf.from_prismlm(model).train()
    model.train()
    ids = _tokens((2, 16), seed=2)
    labels = ids.clone()
    labels[0, :5] = -100  # ignored positions, as a prompt mask would give
    loss = hf_model(ids, labels=labels).loss
    logits, aux = model(ids, return_aux=True)
    mask = (labels[:, 1:] != -100).float()
    expected = masked_cross_entropy(logits[:, :-1], labels[:, 1:].clamp_min(0), mask) + aux
    assert torch.allclose(loss, expected, atol=1e-6, rtol=1e-6)
    if name.startswith("prism"):
        assert aux.abs() > 0  # PRISM's load-balance / read-entropy terms are in the loss
    loss.backward()
    assert model.embed.weight.grad is not None


@models
def test_loglikelihood_of_a_continuation_from_forward_equals_stepping(name):
    """lm-evaluation-harness scores log p(continuation | context) from one forward on
    context + continuation; it must equal feeding the tokens one by one through `step`."""
    model = _build(name)
    hf_model = hf.from_prismlm(model)
    context, continuation = _tokens((1, 10), seed=3), _tokens((1, 5), seed=4)
    full = torch.cat([context, continuation], dim=1)
    with torch.no_grad():
        logp = torch.log_softmax(hf_model(full).logits.float(), -1)
        n = context.shape[1]
        scored = logp[0, n - 1 : -1].gather(-1, continuation[0, :, None])[:, 0]
        state, stepped = model.init_state(1), []
        for t in range(full.shape[1] - 1):
            logits, state = model.step(full[:, t], state)
            if t >= n - 1:
                stepped.append(torch.log_softmax(logits.float(), -1)[0, full[0, t + 1]])
    assert torch.allclose(scored, torch.stack(stepped), atol=ATOL)


@models
def test_forward_with_a_filled_cache_continues_the_state(name):
    model = _build(name)
    hf_model = hf.from_prismlm(model)
    ids = _tokens((2, 14), seed=5)
    with torch.no_grad():
        first = hf_model(ids[:, :8], use_cache=True)
        cache = first[hf.modeling.CACHE_KWARG]
        assert isinstance(cache, hf.PrismlmCache) and cache.get_seq_length() == 8
        rest = hf_model(ids[:, 8:], **{hf.modeling.CACHE_KWARG: cache}, use_cache=True).logits
        assert torch.allclose(rest, model(ids)[:, 8:], atol=ATOL)


def test_unsupported_inputs_fail_with_clear_errors():
    hf_model = hf.from_prismlm(_build("ssm"))
    ids = _tokens((2, 6))
    with pytest.raises(ValueError, match="padded"):
        hf_model(ids, attention_mask=torch.tensor([[1] * 6, [0] + [1] * 5]))
    with pytest.raises(ValueError, match="inputs_embeds"):
        hf_model(ids, inputs_embeds=torch.zeros(2, 6, 16))
    with pytest.raises(NotImplementedError, match="beam"):
        hf_model.generate(ids, max_new_tokens=3, num_beams=2, do_sample=False)
