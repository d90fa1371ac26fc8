"""`DodgeBallVectorEnv`: N dodgeball envs stepped as ONE batched numpy Arena.

Same observation, action and reward as `DodgeBallEnv` (both run `dodge_env.ArenaEpisodes`), but
one `step` is one `Arena.step` over all N rows, with no Python loop over envs; that is what
keeps it near bare-arena throughput (`bench/bench_gym.py`).

Autoreset is `AutoresetMode.NEXT_STEP`, Gymnasium's default and the only mode its stateful
vector wrappers (e.g. `NormalizeObservation`) accept: the step that truncates env i returns
its last observation with `truncations[i] = True`; the *next* step ignores `actions[i]`, resets
row i and returns its fresh placeholder window with reward 0 and both flags False, while the
other envs step normally. Its `info` entries are masked out (`info["_hits"][i]` is False).

All envs share one generator (the arena's): `reset(seed=s)` takes an int (not a list) and makes
the run equal, tick for tick, to `Arena(N, seed=s)` driven with the same commands until the
first autoreset.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from dodge_lstm.core.arena import Arena
from dodge_lstm.core.config import ArenaConfig, SpawnConfig
from dodge_lstm.core.sensing import SensorConfig
from dodge_lstm.gym.dodge_env import COUNT_KEYS, ArenaEpisodes, action_space, window_space


class DodgeBallVectorEnv(VectorEnv):
    """`num_envs` DodgeBall envs in one Arena; knobs as `DodgeBallEnv`."""

    metadata: ClassVar[dict[str, Any]] = {"autoreset_mode": AutoresetMode.NEXT_STEP,
                                          "render_modes": []}

    def __init__(self, num_envs: int = 1, render_mode: str | None = None, *, timesteps: int = 5,
                 num_slots: int = 2, arena_cfg: ArenaConfig | None = None,
                 spawn_cfg: SpawnConfig | None = None, episode_seconds: float = 30.0,
                 dodge_bonus: float = 0.1, backend: str = "arena",
                 randomize_physics: float = 0.0, sensing: str | SensorConfig = "truth",
                 tracker: str = "kf", **fields: Any) -> None:
        if render_mode is not None:
            raise ValueError(f"render_mode must be None (render with dodge_lstm.viz), "
                             f"got {render_mode!r}")
        self._episodes = ArenaEpisodes(num_envs, timesteps=timesteps, num_slots=num_slots,
                                       arena_cfg=arena_cfg, spawn_cfg=spawn_cfg,
                                       episode_seconds=episode_seconds, dodge_bonus=dodge_bonus,
                                       backend=backend, randomize_physics=randomize_physics,
                                       sensing=sensing, tracker=tracker, **fields)
        self.num_envs = int(num_envs)
        self.render_mode = None
        self.single_observation_space = window_space(timesteps, num_slots)
        self.single_action_space = action_space()
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._autoreset = np.zeros(self.num_envs, dtype=bool)
        self._started = False

    @property
    def arena(self) -> Arena:
        """The shared batch-N arena (row i is env i; inspect, do not step it)."""
        return self._episodes.arena

    @property
    def episode_steps(self) -> int:
        """Steps after which each env's episode is truncated."""
        return self._episodes.episode_steps

    def close_extras(self, **kwargs: Any) -> None:
        """Free the simulator (MuJoCo's rollout threads)."""
        self._episodes.arena.close()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every env, or only `options["reset_mask"]` (bool `[N]`) as Gymnasium allows.

        A seed reseeds the one generator all envs share, so it must be an int.
        """
        if seed is not None and not isinstance(seed, int | np.integer):
            raise TypeError(f"seed must be an int or None (all envs share one arena "
                            f"generator), got {type(seed).__name__}")
        super().reset(seed=None if seed is None else int(seed))
        mask = (options or {}).get("reset_mask")
        if mask is None:
            self._episodes.reset(self.np_random)
            self._autoreset[:] = False
        else:
            if not (isinstance(mask, np.ndarray) and mask.dtype == np.bool_
                    and mask.shape == (self.num_envs,)):
                raise ValueError(f"options['reset_mask'] must be a bool array of shape "
                                 f"({self.num_envs},)")
            if not self._started:
                raise RuntimeError("the first reset() must reset every env")
            rows = np.flatnonzero(mask)
            self._episodes.reset(self.np_random, rows)
            self._autoreset[rows] = False
        self._started = True
        return self._episodes.observe(), {}

    def step(self, actions: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step all envs at once (next-step autoreset for those truncated last step)."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        restart = np.flatnonzero(self._autoreset) if self._autoreset.any() else None
        reward, counts, truncated = self._episodes.step(actions, restart)
        live = ~self._autoreset
        info: dict[str, Any] = {}
        for key in COUNT_KEYS:
            info[key] = counts[key]
            info[f"_{key}"] = live.copy()
        truncated = truncated & live
        self._autoreset = truncated.copy()
        terminated = np.zeros(self.num_envs, dtype=bool)
        return self._episodes.observe(), reward.astype(np.float64), terminated, truncated, info
