import pytest

from prismlm.experiment.sweep import validate_cells
from prismlm.reproduce.prizma_seq.recall import RECALL_LEGS
from prismlm.reproduce.prizma_seq.scales import DEFAULT_SEEDS, SCALE_NAMES, SCALES


@pytest.mark.parametrize("scale", SCALE_NAMES)
@pytest.mark.parametrize("leg", sorted(RECALL_LEGS))
def test_every_recall_leg_config_is_valid_at_every_scale(scale, leg):
    """Builds every task, train config and model of the leg (models on the meta device)."""
    spec = RECALL_LEGS[leg]
    cells = spec.cells(SCALES[scale][spec.spec], DEFAULT_SEEDS[scale])
    assert {c.seed for c in cells} == set(DEFAULT_SEEDS[scale])
    validate_cells(cells)


@pytest.mark.parametrize("scale", SCALE_NAMES)
def test_every_scale_sizes_every_leg(scale):
    assert {"mqar", "induction", "selcopy", "charlm", "latency", "lengen"} <= set(SCALES[scale])
    assert len(DEFAULT_SEEDS[scale]) >= 2  # a t-interval needs two seeds


@pytest.mark.parametrize("leg", ["mqar", "induction", "selcopy", "lengen"])
def test_paper_recall_legs_train_with_the_one_gen_warm_recipe(leg):
    from prismlm.reproduce.prizma_seq.scales import gen_warm

    train = SCALES["paper"][leg]["train"]
    assert train == gen_warm(train["steps"])


@pytest.mark.parametrize("scale", SCALE_NAMES)
def test_every_scale_sizes_a_valid_separation_ladder(scale):
    """The separation ladder's cells (every rung, seed and width) build at every scale."""
    from prismlm.reproduce.prizma_seq.separation import blocks

    spec = SCALES[scale]["separation"]
    assert spec["pairs"] == sorted(spec["pairs"]) and 0 <= spec["width_rung"] < len(spec["pairs"])
    validate_cells([c for b in blocks(spec, [0, 1, 2]) for c in b["cells"]])


def test_a_separation_ladder_rejects_an_unknown_field():
    from prismlm.reproduce.prizma_seq.scales import separation_ladder

    with pytest.raises(TypeError, match="gaps"):
        separation_ladder(dict(d_model=16, n_layers=1, n_heads=2), 8, [2], {}, gaps=3)
