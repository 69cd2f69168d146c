import pytest

from prismlm.experiment.sweep import validate_cells
from prismlm.reproduce.prizma_seq import recall as legs_recall
from prismlm.reproduce.prizma_seq.scales import DEFAULT_SEEDS, SCALE_NAMES


class _Planned(Exception):
    pass


def _validate_only(cells, *args, **kwargs):
    validate_cells(cells)
    raise _Planned(len(cells))


@pytest.mark.parametrize("scale", SCALE_NAMES)
@pytest.mark.parametrize("leg", ["leg_mqar", "leg_ablation", "leg_induction", "leg_selcopy", "leg_lengen"])
def test_every_recall_leg_config_is_valid_at_every_scale(monkeypatch, tmp_path, scale, leg):
    """Builds every task, train config and model of the leg (models on the meta device)."""
    monkeypatch.setattr(legs_recall, "run_sweep", _validate_only)
    with pytest.raises(_Planned):
        getattr(legs_recall, leg)(scale, DEFAULT_SEEDS[scale], tmp_path)
