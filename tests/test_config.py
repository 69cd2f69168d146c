from dataclasses import dataclass

import pytest

from prismlm.config import config_from_dict, config_to_dict, fingerprint, require


@dataclass
class _Cfg:
    width: int = 4
    name: str = "a"


def test_fingerprint_changes_with_any_field():
    assert fingerprint(_Cfg()) == fingerprint(_Cfg())
    assert fingerprint(_Cfg()) != fingerprint(_Cfg(width=5))
    assert fingerprint(_Cfg()) != fingerprint(_Cfg(name="b"))


def test_config_round_trip_and_unknown_field():
    cfg = _Cfg(width=7)
    assert config_from_dict(_Cfg, config_to_dict(cfg)) == cfg
    with pytest.raises(ValueError, match="unknown fields"):
        config_from_dict(_Cfg, {"width": 1, "depth": 2})


def test_require_names_the_field():
    with pytest.raises(ValueError, match="'width'"):
        require(False, "width", "must be positive")
