"""Parameters of the arena and the ball spawner, with the 2020 project's defaults.

One dataclass per concept, shared by the core, the CLI and the ROS nodes (whose parameter
declarations are generated from these fields), so a default lives in exactly one place.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

TARGETING_MODES = ("straight", "robot", "center", "gaussian", "random")
SPAWN_SIDES = ("left", "right", "both")


@dataclass(frozen=True)
class ArenaConfig:
    """The robot, the balls and the physics clock."""

    robot_radius: float = 0.17
    """Robot disc radius [m]."""
    speed_limit: float = 1.0
    """Largest |linear.x| the robot drives at [m/s]."""
    accel_limit: float = 2.0
    """Largest change of linear.x per second [m/s^2]."""
    control_rate_hz: float = 10.0
    """Control (and observation) rate [Hz]; the seed ran at 10 Hz."""
    substeps: int = 1
    """Physics substeps per control tick (collisions are swept, so 1 is exact for balls)."""
    ball_radius: float = 0.2067
    """Ball disc radius [m]."""
    despawn_distance: float = 10.0
    """A ball this far from the robot is dropped even if it never receded [m]; beyond every
    spawn distance (checked by `Arena`), so it only ends balls that would never resolve."""
    pass_margin: float = 0.5
    """A receding ball this far beyond contact distance has passed [m]."""

    @property
    def dt(self) -> float:
        """Control period [s]."""
        return 1.0 / self.control_rate_hz

    @property
    def contact_distance(self) -> float:
        """Centre distance at which robot and ball touch [m]."""
        return self.robot_radius + self.ball_radius

    def validate(self) -> ArenaConfig:
        """Raise ValueError on values that make the physics meaningless."""
        _positive(self, "robot_radius", "speed_limit", "accel_limit", "control_rate_hz",
                  "ball_radius", "despawn_distance")
        if self.substeps < 1:
            raise ValueError(f"substeps must be >= 1, got {self.substeps}")
        if self.pass_margin < 0:
            raise ValueError(f"pass_margin must be >= 0, got {self.pass_margin}")
        return self


@dataclass(frozen=True)
class SpawnConfig:
    """How balls are thrown: the seed spawned them ~5 m to the side at 3-5 m/s."""

    num_balls: int = 2
    """Balls alive at once; slots are topped up as balls leave."""
    distance: float = 5.0
    """Spawn distance to the robot's side [m]."""
    distance_max: float = 0.0
    """If larger than `distance`, the spawn distance is drawn from U(distance, x) [m]."""
    lateral_offset: float = 1.5
    """Spawn offset along the robot's track, drawn from U(-x, x) [m]."""
    speed_min: float = 3.0
    """Smallest ball speed [m/s]."""
    speed_max: float = 5.0
    """Largest ball speed [m/s]."""
    targeting: str = "robot"
    """Aim: straight | robot | center | gaussian | random."""
    robot_spread: float = 1.0
    """`robot` mode aims at the robot + U(-x, x) along its track [m]."""
    gaussian_sigma: float = 0.5
    """`gaussian` mode aims at the robot + N(0, sigma) along its track [m]."""
    random_spread: float = 2.5
    """`random` mode aims at a point U(-x, x)^2 around the robot [m]."""
    side: str = "both"
    """Which side balls come from: left | right | both."""
    delay_max: float = 1.0
    """An emptied slot is refilled after U(0, x) seconds, so balls do not arrive in lockstep."""

    def validate(self) -> SpawnConfig:
        """Raise ValueError on an unknown mode or an empty range."""
        if self.targeting not in TARGETING_MODES:
            raise ValueError(f"targeting must be one of {TARGETING_MODES}, got {self.targeting!r}")
        if self.side not in SPAWN_SIDES:
            raise ValueError(f"side must be one of {SPAWN_SIDES}, got {self.side!r}")
        if self.num_balls < 1:
            raise ValueError(f"num_balls must be >= 1, got {self.num_balls}")
        if not 0 < self.speed_min <= self.speed_max:
            raise ValueError(f"need 0 < speed_min <= speed_max, got "
                             f"{self.speed_min}, {self.speed_max}")
        _positive(self, "distance")
        if self.distance_max < 0:
            raise ValueError(f"distance_max must be >= 0, got {self.distance_max}")
        for name in ("lateral_offset", "robot_spread", "gaussian_sigma", "random_spread",
                     "delay_max"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        return self

    @property
    def farthest_spawn(self) -> float:
        """The largest robot-to-ball distance at spawn [m]."""
        return math.hypot(max(self.distance, self.distance_max), self.lateral_offset)


def _positive(cfg: Any, *names: str) -> None:
    for name in names:
        if not getattr(cfg, name) > 0:
            raise ValueError(f"{name} must be > 0, got {getattr(cfg, name)}")


def field_docs(cls: type) -> dict[str, str]:
    """Field name -> the docstring under it, for ROS parameter descriptors and `--help`."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, nxt in itertools.pairwise(body):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)):
            docs[node.target.id] = str(nxt.value.value)
    return docs
