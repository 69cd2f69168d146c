"""Decode weights never go stale: step equals forward after any parameter edit, and models
built under inference mode can decode."""

import pytest
import torch
from torch import nn

from prismlm.layers.decode_weights import decode_weights, reuse_decode_weights
from prismlm.models.prizma_seq import PrizmaSeqConfig, PrizmaSeqLM
from prismlm.models.transformer import TransformerConfig, TransformerLM

SMALL = dict(vocab_size=32, d_model=32, n_layers=2, n_heads=2)
MODELS = {
    "prizma": lambda: PrizmaSeqLM(PrizmaSeqConfig(**SMALL, feat_n2=32, gated=True)),
    "transformer": lambda: TransformerLM(TransformerConfig(**SMALL)),
}
TOKENS = torch.randint(0, 32, (2, 12), generator=torch.Generator().manual_seed(0))


def step_vs_forward(model) -> float:
    """max |step logits − forward logits| over a short sequence."""
    with torch.no_grad():
        full = model(TOKENS)
        state, steps = model.init_state(TOKENS.shape[0]), []
        for t in range(TOKENS.shape[1]):
            logits, state = model.step(TOKENS[:, t], state)
            steps.append(logits)
    return (torch.stack(steps, 1) - full).abs().max().item()


def decode_some(model):
    state = model.init_state(TOKENS.shape[0])
    for t in range(3):
        _, state = model.step(TOKENS[:, t], state)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("session", [False, True])
def test_step_follows_edits_made_through_dot_data(name, session):
    torch.manual_seed(0)
    model = MODELS[name]().eval()
    with torch.no_grad():
        decode_some(model)  # whatever a cache would hold is now built
    for p in model.parameters():
        p.data.mul_(3)  # bumps no version counter
    if session:  # a session started after the edit sees the new weights
        with reuse_decode_weights():
            assert step_vs_forward(model) < 1e-4
    else:
        assert step_vs_forward(model) < 1e-4


@pytest.mark.parametrize("name", MODELS)
def test_inside_a_session_tracked_edits_still_rebuild(name):
    torch.manual_seed(0)
    model = MODELS[name]().eval()
    with reuse_decode_weights():
        decode_some(model)
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(3)  # what an optimizer step does: the version counter moves
        assert step_vs_forward(model) < 1e-4


@pytest.mark.parametrize("name", MODELS)
def test_a_model_built_under_inference_mode_generates(name):
    with torch.inference_mode():
        torch.manual_seed(0)
        model = MODELS[name]().eval()
        with reuse_decode_weights():
            greedy = model.generate(TOKENS[:, :4], max_new_tokens=5)
        assert torch.equal(model.generate(TOKENS[:, :4], max_new_tokens=5), greedy)
        assert step_vs_forward(model) < 1e-4


def test_weights_are_built_once_per_session_and_dropped_after():
    layer, builds = nn.Linear(4, 4), []

    def build():
        builds.append(1)
        return {"t": layer.weight.t().contiguous()}

    with reuse_decode_weights():
        first = decode_weights(layer, build)
        with reuse_decode_weights():  # nested: the same session
            assert decode_weights(layer, build) is first
        assert len(builds) == 1
        layer.weight = nn.Parameter(torch.randn(4, 4))  # replaced: new storage
        assert torch.equal(decode_weights(layer, build)["t"], layer.weight.t())
    assert len(builds) == 2
    decode_weights(layer, build)
    decode_weights(layer, build)
    assert len(builds) == 4  # no session: built on every call
    assert not decode_weights(layer, build)["t"].requires_grad


@pytest.mark.parametrize("name", MODELS)
def test_parameter_key_walks_the_same_parameters_as_module_parameters(name):
    from prismlm.layers.decode_weights import parameter_key

    model = MODELS[name]()
    for module in model.modules():
        expected = tuple((p.data_ptr(), p._version) for p in module.parameters())
        assert parameter_key(module) == expected


@pytest.mark.parametrize("session", [False, True])
@pytest.mark.parametrize("kernel", [1, 2, 4])
def test_short_conv_step_equals_its_forward_with_or_without_given_taps(session, kernel):
    from contextlib import nullcontext

    from prismlm.layers.short_conv import ShortConv

    torch.manual_seed(0)
    conv = ShortConv(8, kernel)
    x = torch.randn(3, 9, 8)
    with torch.no_grad():
        full = conv(x)
        for taps in (None, conv.decode_taps()):
            ring, outs = conv.init_ring(3, 8, None, torch.float32), []
            with reuse_decode_weights() if session else nullcontext():
                for t in range(x.shape[1]):
                    y, ring = conv.step(x[:, t], ring, taps)
                    outs.append(y)
            torch.testing.assert_close(torch.stack(outs, 1), full)
