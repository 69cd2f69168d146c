import dataclasses
import json

from prismlm.experiment.cache import cache_key, cached_run, record_path


@dataclasses.dataclass
class Cfg:
    lr: float = 1e-3
    width: int = 8


def _counting():
    calls = []

    def compute(key):
        calls.append(key)
        return {"value": len(calls)}

    return calls, compute


def test_identical_configs_are_computed_once(tmp_path):
    calls, compute = _counting()
    first = cached_run(tmp_path, {"model": Cfg(), "seed": 0}, compute)
    again = cached_run(tmp_path, {"model": Cfg(), "seed": 0}, compute)
    assert len(calls) == 1 and again["cached"] and again["value"] == first["value"]
    assert again["configs"]["model"] == {"config_class": "Cfg", "lr": 1e-3, "width": 8}


def test_any_changed_field_or_option_is_a_new_key_and_a_new_run(tmp_path):
    calls, compute = _counting()
    base = {"model": Cfg(), "seed": 0}
    variants = [{"model": Cfg(lr=2e-3), "seed": 0}, {"model": Cfg(width=9), "seed": 0},
                {"model": Cfg(), "seed": 1}]
    keys = {cache_key(base)} | {cache_key(v) for v in variants} | {cache_key(base, {"amp": True})}
    assert len(keys) == 5
    cached_run(tmp_path, base, compute)
    for v in variants:
        assert not cached_run(tmp_path, v, compute)["cached"]
    assert not cached_run(tmp_path, base, compute, options={"amp": True})["cached"]
    assert len(calls) == 5


def test_a_changed_code_default_changes_the_key():
    @dataclasses.dataclass
    class Cfg:  # same class name, another default: what editing the code does
        lr: float = 1e-3
        width: int = 16

    assert cache_key({"model": Cfg()}) != cache_key({"model": globals()["Cfg"]()})


def test_a_record_whose_stored_config_differs_is_recomputed(tmp_path):
    calls, compute = _counting()
    configs = {"model": Cfg()}
    rec = cached_run(tmp_path, configs, compute)
    path = record_path(tmp_path, rec["key"])
    tampered = json.loads(path.read_text())
    tampered["configs"]["model"]["lr"] = 5.0
    path.write_text(json.dumps(tampered))
    assert not cached_run(tmp_path, configs, compute)["cached"] and len(calls) == 2


def test_a_torn_record_is_recomputed_not_trusted(tmp_path):
    calls, compute = _counting()
    rec = cached_run(tmp_path, {"model": Cfg()}, compute)
    record_path(tmp_path, rec["key"]).write_text('{"key": ')
    assert not cached_run(tmp_path, {"model": Cfg()}, compute)["cached"] and len(calls) == 2
