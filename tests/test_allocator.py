"""The allocator setting a benchmark records is the one in force in the process."""

from prismlm import allocator


def test_the_recorded_setting_follows_whether_keep_freed_memory_took_effect(monkeypatch):
    monkeypatch.setattr(allocator, "_applied", False)
    assert allocator.setting() == "default"
    took = allocator.keep_freed_memory()
    assert allocator.setting() == ("glibc keeps freed memory" if took else "default")
