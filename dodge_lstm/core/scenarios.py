"""Named ball-throwing scenarios: the held-out conditions a policy is judged on, and the mixture
the default model is trained on.

A scenario is one or more `SpawnConfig` components. Single-component scenarios are one spawner
setting (usable by `dodge-lstm sim`); `mixed` spreads its balls evenly over many components, so a
policy is scored on all of them at once. `default` is the 2020 project's setting, on which
every shipped model's headline number is measured.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Any

from dodge_lstm.core.config import TARGETING_MODES, SpawnConfig

MIXTURE_BALLS = (1, 2, 3, 4)
"""Balls alive at once in the training mixture."""
MIXTURE_SPEED = (2.0, 7.0)
"""Ball speed range of the mixture [m/s]."""
MIXTURE_DISTANCE = (3.5, 7.0)
"""Spawn distance range of the mixture [m]."""


@dataclass(frozen=True)
class Scenario:
    """A named set of spawner settings; balls are spread evenly over `components`."""

    name: str
    description: str
    components: tuple[SpawnConfig, ...]
    overrides: str = ""
    """The settings changed from the preset `name`, as `k=v, ...`; empty for the preset."""

    @property
    def key(self) -> str:
        """What a result is filed under: the name, with the overrides if any (`fast` measured
        at up to 9 m/s must not pass for `fast`)."""
        return f"{self.name} ({self.overrides})" if self.overrides else self.name

    def with_overrides(self, **changes: Any) -> Scenario:
        """Every component with `changes` applied (None values are ignored), validated."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes:
            return self
        unknown = set(changes) - {f.name for f in dataclasses.fields(SpawnConfig)}
        if unknown:
            raise ValueError(f"not spawner settings: {sorted(unknown)}")
        parts = tuple(dataclasses.replace(c, **changes).validate() for c in self.components)
        desc = ", ".join(f"{k}={v}" for k, v in sorted(changes.items()))
        overrides = f"{self.overrides}, {desc}" if self.overrides else desc
        return Scenario(self.name, f"{self.description} ({desc})", parts, overrides)

    @property
    def single(self) -> SpawnConfig:
        """The one component; ValueError for a mixture (one spawner has one setting)."""
        if len(self.components) != 1:
            raise ValueError(f"scenario {self.name!r} mixes {len(self.components)} spawner "
                             f"settings; one spawner runs one (use it with `eval`)")
        return self.components[0]


def mixture_components() -> tuple[SpawnConfig, ...]:
    """Every targeting mode x 1-4 balls, at 2-7 m/s from 3.5-7 m."""
    return tuple(
        SpawnConfig(targeting=mode, num_balls=n, speed_min=MIXTURE_SPEED[0],
                    speed_max=MIXTURE_SPEED[1], distance=MIXTURE_DISTANCE[0],
                    distance_max=MIXTURE_DISTANCE[1]).validate()
        for mode, n in itertools.product(TARGETING_MODES, MIXTURE_BALLS)
    )


def _one(name: str, description: str, **changes: Any) -> Scenario:
    return Scenario(name, description, (SpawnConfig(**changes).validate(),))


SCENARIOS: dict[str, Scenario] = {
    s.name: s for s in (
        _one("default", "2 balls aimed near the robot, 3-5 m/s, from 5 m (the 2020 setting)"),
        _one("fast", "balls at 5-7 m/s", speed_min=5.0, speed_max=7.0),
        _one("close", "balls spawned 3.5 m away", distance=3.5),
        _one("crowd", "3 balls at once", num_balls=3),
        _one("random", "balls aimed at random points around the robot", targeting="random"),
        Scenario("mixed", "every targeting mode x 1-4 balls, 2-7 m/s, 3.5-7 m (the training "
                 "mixture)", mixture_components()),
    )
}


def scenario(name: str) -> Scenario:
    """The named scenario; ValueError listing the names otherwise."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; choose from "
                         f"{', '.join(SCENARIOS)}") from None
