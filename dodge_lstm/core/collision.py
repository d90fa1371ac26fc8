"""Continuous (swept) disc-disc collision.

At 5 m/s a ball moves 0.5 m per 10 Hz tick, more than its own diameter, so testing overlap only
at ticks misses hits. Within one (sub)step both bodies move on straight lines, so their relative
position moves on a segment and the closest approach on that segment is exact.
"""

from __future__ import annotations

import numpy as np


def segment_min_distance_sq(p0: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Smallest squared norm of `p0 + s * d` for s in [0, 1] (vectorized over leading axes).

    `p0` is the relative position at the start of the step and `d` the relative displacement
    over it, both `[..., 2]`.
    """
    dd = np.einsum("...i,...i->...", d, d)
    pd = np.einsum("...i,...i->...", p0, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(dd > 0.0, -pd / dd, 0.0)
    s = np.clip(s, 0.0, 1.0)
    closest = p0 + s[..., None] * d
    return np.einsum("...i,...i->...", closest, closest)


def swept_hit(p0: np.ndarray, d: np.ndarray, contact_distance: float) -> np.ndarray:
    """True where the bodies come strictly closer than `contact_distance` during the step.

    Touching exactly (a tangent pass) is not a hit.
    """
    return segment_min_distance_sq(p0, d) < contact_distance * contact_distance


def line_miss_distance(p: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Closest future distance to the origin of a point at `p` moving with constant `v`.

    Used for the threat label: would the ball hit a robot that stays where it is?
    """
    vv = np.einsum("...i,...i->...", v, v)
    pv = np.einsum("...i,...i->...", p, v)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(vv > 0.0, -pv / vv, 0.0)
    t = np.maximum(t, 0.0)
    closest = p + t[..., None] * v
    return np.sqrt(np.einsum("...i,...i->...", closest, closest))
