"""What a ball detector reports, instead of the simulator's exact state (issue 16).

A robot sees ball centres, not velocities or names: a lidar clusterer or a depth camera gives
positions in its own frame, with noise (growing with range), late (processing latency), some
balls missed and some clutter reported as balls, only inside its field of view and range.
`Sensor` turns the arena's true state into exactly that, seeded and vectorized over arenas like
the arena itself; `core.tracking` turns it back into ball states a policy can use.

Presets: `truth` (no sensor model: policies read the simulator's state, as before) and
`realistic` (5 cm, 0.1 s, 10% misses, 0.05 false detections per tick, 360°, 8 m). Every knob can
be overridden (`SensorConfig.with_overrides`).
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from dodge_lstm.core.features import to_robot_frame, to_world_frame

MAX_FALSE_PER_TICK = 4
"""False detections per arena and tick are Poisson(`false_rate`), capped here (at 0.05 per tick
the cap is reached once in ~10^9 ticks)."""


@dataclass(frozen=True)
class SensorConfig:
    """The detector's error model; the defaults are a perfect detector (`truth`)."""

    noise_std: float = 0.0
    """Gaussian position noise per axis at the robot [m]."""
    noise_per_m: float = 0.0
    """Extra noise per metre of range [m/m]: sigma = noise_std + noise_per_m * range."""
    latency: float = 0.0
    """Capture-to-report delay [s], rounded to whole control periods."""
    miss: float = 0.0
    """Probability that a ball in view is not reported in a tick."""
    false_rate: float = 0.0
    """Mean false detections per tick (uniform over the area in view)."""
    fov: float = 360.0
    """Field of view [deg], centred on the robot's heading."""
    range: float = math.inf
    """Largest distance at which a ball is detected [m]."""

    def __post_init__(self) -> None:
        checks = (
            ("noise_std", self.noise_std >= 0.0, ">= 0"),
            ("noise_per_m", self.noise_per_m >= 0.0, ">= 0"),
            ("latency", self.latency >= 0.0, ">= 0"),
            ("miss", 0.0 <= self.miss < 1.0, "in [0, 1)"),
            ("false_rate", self.false_rate >= 0.0, ">= 0"),
            ("fov", 0.0 < self.fov <= 360.0, "in (0, 360]"),
            ("range", self.range > 0.0, "> 0"),
        )
        for name, ok, what in checks:
            value = getattr(self, name)
            if not ok or (name != "range" and not math.isfinite(value)):
                raise ValueError(f"sensing {name} must be {what}, got {value}")

    def validate(self) -> SensorConfig:
        """Self (the knobs are checked at construction); for `ros.parameters.declare_config`."""
        return self

    @property
    def is_truth(self) -> bool:
        """A perfect detector: policies read the simulator's state directly."""
        return self == SensorConfig()

    def with_overrides(self, **overrides: float | None) -> SensorConfig:
        """This config with the given knobs replaced (None: keep)."""
        return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})


PRESETS: dict[str, SensorConfig] = {
    "truth": SensorConfig(),
    "realistic": SensorConfig(noise_std=0.05, latency=0.1, miss=0.1, false_rate=0.05,
                              fov=360.0, range=8.0),
}


def sensing_label(cfg: SensorConfig) -> str:
    """The preset's name, or the knobs that differ from a perfect detector."""
    for name, preset in PRESETS.items():
        if cfg == preset:
            return name
    return ", ".join(f"{f.name}={getattr(cfg, f.name):g}" for f in dataclasses.fields(cfg)
                     if getattr(cfg, f.name) != getattr(SensorConfig(), f.name))


def sensor_config(preset: str, **overrides: float | None) -> SensorConfig:
    """A preset with knobs overridden; ValueError naming the presets for an unknown one."""
    if preset not in PRESETS:
        raise ValueError(f"sensing must be one of {', '.join(PRESETS)}, got {preset!r}")
    return PRESETS[preset].with_overrides(**overrides)


@dataclass
class Detections:
    """One tick's reports for B arenas, as captured `delay` ticks ago.

    `pos` `[B, D, 2]` in the robot frame at capture, `mask` `[B, D]`; `robot_pos` `[B, 2]` and
    `robot_yaw` `[B]` are the robot's pose at capture (odometry, assumed exact), `tick` the
    capture tick."""

    pos: np.ndarray
    mask: np.ndarray
    robot_pos: np.ndarray
    robot_yaw: np.ndarray
    tick: int

    def world(self) -> np.ndarray:
        """Detections in the world frame `[B, D, 2]` (rotated and moved by the capture pose)."""
        return to_world_frame(self.pos, self.robot_yaw) + self.robot_pos[:, None, :]


class Sensor:
    """Captures detections from the true state each tick and reports them `latency` later."""

    def __init__(self, batch: int, cfg: SensorConfig, dt: float, seed: int = 0) -> None:
        self.cfg = cfg
        self.batch = batch
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5E45]))
        self.delay = round(cfg.latency / dt)
        self._queue: deque[Detections] = deque()

    def capture(self, tick: int, robot_pos: np.ndarray, robot_yaw: np.ndarray,
                ball_pos: np.ndarray, alive: np.ndarray) -> Detections:
        """What the detector sees now: `[B, M]` balls in, `[B, M + MAX_FALSE_PER_TICK]` out."""
        cfg, rng = self.cfg, self.rng
        rel = to_robot_frame(ball_pos - robot_pos[:, None, :], robot_yaw)
        dist = np.hypot(rel[..., 0], rel[..., 1])
        seen = alive & (dist <= cfg.range) & self._in_fov(rel)
        seen &= rng.random(seen.shape) >= cfg.miss
        sigma = cfg.noise_std + cfg.noise_per_m * dist
        pos = rel + rng.standard_normal(rel.shape) * sigma[..., None]
        false_n = np.minimum(rng.poisson(cfg.false_rate, self.batch), MAX_FALSE_PER_TICK)
        false_mask = np.arange(MAX_FALSE_PER_TICK)[None, :] < false_n[:, None]
        false_pos = self._uniform_in_view((self.batch, MAX_FALSE_PER_TICK))
        return Detections(np.concatenate([pos, false_pos], axis=1),
                          np.concatenate([seen, false_mask], axis=1),
                          robot_pos.copy(), robot_yaw.copy(), tick)

    def step(self, tick: int, robot_pos: np.ndarray, robot_yaw: np.ndarray,
             ball_pos: np.ndarray, alive: np.ndarray) -> Detections | None:
        """Capture now; return the capture `delay` ticks old (None while the pipe fills)."""
        self._queue.append(self.capture(tick, robot_pos, robot_yaw, ball_pos, alive))
        if len(self._queue) <= self.delay:
            return None
        return self._queue.popleft()

    def clear(self) -> None:
        """Empty the latency pipe (a restart: reports resume `latency` after the next capture)."""
        self._queue.clear()

    def reset_rows(self, rows: np.ndarray) -> None:
        """Arenas `rows` restarted: their captures still in the latency pipe report nothing."""
        for pending in self._queue:
            pending.mask[rows] = False

    def _in_fov(self, rel: np.ndarray) -> np.ndarray:
        if self.cfg.fov >= 360.0:
            return np.ones(rel.shape[:-1], dtype=bool)
        bearing = np.degrees(np.abs(np.arctan2(rel[..., 1], rel[..., 0])))
        return bearing <= self.cfg.fov / 2.0

    def _uniform_in_view(self, shape: tuple[int, int]) -> np.ndarray:
        """Points uniform over the area in view (a disc sector of `range`, 10 m if unlimited)."""
        reach = self.cfg.range if math.isfinite(self.cfg.range) else 10.0
        r = reach * np.sqrt(self.rng.random(shape))
        half = math.radians(self.cfg.fov) / 2.0
        a = self.rng.uniform(-half, half, shape)
        return np.stack([r * np.cos(a), r * np.sin(a)], axis=-1)
