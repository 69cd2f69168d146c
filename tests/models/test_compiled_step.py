"""`model.compile_step()`: the whole decode step as one graph, equal to the eager step.

The fast tests trace with a counting backend that runs the captured graph as is (no code
generation): one graph (fullgraph=True, so no graph break), no recompilation per token, and the
same logits and state as eager stepping. The slow test compiles with inductor for real.
"""

import copy

import pytest
import torch
from torch._dynamo.testing import CompileCounter

from prismlm.models import PrizmaSeqConfig, PrizmaSeqLM, TransformerLM, match_transformer

ATOL = 1e-5  # compiled vs eager: same maths, fused kernels reorder fp32 rounding
SMALL = PrizmaSeqConfig(vocab_size=64, d_model=32, n_layers=2, n_heads=2, feat_n2=16, window=4,
                        max_len=96)
# Graphs a long decode may need: Prizma's window slot 0 and slot > 0 (inductor's in-place pass
# tells them apart) and the window's not-yet-full branch; the Transformer needs one.
MAX_GRAPHS = {"prizma": 3, "transformer": 1}


def _models():
    torch.manual_seed(0)
    return {"prizma": PrizmaSeqLM(SMALL).eval(),
            "transformer": TransformerLM(match_transformer(SMALL, max_len=96)).eval()}


def _held(state):
    """The state's tensors; a KV cache's only up to its length (the rest is spare capacity)."""
    if hasattr(state, "caches"):
        return [t[:, :, : c.length] for c in state.caches for t in (c.k, c.v)]
    return state.tensors()


def _decode(step, model, tokens, prompt_len):
    logits, state = model.prefill(tokens[:, :prompt_len])
    out = [logits]
    for t in range(prompt_len, tokens.shape[1]):
        logits, returned = step(tokens[:, t], state)
        assert returned is state
        out.append(logits)
    return torch.stack(out, 1), state


@pytest.mark.parametrize("name", ["prizma", "transformer"])
def test_compiled_step_is_one_graph_equal_to_eager_without_a_recompile_per_token(name):
    model = _models()[name]
    tokens = torch.randint(0, 64, (2, 30), generator=torch.Generator().manual_seed(1))
    counter = CompileCounter()
    step = model.compile_step(backend=counter, fullgraph=True)
    with torch.no_grad():
        eager, eager_state = _decode(model.step, model, tokens, 2)
        compiled, compiled_state = _decode(step, model, tokens, 2)
        full = model(tokens)
    torch.testing.assert_close(compiled, eager, atol=ATOL, rtol=0)
    torch.testing.assert_close(compiled, full[:, 1:], atol=1e-4, rtol=0)
    for a, b in zip(_held(compiled_state), _held(eager_state), strict=True):
        torch.testing.assert_close(a, b, atol=ATOL, rtol=0)
    assert compiled_state.position == eager_state.position == 30
    assert 1 <= counter.frame_count <= MAX_GRAPHS[name]


def test_compiled_step_sees_a_parameter_update_and_validates_its_inputs():
    model = _models()["prizma"]
    step = model.compile_step(backend=CompileCounter())
    tokens = torch.randint(0, 64, (1, 8), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        _, state = model.prefill(tokens)
        step(tokens[:, -1], copy.deepcopy(state))
        model.blocks[0].mixer.out.weight.mul_(2.0)  # a tracked in-place edit, as an optimizer's
        compiled, _ = step(tokens[:, -1], copy.deepcopy(state))
        eager, _ = model.step(tokens[:, -1], copy.deepcopy(state))
    torch.testing.assert_close(compiled, eager, atol=ATOL, rtol=0)
    with pytest.raises(ValueError, match="batch size"):
        step(torch.zeros(2, dtype=torch.long), state)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        step(torch.tensor([64]), state)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["prizma", "transformer"])
def test_inductor_compiled_step_equals_eager_step(name):
    model = _models()[name]
    tokens = torch.randint(0, 64, (2, 14), generator=torch.Generator().manual_seed(3))
    step = model.compile_step()
    with torch.no_grad():
        eager, _ = _decode(model.step, model, tokens, 6)
        compiled, _ = _decode(step, model, tokens, 6)
    torch.testing.assert_close(compiled, eager, atol=ATOL, rtol=0)
