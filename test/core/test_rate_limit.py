"""The token bucket behind the policy's one-command-per-tick rule."""

import pytest

from dodge_lstm.core.rate_limit import TokenBucket

MS = 1_000_000


def test_a_flood_gets_two_commands_in_its_first_100_ms_then_one_per_period():
    bucket = TokenBucket(10.0)
    allowed = [t for t in range(0, 100 * MS, MS) if bucket.allow(t)]  # 100 windows in 100 ms
    assert len(allowed) == 2
    later = [t for t in range(100 * MS, 10_100 * MS, MS) if bucket.allow(t)]  # 10 s of flood
    assert 99 <= len(later) <= 101  # 10 Hz, not 1 kHz


def test_regular_windows_with_jitter_all_pass():
    """10 Hz windows arriving up to 40 ms early or late (a loaded machine): none is held."""
    bucket = TokenBucket(10.0)
    jitter = [0, 40, -40, 30, -30, 0, 40, -40] * 25
    times = [k * 100 * MS + j * MS for k, j in enumerate(jitter)]
    assert all(bucket.allow(t) for t in times)


def test_time_going_back_refills():
    bucket = TokenBucket(10.0)
    assert bucket.allow(5_000 * MS) and bucket.allow(5_001 * MS)  # the burst of two
    assert not bucket.allow(5_002 * MS)
    assert bucket.allow(0)  # a simulator restart: sim time starts over


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1.5), (10.0, 0.5)])
def test_bad_settings_are_refused(rate, burst):
    with pytest.raises(ValueError):
        TokenBucket(rate, burst)
