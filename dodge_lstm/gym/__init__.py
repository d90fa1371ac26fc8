"""Gymnasium environments over the numpy arena, and any window -> command callable as a policy.

May import: numpy, gymnasium, core, runtime, physics (`backend="mujoco"`, loaded only then)
(and `dodge_lstm.gym` itself). The observation is the
feature window the LSTM sees, built by `core.features` exactly as the ROS nodes and the arena
evaluation build it, so an agent trained here meets no train/serve skew.

Importing this package registers `DodgeBall-v0`:

- `gymnasium.make("DodgeBall-v0", **knobs)` builds a `DodgeBallEnv`;
- `gymnasium.make_vec("DodgeBall-v0", num_envs=N, **knobs)` builds a `DodgeBallVectorEnv` (one
  numpy Arena of batch N, not N Python envs).

`max_episode_steps` is left unset on purpose: the env truncates itself after `episode_seconds`
(a knob the vector env needs too), so `make` adds no `TimeLimit` that could disagree with it.
Passing `max_episode_steps=` to `make` still works and stacks a `TimeLimit` on top: the earlier
of the two limits wins.
"""

from __future__ import annotations

import gymnasium

from dodge_lstm.gym.dodge_env import DodgeBallEnv
from dodge_lstm.gym.vector_env import DodgeBallVectorEnv

ENV_ID = "DodgeBall-v0"

if ENV_ID not in gymnasium.registry:  # re-imports (importlib.reload) must not warn
    gymnasium.register(
        id=ENV_ID,
        entry_point="dodge_lstm.gym.dodge_env:DodgeBallEnv",
        vector_entry_point="dodge_lstm.gym.vector_env:DodgeBallVectorEnv",
        max_episode_steps=None,
    )

__all__ = ["ENV_ID", "DodgeBallEnv", "DodgeBallVectorEnv"]
