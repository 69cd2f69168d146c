"""PrismConfig.expert_types and modular assembly: which experts each block has, and that assembly
copies every expert of every block (the last included) from the source of its kind."""

import pytest
import torch

from prismlm.data import build_task
from prismlm.models import PrismConfig, PrismLM
from prismlm.models.prism import EXPERT_KINDS
from prismlm.train import TrainConfig, train
from prismlm.train.modular import assemble, expert_of, freeze_experts, modular_config

BASE = PrismConfig(vocab_size=16, d_model=16, n_layers=3, d_mem=8, num_slots=4, top_k=2)


@pytest.mark.parametrize("kind", EXPERT_KINDS)
def test_a_single_kind_model_has_that_kind_in_every_block_and_routes_top_1(kind):
    cfg = modular_config(BASE, kind)
    assert cfg.expert_types == (kind,) and cfg.top_k == 1
    model = PrismLM(cfg)
    assert [blk.kinds for blk in model.blocks] == [(kind,)] * cfg.n_layers  # memory keeps the last block
    logits, aux = model(torch.randint(0, 16, (2, 7)), return_aux=True)
    assert logits.shape == (2, 7, 16) and torch.isfinite(aux)


def test_the_last_block_drops_memory_only_when_another_kind_remains():
    cfg = PrismConfig(vocab_size=16, d_model=16, n_layers=2, expert_types=("memory", "neural"))
    assert [cfg.block_kinds(i) for i in range(2)] == [("neural", "memory"), ("neural",)]


def test_expert_types_are_stored_in_canonical_order_and_survive_a_json_round_trip(tmp_path):
    cfg = PrismConfig(vocab_size=16, d_model=16, n_layers=2, expert_types=["symbolic", "neural"])
    assert cfg.expert_types == ("neural", "symbolic")
    path = PrismLM(cfg).save_pretrained(tmp_path / "m")
    assert PrismLM.from_pretrained(path).config == cfg


@pytest.mark.parametrize(
    "kw, field",
    [
        ({"expert_types": ()}, "expert_types"),
        ({"expert_types": ("neural", "neural")}, "expert_types"),
        ({"expert_types": ("attention",)}, "expert_types"),
        ({"expert_types": "neural"}, "expert_types"),
        ({"expert_types": ("neural",), "top_k": 2}, "top_k"),
    ],
)
def test_bad_expert_types_name_the_field(kw, field):
    with pytest.raises(ValueError, match=f"'{field}'"):
        PrismConfig(vocab_size=16, d_model=16, **kw)


def _sources(seed: int = 0) -> dict[str, PrismLM]:
    out = {}
    for i, kind in enumerate(EXPERT_KINDS):
        torch.manual_seed(seed + i)
        out[kind] = PrismLM(modular_config(BASE, kind))
    return out


def test_assembly_copies_every_expert_of_every_block_from_its_source_by_kind():
    sources = _sources()
    model = assemble(BASE, sources)
    assert model.blocks[-1].kinds == ("neural", "symbolic")  # symbolic at index 1 in the last block
    checked = 0
    for b, blk in enumerate(model.blocks):
        for kind in blk.kinds:
            got, want = expert_of(model, b, kind).state_dict(), expert_of(sources[kind], b, kind).state_dict()
            assert got.keys() == want.keys()
            for name in got:
                assert torch.equal(got[name], want[name]), (b, kind, name)
            checked += 1
    assert checked == 3 + 3 + 2  # two full blocks and the memory-less last block


def _same(m1, m2) -> bool:
    pairs = zip(m1.state_dict().values(), m2.state_dict().values(), strict=True)
    return all(torch.equal(x, y) for x, y in pairs)


def test_assembly_leaves_a_kind_without_a_source_at_init_and_refuses_mismatched_shapes():
    neural = _sources()["neural"]
    torch.manual_seed(5)
    fresh = PrismLM(BASE)
    torch.manual_seed(5)
    model = assemble(BASE, {"neural": neural})
    for b in range(BASE.n_layers):
        assert _same(expert_of(model, b, "neural"), expert_of(neural, b, "neural"))
        assert not _same(expert_of(model, b, "neural"), expert_of(fresh, b, "neural"))
        assert _same(expert_of(model, b, "symbolic"), expert_of(fresh, b, "symbolic"))
    wide = PrismLM(modular_config(PrismConfig(vocab_size=16, d_model=32, n_layers=3, d_mem=8, num_slots=4),
                                  "neural"))
    with pytest.raises(ValueError, match="'d_model'"):
        assemble(BASE, {"neural": wide})


def test_frozen_experts_stay_bit_identical_while_the_rest_trains():
    task = build_task({"name": "copy", "vocab_size": 16, "length": 4})
    model = assemble(BASE, _sources())
    frozen = set(freeze_experts(model))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train(model, task, TrainConfig(steps=3, batch_size=4, eval_every=3, eval_batches=1, warmup=0,
                                   device="cpu", plateau_patience=0))
    after = model.state_dict()
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    assert not torch.equal(before["embed.weight"], after["embed.weight"])
    assert any(not torch.equal(before[k], after[k]) for k in after if ".router." in k)
