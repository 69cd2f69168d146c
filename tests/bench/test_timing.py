import time

import pytest

from prismlm.bench.timing import environment, time_call


def test_time_call_runs_warmup_plus_repeats_and_reports_each_run():
    calls = []
    stats = time_call(lambda: calls.append(1), repeats=4, warmup=2)
    assert len(calls) == 6 and len(stats["runs_s"]) == 4
    assert stats["min_s"] <= stats["median_s"] <= max(stats["runs_s"])


def test_the_timed_region_covers_fn_and_excludes_setup():
    stats = time_call(lambda _: time.sleep(0.02), repeats=2, warmup=0, setup=lambda: time.sleep(0.3))
    assert 0.02 <= stats["min_s"] < 0.3


def test_setup_output_is_what_fn_receives():
    seen = []
    time_call(seen.append, repeats=2, warmup=1, setup=lambda: len(seen))
    assert seen == [0, 1, 2]


def test_bad_repeat_counts_are_rejected():
    with pytest.raises(ValueError, match="repeats"):
        time_call(lambda: None, repeats=0)


def test_environment_records_threads_and_load():
    env = environment(threads=3)
    assert env["threads"] == 3 and len(env["load_average"]) == 3 and env["torch"]
