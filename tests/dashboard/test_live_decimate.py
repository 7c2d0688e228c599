"""Bounded points per line: min/max buckets keep the envelope, stay put while bars stream, and the cache changes nothing."""

from __future__ import annotations

import numpy as np
import pytest

from quantkit.analytics.decimation import DecimationCache, plan_decimation


@pytest.mark.parametrize(("n", "origin", "max_points"), [(20_000, 0, 2_000), (20_000, 123_457, 5_000), (1_500, 9, 2_000),
                                                         (100_000, 3, 2_000)])
def test_points_are_bounded_and_the_envelope_is_kept(n: int, origin: int, max_points: int) -> None:
    """At most max_points per line, times increasing, every column's min and max preserved, recent bars exact."""
    rng = np.random.default_rng(n)
    t = np.arange(n, dtype=np.int64) * 1000
    cols = rng.normal(size=(n, 3)).cumsum(axis=0)
    plan = plan_decimation(n, origin, max_points)
    tt, vv = plan.lines(t, cols)
    assert len(tt) == len(vv) == plan.points <= max_points
    assert (np.diff(tt) >= 0).all()
    np.testing.assert_array_equal(vv.max(axis=0), cols.max(axis=0))
    np.testing.assert_array_equal(vv.min(axis=0), cols.min(axis=0))
    np.testing.assert_array_equal(vv[-(n - plan.split) :], cols[plan.split :])


def test_older_buckets_do_not_move_as_bars_stream() -> None:
    """Shifting the window by one bar leaves the aligned bucket starts (in global bar numbers) unchanged."""
    a = plan_decimation(20_000, 1_000, 2_000)
    b = plan_decimation(20_000, 1_001, 2_000)
    assert a.size == b.size
    common = np.intersect1d(a.starts[1:] + 1_000, b.starts[1:] + 1_001)
    assert len(common) >= len(a.starts) - 2


def test_cache_gives_the_same_points_as_a_full_recompute() -> None:
    """Streaming through a bounded ring with the cache equals decimating from scratch at every step."""
    rng = np.random.default_rng(7)
    total, cap = 30_000, 8_000
    t_all = np.arange(total, dtype=np.int64) * 1000
    v_all = rng.normal(size=(total, 4)).cumsum(axis=0)
    cache = DecimationCache()
    for seen in list(range(50, 12_000, 53)) + list(range(12_000, total, 911)):
        origin = max(0, seen - cap)
        t, v = t_all[origin:seen], v_all[origin:seen]
        ref = plan_decimation(len(t), origin, 1_500).lines(t, v)
        got = cache.lines(t, lambda lo, hi: v[lo:hi], origin, 1_500)
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])
