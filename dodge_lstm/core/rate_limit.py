"""A token bucket: at most `rate_hz` events per second in the long run, small bursts allowed.

The policy node answers each window at once (no latency from a timer's phase), but whatever
arrives on `dodge/window` (a flood, a replayed bag, garbage) it must not command the robot
faster than its control rate. A bucket of `burst` tokens refilled at `rate_hz` does both: a
window that comes a little early after a late one still passes, a flood gets `burst` commands
and then one per period. Time is whatever clock the caller runs on (sim time in a lockstep
graph), in nanoseconds; a clock that jumps back (a simulator restart) refills the bucket.
"""

from __future__ import annotations


class TokenBucket:
    """`allow(now_ns)` is True at most `burst` times at once and `rate_hz` per second after."""

    def __init__(self, rate_hz: float, burst: float = 2.0) -> None:
        if not rate_hz > 0:
            raise ValueError(f"rate_hz must be > 0, got {rate_hz}")
        if not burst >= 1.0:
            raise ValueError(f"burst must be >= 1 (one event), got {burst}")
        self.rate_per_ns = rate_hz * 1e-9
        self.burst = float(burst)
        self.tokens = self.burst
        self.last_ns: int | None = None

    def allow(self, now_ns: int) -> bool:
        """Take a token if one is there (refilled for the time since the last call)."""
        if self.last_ns is not None and now_ns >= self.last_ns:
            self.tokens = min(self.burst,
                              self.tokens + (now_ns - self.last_ns) * self.rate_per_ns)
        elif self.last_ns is not None:  # time went backwards: start over
            self.tokens = self.burst
        self.last_ns = now_ns
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
