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
