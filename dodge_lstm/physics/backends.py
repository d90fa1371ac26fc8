"""The simulators a run can use, by name: `--backend arena|mujoco`, `backend=` in Gymnasium.

`arena` is the embedded kinematic arena (numpy only); `mujoco` the same balls on MuJoCo
physics (`physics.mujoco_arena`), imported only when asked for, so picking the arena never
loads MuJoCo.
"""

from __future__ import annotations

from functools import partial

from dodge_lstm.core.arena import Arena, ArenaFactory
from dodge_lstm.physics.mjcf_world import BodyConfig

BACKENDS = ("arena", "mujoco")


def arena_factory(backend: str, randomize: float = 0.0) -> ArenaFactory:
    """What builds B worlds of `backend` (MuJoCo with physics randomised by `randomize`, a
    relative spread); ValueError naming the choices for anything else."""
    if backend == "arena":
        if randomize:
            raise ValueError("randomised physics needs the mujoco backend")
        return Arena
    if backend == "mujoco":
        from dodge_lstm.physics.mujoco_arena import MujocoArena, randomized_bodies

        randomized_bodies(BodyConfig(), 1, randomize, 0)  # refuse a bad spread here
        return partial(MujocoArena, randomize=randomize) if randomize else MujocoArena
    raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
