"""grow(): the grown model computes the small model's logits, and its new entries all learn."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from prismlm.models import (
    PrismConfig,
    PrismLM,
    PrizmaSeqConfig,
    PrizmaSeqLM,
    TransformerConfig,
    TransformerLM,
)
from prismlm.models.grow import FUNCTION_ATOL, grow, new_parameter_masks
from prismlm.models.grow_prism import CLOSED_ROUTE

V = 40
SMALL = {
    "prism_tape": PrismConfig(vocab_size=V, d_model=16, n_layers=2, d_mem=8, num_slots=4),
    "prism_holo": PrismConfig(vocab_size=V, d_model=16, n_layers=2, d_mem=8, num_slots=4, memory_kind="holo"),
    "transformer": TransformerConfig(vocab_size=V, d_model=16, n_layers=2, n_heads=2),
    "prizma_seq": PrizmaSeqConfig(
        vocab_size=V, d_model=16, n_layers=2, n_heads=2, feat_n2=8, window=4, gated=True,
        learned_pos=True, max_len=33,
    ),
}
# (d_model, n_layers, n_heads) per kind of growth; PrismLM widens by integer factors.
GROWTHS = {
    "width": {"prism": (32, 2), "seq": (24, 2, 3)},
    "depth": {"prism": (16, 4), "seq": (16, 4, 2)},
    "both": {"prism": (48, 3), "seq": (32, 3, 4)},
}


def _big(name: str, growth: str, small=None):
    small = small or SMALL[name]
    if name.startswith("prism"):
        d, n_layers = GROWTHS[growth]["prism"]
        return dataclasses.replace(small, d_model=d, n_layers=n_layers)
    d, n_layers, heads = GROWTHS[growth]["seq"]
    return dataclasses.replace(small, d_model=d, n_layers=n_layers, n_heads=heads)


def _trained_like(name: str, config=None):
    """A small model whose every parameter (gains and biases included) is off its init."""
    torch.manual_seed(0)
    model = {"prism_tape": PrismLM, "prism_holo": PrismLM, "transformer": TransformerLM,
             "prizma_seq": PrizmaSeqLM}[name](config or SMALL[name])
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model.eval()


IDS = torch.randint(0, V, (3, 33), generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("growth", list(GROWTHS))
@pytest.mark.parametrize("name", list(SMALL))
def test_grown_model_computes_the_same_logits(name, growth):
    small = _trained_like(name)
    big = grow(small, _big(name, growth)).eval()
    assert big.num_parameters() > small.num_parameters()
    with torch.no_grad():
        before, after = small(IDS), big(IDS)
    assert before.abs().max() > 0.1  # a non-trivial function
    torch.testing.assert_close(after, before, atol=FUNCTION_ATOL, rtol=0)
    # and decoding the grown model still reproduces its own forward pass
    with torch.no_grad():
        state = big.init_state(IDS.shape[0])
        step = [big.step(IDS[:, t], state)[0] for t in range(4)]
    torch.testing.assert_close(torch.stack(step, 1), after[:, :4], atol=FUNCTION_ATOL, rtol=0)


def _grads_after_one_step(big):
    opt = torch.optim.AdamW(big.parameters(), lr=1e-2)
    big.train()
    for i in range(2):
        opt.zero_grad()
        logits, aux = big(IDS, return_aux=True)  # every position (and learned position) scored
        (F.cross_entropy(logits.flatten(0, 1), IDS.roll(-1, 1).flatten()) + aux).backward()
        if i == 0:
            opt.step()
    return {n: p.grad for n, p in big.named_parameters()}


@pytest.mark.parametrize("name", list(SMALL))
def test_every_new_entry_has_a_gradient_after_one_step(name):
    # PRISM at top-2 of its kinds: an expert the router starves gets no gradient whatever grow
    # did, so both unclosed experts of every block are evaluated on every token here.
    base = dataclasses.replace(SMALL[name], top_k=2) if name.startswith("prism") else SMALL[name]
    small, cfg = _trained_like(name, base), _big(name, "both", base)
    big = grow(small, cfg)
    masks = new_parameter_masks(small, cfg)
    assert sum(int(m.sum()) for m in masks.values()) > 0
    grads = _grads_after_one_step(big)
    inserted = [j for j in range(cfg.n_layers) if j not in (0, cfg.n_layers - 1)]
    closed = tuple(f"blocks.{j}.experts.1." for j in inserted) if name.startswith("prism") else ()
    for pname, mask in masks.items():
        if not mask.any():
            continue
        if pname.startswith(closed):  # the stated exception: an inserted block's memory expert
            continue
        assert grads[pname] is not None, pname
        live = grads[pname][mask] != 0
        if ".w_arg." in pname:  # a symbolic argument learns only from tokens whose primitive uses it
            assert live.any(), pname
            continue
        dead = (~live).sum()
        assert dead == 0, f"{pname}: {int(dead)} of {int(mask.sum())} new entries have zero gradient"
    for j in inserted if closed else ():  # its route is closed but learnable
        memory = big.blocks[j].kinds.index("memory")
        assert big.blocks[j].router.proj.bias[memory] < -CLOSED_ROUTE / 2
        assert grads[f"blocks.{j}.router.proj.bias"][memory] != 0


def test_grow_refuses_what_it_cannot_preserve():
    small = _trained_like("transformer")
    with pytest.raises(ValueError, match="n_heads"):
        grow(small, dataclasses.replace(SMALL["transformer"], d_model=32))  # head_dim 8 -> 16
    with pytest.raises(ValueError, match="vocab_size"):
        grow(small, dataclasses.replace(SMALL["transformer"], vocab_size=V + 1))
    with pytest.raises(ValueError, match="n_layers"):
        grow(small, dataclasses.replace(SMALL["transformer"], n_layers=1))
    with pytest.raises(ValueError, match="d_model"):
        grow(_trained_like("prism_tape"), dataclasses.replace(SMALL["prism_tape"], d_model=24))
    with pytest.raises(ValueError, match="d_mem"):
        grow(_trained_like("prism_holo"), dataclasses.replace(SMALL["prism_holo"], d_mem=16))
    with pytest.raises(TypeError):
        grow(small, SMALL["prism_tape"])


def test_grow_leaves_the_small_model_and_the_global_rng_alone():
    small = _trained_like("prizma_seq")
    before = {n: p.clone() for n, p in small.state_dict().items()}
    rng = torch.get_rng_state()
    grow(small, _big("prizma_seq", "both"))
    assert torch.equal(rng, torch.get_rng_state())
    for n, p in small.state_dict().items():
        assert torch.equal(p, before[n]), n
