"""`DodgeBallEnv`: one dodgeball arena as a Gymnasium environment, seen through the LSTM's window.

Observation: the `[timesteps, 4 * num_slots]` float32 feature window, built by the very code the
ROS `ball_features` node and `LearnedPolicy` run (`core.features.ball_features` rows in a
`core.features.FeatureWindow`), so a policy trained here sees what it will see when deployed.
Action: `[-1, 1]`, scaled by `ArenaConfig.speed_limit` into the `linear.x` command (out-of-range
actions are clipped; NaN/Inf raise ValueError, as `Arena.step` does). Reward: -1 per hit and
`+dodge_bonus` per *threat* ball that passed (a ball that would have hit a robot standing still),
so standing still scores exactly -(threat hits) and dodging is what earns the bonus.

`sensing="realistic"` (or a `SensorConfig`) observes the balls through the detector and the
`tracker` (`core.perception`, as `eval --sensing`): rewards and outcomes stay the simulator's;
the detector's noise comes from a child of the env's `np_random`, so a seed fixes it too.

`backend="mujoco"` runs the same throws on MuJoCo physics (`physics.mujoco_arena`; with
`randomize_physics` each env's masses, frictions and motor strength drawn around the defaults).

Episodes are truncated after `episode_seconds` and never terminated: being hit is penalised but
not fatal (the robot keeps driving, as on the real robot and in `core.evaluation`), so no state
is terminal, and the time limit is a truncation that value bootstrapping should see through.

`ArenaEpisodes` is the part shared with `vector_env.DodgeBallVectorEnv`: N episodes in ONE
batched `Arena` plus one `FeatureWindow`, with per-row resets.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import gymnasium
import numpy as np
from gymnasium import spaces

from dodge_lstm.core.arena import Arena
from dodge_lstm.core.config import ArenaConfig, SpawnConfig
from dodge_lstm.core.features import FEATURES_PER_BALL, FeatureWindow, ball_features
from dodge_lstm.core.perception import PerceivedArena, perceive
from dodge_lstm.core.sensing import SensorConfig, sensor_config
from dodge_lstm.core.tracking import TRACKERS
from dodge_lstm.physics.backends import arena_factory

COUNT_KEYS = ("hits", "threat_hits", "threat_passed", "balls")
"""Per-step outcome counts in `info`: hits, threat balls that hit, threat balls that passed, and
all balls resolved this step."""

_ARENA_FIELDS = {f.name for f in dataclasses.fields(ArenaConfig)}
_SPAWN_FIELDS = {f.name for f in dataclasses.fields(SpawnConfig)}


def make_configs(arena_cfg: ArenaConfig | None = None, spawn_cfg: SpawnConfig | None = None,
                 **fields: Any) -> tuple[ArenaConfig, SpawnConfig]:
    """Validated configs from optional dataclasses plus loose field overrides.

    Loose fields let `gymnasium.make("DodgeBall-v0", targeting="random", num_balls=3)` work
    without building dataclasses; the two classes share no field name, so routing is unambiguous.
    """
    unknown = set(fields) - _ARENA_FIELDS - _SPAWN_FIELDS
    if unknown:
        raise TypeError(f"unknown ArenaConfig/SpawnConfig field(s): {sorted(unknown)}")
    arena = dataclasses.replace(arena_cfg or ArenaConfig(),
                                **{k: v for k, v in fields.items() if k in _ARENA_FIELDS})
    spawn = dataclasses.replace(spawn_cfg or SpawnConfig(),
                                **{k: v for k, v in fields.items() if k in _SPAWN_FIELDS})
    return arena.validate(), spawn.validate()


class ArenaEpisodes:
    """N episodes stepped as one batched Arena and windowed by one FeatureWindow.

    No Python loop over episodes: counting outcomes, truncation and resets are array operations,
    which is what lets thousands of envs step at close to bare-arena speed.
    """

    def __init__(self, num_envs: int, *, timesteps: int = 5, num_slots: int = 2,
                 arena_cfg: ArenaConfig | None = None, spawn_cfg: SpawnConfig | None = None,
                 episode_seconds: float = 30.0, dodge_bonus: float = 0.1,
                 backend: str = "arena", randomize_physics: float = 0.0,
                 sensing: str | SensorConfig = "truth", tracker: str = "kf",
                 **fields: Any) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if num_slots < 1:
            raise ValueError(f"num_slots must be >= 1, got {num_slots}")
        if not math.isfinite(dodge_bonus):
            raise ValueError(f"dodge_bonus must be finite, got {dodge_bonus}")
        arena_c, spawn_c = make_configs(arena_cfg, spawn_cfg, **fields)
        self.episode_steps = round(episode_seconds * arena_c.control_rate_hz)
        if self.episode_steps < 1:
            raise ValueError(f"episode_seconds must last at least one tick "
                             f"({arena_c.dt} s), got {episode_seconds}")
        self.num_envs = int(num_envs)
        self.num_slots = int(num_slots)
        self.dodge_bonus = float(dodge_bonus)
        # The seed is a placeholder: reset() hands the arena the env's own np_random. (With
        # randomised MuJoCo physics it also fixes each env's physical constants.)
        self.arena = arena_factory(backend, randomize_physics)(self.num_envs, arena_c, spawn_c,
                                                                seed=0)
        if tracker not in TRACKERS:
            raise ValueError(f"tracker must be one of {', '.join(TRACKERS)}, got {tracker!r}")
        cfg = sensor_config(sensing) if isinstance(sensing, str) else sensing
        self.view = perceive(self.arena, cfg, TRACKERS[tracker])
        """What the agent observes through: the arena itself, or it seen by a detector and a
        tracker (`core.perception`); outcomes and rewards are always the arena's."""
        self.window = FeatureWindow(timesteps, num_slots, batch=self.num_envs)
        self.elapsed = np.zeros(self.num_envs, dtype=np.int64)

    @property
    def num_features(self) -> int:
        """Columns of a feature row."""
        return self.num_slots * FEATURES_PER_BALL

    def rows(self) -> np.ndarray:
        """Feature rows `[N, F]` of the current state, built as `LearnedPolicy.act` builds them."""
        a = self.view
        rows, _ = ball_features(a.robot_pos, a.robot_yaw, a.robot_vel, a.ball_pos, a.ball_vel,
                                a.alive, a.ball_id, self.num_slots)
        return rows

    def observe(self) -> np.ndarray:
        """A fresh copy of the windows `[N, timesteps, F]` (float32), oldest row first."""
        return self.window.window()

    def reset(self, rng: np.random.Generator, rows: np.ndarray | None = None) -> None:
        """Start new episodes in `rows` (all when None); the arena draws from `rng` from now on."""
        self.arena.rng = rng
        if rows is None:
            if isinstance(self.view, PerceivedArena):
                # The detector's own stream, a child of the env's: the same seed gives the same
                # noise, and the balls are the ones the truth env throws.
                self.view.sensor.rng = rng.spawn(1)[0]
                self.view.sensor.clear()
            self.view.reset_rows(np.arange(self.num_envs))
            self.arena.tick = 0
            if isinstance(self.view, PerceivedArena):
                self.view.update()  # the capture at tick 0, as a fresh evaluation makes
            self.elapsed[:] = 0
            self.window.clear()
            self.window.push(self.rows())
        else:
            self.view.reset_rows(rows)
            self.elapsed[rows] = 0
            self.window.reset_rows(rows, self.rows()[rows])

    def commands(self, actions: Any) -> np.ndarray:
        """`linear.x` commands `[N]` from normalized actions: clipped to [-1, 1], scaled."""
        a = np.asarray(actions, dtype=np.float64)
        if a.size != self.num_envs:
            raise ValueError(f"expected {self.num_envs} action(s), got shape {a.shape}")
        a = a.reshape(self.num_envs)
        if not np.all(np.isfinite(a)):  # before the clip, which would turn Inf into +-1
            raise ValueError("actions must be finite; got NaN or Inf")
        return np.clip(a, -1.0, 1.0) * self.arena.cfg.speed_limit

    def step(self, actions: Any, restart: np.ndarray | None = None
             ) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        """One tick of every episode; returns rewards `[N]`, outcome counts and truncations.

        `restart` rows (next-step autoreset) score nothing and are reset after the physics
        step, which makes their action irrelevant: they come back as fresh episodes at tick 0.
        """
        out = self.view.step(self.commands(actions))
        n = self.num_envs
        threat_hit = out.hit & out.threat
        counts = {
            "hits": np.bincount(out.arena[out.hit], minlength=n),
            "threat_hits": np.bincount(out.arena[threat_hit], minlength=n),
            "threat_passed": np.bincount(out.arena[out.threat & ~out.hit], minlength=n),
            "balls": np.bincount(out.arena, minlength=n),
        }
        self.elapsed += 1
        if restart is not None:
            for v in counts.values():
                v[restart] = 0  # outcomes of an episode that already ended
            self.view.reset_rows(restart)
            self.elapsed[restart] = 0
        rows = self.rows()
        self.window.push(rows)
        if restart is not None:
            self.window.reset_rows(restart, rows[restart])
        reward = self.dodge_bonus * counts["threat_passed"] - counts["hits"]
        return reward, counts, self.elapsed >= self.episode_steps


def window_space(timesteps: int, num_slots: int) -> spaces.Box:
    """The observation space of one env: an unbounded float32 feature window."""
    return spaces.Box(-np.inf, np.inf, (timesteps, num_slots * FEATURES_PER_BALL), np.float32)


def action_space() -> spaces.Box:
    """The action space of one env: a normalized `linear.x` in [-1, 1]."""
    return spaces.Box(-1.0, 1.0, (1,), np.float32)


class DodgeBallEnv(gymnasium.Env[np.ndarray, np.ndarray]):
    """One arena; see the module docstring for observation, action, reward and episode ends.

    Seeding follows Gymnasium: `reset(seed=s)` reseeds `np_random`, which *is* the arena's
    generator, so the same seed and actions give identical trajectories, equal to those of
    `Arena(1, seed=s)` driven with `clip(action, -1, 1) * speed_limit`. `reset()` without a seed
    continues the stream. Rendering lives in `dodge_lstm.viz`; `render_mode` must be None.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, render_mode: str | None = None, *, timesteps: int = 5, num_slots: int = 2,
                 arena_cfg: ArenaConfig | None = None, spawn_cfg: SpawnConfig | None = None,
                 episode_seconds: float = 30.0, dodge_bonus: float = 0.1,
                 backend: str = "arena", randomize_physics: float = 0.0,
                 sensing: str | SensorConfig = "truth", tracker: str = "kf",
                 **fields: Any) -> None:
        if render_mode is not None:
            raise ValueError(f"render_mode must be None (render with dodge_lstm.viz), "
                             f"got {render_mode!r}")
        self._episodes = ArenaEpisodes(1, timesteps=timesteps, num_slots=num_slots,
                                       arena_cfg=arena_cfg, spawn_cfg=spawn_cfg,
                                       episode_seconds=episode_seconds, dodge_bonus=dodge_bonus,
                                       backend=backend, randomize_physics=randomize_physics,
                                       sensing=sensing, tracker=tracker, **fields)
        self.render_mode = None
        self.observation_space = window_space(timesteps, num_slots)
        self.action_space = action_space()
        self._started = False

    @property
    def arena(self) -> Arena:
        """The underlying batch-1 arena (for inspection and rendering; do not step it)."""
        return self._episodes.arena

    @property
    def episode_steps(self) -> int:
        """Steps after which an episode is truncated."""
        return self._episodes.episode_steps

    def close(self) -> None:
        """Free the simulator (MuJoCo's rollout threads)."""
        self._episodes.arena.close()
        super().close()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """A new episode: robot at rest at the origin, no balls yet, a placeholder window."""
        super().reset(seed=seed)
        self._episodes.reset(self.np_random)
        self._started = True
        return self._episodes.observe()[0], {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """One control tick; `info` holds this tick's outcome counts (`COUNT_KEYS`)."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        reward, counts, truncated = self._episodes.step(action)
        info = {k: int(v[0]) for k, v in counts.items()}
        return self._episodes.observe()[0], float(reward[0]), False, bool(truncated[0]), info
