"""The Gymnasium envs over the arena: API conformance, equivalence with the bare core, autoreset.

The plausible bugs: the env drifts from the core it wraps (a different RNG stream, a command
scaled twice, a window pushed at the wrong moment: an agent trained here would then meet a
different world in `dodge-lstm eval` and on the robot); the vector env resets the wrong rows or
leaks an ended episode's outcomes into the next; the policy adapter feeds windows differently
from `LearnedPolicy`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

# An optional test dependency (requirements-train.txt): a ROS install's `colcon test` without it
# skips this module with the reason instead of aborting the collection. CI requires it.
gymnasium = pytest.importorskip("gymnasium", reason="gymnasium is not installed "
                                "(pip install -r requirements-train.txt)")
from gymnasium.utils.env_checker import check_env  # noqa: E402
from gymnasium.vector import AutoresetMode  # noqa: E402

from dodge_lstm.core.arena import Arena  # noqa: E402
from dodge_lstm.core.baselines import StationaryPolicy  # noqa: E402
from dodge_lstm.core.config import SpawnConfig  # noqa: E402
from dodge_lstm.core.evaluation import evaluate  # noqa: E402
from dodge_lstm.core.features import FeatureWindow, ball_features, placeholder_row  # noqa: E402
from dodge_lstm.gym import ENV_ID, DodgeBallEnv, DodgeBallVectorEnv  # noqa: E402
from dodge_lstm.runtime.window_policy import WindowPolicy, policy_from_spec  # noqa: E402

# check_env's warnings we accept: the unbounded Box is the spec (features are unbounded), and
# the two notes about checking a wrapped env / an env without a spec.
EXPECTED_WARNINGS = ("infinity", "different from the unwrapped", "not having a spec")


def _check_env_strictly(env: gymnasium.Env) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env)
    unexpected = [str(w.message) for w in caught
                  if not any(s in str(w.message) for s in EXPECTED_WARNINGS)]
    assert unexpected == []


def _bare_counts(out, batch: int) -> dict[str, np.ndarray]:
    return {
        "hits": np.bincount(out.arena[out.hit], minlength=batch),
        "threat_hits": np.bincount(out.arena[out.hit & out.threat], minlength=batch),
        "threat_passed": np.bincount(out.arena[out.threat & ~out.hit], minlength=batch),
        "balls": np.bincount(out.arena, minlength=batch),
    }


def _rows(arena: Arena) -> np.ndarray:
    rows, _ = ball_features(arena.robot_pos, arena.robot_yaw, arena.robot_vel, arena.ball_pos,
                            arena.ball_vel, arena.alive, arena.ball_id, 2)
    return rows


def test_check_env_passes_unwrapped_and_through_make():
    _check_env_strictly(DodgeBallEnv())
    made = gymnasium.make(ENV_ID)
    _check_env_strictly(made)
    assert isinstance(made.unwrapped, DodgeBallEnv)
    assert made.spec is not None and made.spec.max_episode_steps is None
    wrapper = made
    while wrapper is not made.unwrapped:  # the env truncates itself: no second TimeLimit
        assert not isinstance(wrapper, gymnasium.wrappers.TimeLimit)
        wrapper = wrapper.env


def test_spaces_knobs_and_render_mode():
    env = gymnasium.make(ENV_ID, timesteps=8, num_slots=3, num_balls=3, targeting="random",
                         speed_limit=2.0, episode_seconds=1.5)
    inner = env.unwrapped
    assert env.observation_space.shape == (8, 12) and env.observation_space.dtype == np.float32
    assert env.action_space.shape == (1,) and env.action_space.high[0] == 1.0
    assert inner.arena.spawn_cfg.num_balls == 3 and inner.arena.spawn_cfg.targeting == "random"
    assert inner.arena.cfg.speed_limit == 2.0 and inner.episode_steps == 15
    env.reset(seed=0)
    env.step(np.array([1.0], np.float32))
    assert inner.arena.robot_speed[0] == pytest.approx(0.2)  # accel 2 m/s^2 for 0.1 s
    with pytest.raises(TypeError, match="no_such_field"):
        DodgeBallEnv(no_such_field=1)
    with pytest.raises(ValueError, match="render_mode"):
        DodgeBallEnv(render_mode="human")
    assert DodgeBallEnv.metadata["render_modes"] == []


def test_actions_are_clipped_and_non_finite_ones_rejected():
    env = DodgeBallEnv(accel_limit=100.0)
    env.reset(seed=1)
    env.step(np.array([5.0], np.float32))
    assert env.arena.robot_speed[0] == 1.0  # clipped to 1, times speed_limit 1 m/s
    env.step(np.array([-0.25], np.float32))
    assert env.arena.robot_speed[0] == -0.25
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match="finite"):
            env.step(np.array([bad], np.float32))


def test_single_env_replays_the_bare_arena_ball_by_ball():
    """Same seed, same commands: identical states, windows and per-tick outcome counts."""
    seed, steps = 11, 300
    env = DodgeBallEnv()
    obs, _ = env.reset(seed=seed)
    bare = Arena(1, seed=seed)
    window = FeatureWindow(5, 2, batch=1)
    window.push(_rows(bare))
    np.testing.assert_array_equal(obs, window.window()[0])
    actions = np.random.default_rng(0).uniform(-1.5, 1.5, (steps, 1)).astype(np.float32)
    totals = dict.fromkeys(("hits", "threat_hits", "threat_passed", "balls"), 0)
    for t in range(steps):
        obs, reward, terminated, truncated, info = env.step(actions[t])
        out = bare.step(np.clip(actions[t].astype(float), -1, 1))
        window.push(_rows(bare))
        expected = {k: int(v[0]) for k, v in _bare_counts(out, 1).items()}
        assert info == expected, t
        assert reward == pytest.approx(0.1 * expected["threat_passed"] - expected["hits"])
        np.testing.assert_array_equal(env.arena.ball_pos, bare.ball_pos)
        np.testing.assert_array_equal(env.arena.robot_pos, bare.robot_pos)
        np.testing.assert_array_equal(obs, window.window()[0])
        assert terminated is False and truncated is (t == steps - 1)
        for k in totals:
            totals[k] += info[k]
    # Non-vacuous: the episode saw hits, threats dodged and harmless balls.
    assert totals["hits"] > 0 and totals["threat_passed"] > 0
    assert totals["balls"] > totals["hits"] + totals["threat_passed"]


def test_seeding_follows_gymnasium_rules():
    env = DodgeBallEnv()
    actions = np.random.default_rng(5).uniform(-1, 1, (80, 1)).astype(np.float32)

    def run(seed: int | None) -> np.ndarray:
        env.reset(seed=seed)
        return np.stack([env.step(a)[0] for a in actions])

    first = run(7)
    continued = run(None)  # no seed: the stream continues, a different episode
    again = run(7)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, continued)
    assert not np.array_equal(first, run(8))


def test_vector_env_replays_a_bare_arena_of_the_same_batch():
    n, seed, steps = 16, 3, 120
    venv = gymnasium.make_vec(ENV_ID, num_envs=n)
    assert isinstance(venv, DodgeBallVectorEnv)
    assert venv.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    assert venv.single_observation_space.shape == (5, 8)
    assert venv.single_action_space.shape == (1,)
    assert venv.observation_space.shape == (n, 5, 8) and venv.action_space.shape == (n, 1)
    obs, _ = venv.reset(seed=seed)
    bare = Arena(n, seed=seed)
    window = FeatureWindow(5, 2, batch=n)
    window.push(_rows(bare))
    np.testing.assert_array_equal(obs, window.window())
    actions = np.random.default_rng(1).uniform(-1, 1, (steps, n, 1)).astype(np.float32)
    resolved = 0
    for t in range(steps):
        obs, reward, terminated, truncated, info = venv.step(actions[t])
        out = bare.step(actions[t, :, 0].astype(float))
        window.push(_rows(bare))
        expected = _bare_counts(out, n)
        for k, v in expected.items():
            np.testing.assert_array_equal(info[k], v, err_msg=f"{k} at tick {t}")
            assert info[f"_{k}"].all()
        np.testing.assert_allclose(reward, 0.1 * expected["threat_passed"] - expected["hits"])
        np.testing.assert_array_equal(venv.arena.ball_pos, bare.ball_pos)
        np.testing.assert_array_equal(obs, window.window())
        assert not terminated.any() and not truncated.any()
        resolved += len(out)
    assert resolved > 100


def test_next_step_autoreset_restarts_only_the_truncated_envs():
    """Env 0 is restarted by hand 3 ticks in, so envs 1-3 truncate first; env 0 must carry on
    through their autoreset step, and then truncate alone 3 ticks after them."""
    n, episode = 4, 30
    venv = DodgeBallVectorEnv(n, episode_seconds=episode / 10)
    venv.reset(seed=2)
    drive = np.ones((n, 1), np.float32)  # everyone drives, so a reset is visible in the pose
    for _ in range(3):
        venv.step(drive)
    venv.reset(options={"reset_mask": np.array([True, False, False, False])})
    assert np.all(venv.arena.robot_pos[0] == 0.0) and np.all(venv.arena.robot_pos[1:, 0] > 0)
    for _ in range(episode - 4):
        *_, truncated, _ = venv.step(drive)
        assert not truncated.any()
    last_obs, _, _, truncated, _ = venv.step(drive)
    assert truncated.tolist() == [False, True, True, True]
    placeholder = np.tile(placeholder_row(2), (5, 1))
    assert not all(np.array_equal(last_obs[i], placeholder) for i in (1, 2, 3))  # balls seen
    x0 = venv.arena.robot_pos[0, 0]

    obs, reward, terminated, truncated, info = venv.step(drive)  # the autoreset step
    for i in (1, 2, 3):
        np.testing.assert_array_equal(obs[i], placeholder)
    assert reward[1:].tolist() == [0.0, 0.0, 0.0]
    assert not terminated.any() and not truncated.any()
    assert info["_hits"].tolist() == [True, False, False, False]
    assert np.all(venv.arena.robot_pos[1:] == 0.0) and np.all(venv.arena.robot_speed[1:] == 0)
    assert not venv.arena.alive[1:].any()
    # Env 0 continued: it moved on, and its window shifted by one row instead of restarting.
    assert venv.arena.robot_pos[0, 0] > x0
    np.testing.assert_array_equal(obs[0, :-1], last_obs[0, 1:])

    *_, truncated, _ = venv.step(drive)
    assert not truncated.any()
    *_, truncated, _ = venv.step(drive)  # env 0's 30th tick: 3 after the others' 30th
    assert truncated.tolist() == [True, False, False, False]


def test_the_autoreset_step_drops_the_ended_episodes_last_outcomes():
    """The physics tick that carries an autoreset still resolves the old episode's balls; they
    belong to no episode and must not leak into the fresh one's reward or counts."""
    n = 512
    still = np.zeros((n, 1), np.float32)
    short, long = DodgeBallVectorEnv(n, episode_seconds=3.0), DodgeBallVectorEnv(n)
    short.reset(seed=6)
    long.reset(seed=6)
    for _ in range(30):
        short.step(still)
        long.step(still)
    _, reward, _, _, info = short.step(still)
    _, long_reward, _, _, long_info = long.step(still)  # the same tick, without the reset
    assert long_info["balls"].sum() > 0 and long_reward.min() < 0
    assert reward.tolist() == [0.0] * n
    for key in ("hits", "threat_hits", "threat_passed", "balls"):
        assert info[key].sum() == 0 and not info[f"_{key}"].any()


def test_standing_still_earns_minus_the_threat_hits():
    """Every threat hits a robot that stands still, and nothing else does: reward = -hits."""
    env = DodgeBallEnv()
    env.reset(seed=4)
    total, threat_hits, hits, passed, truncated = 0.0, 0, 0, 0, False
    while not truncated:
        _, reward, _, truncated, info = env.step(np.zeros(1, np.float32))
        total += reward
        threat_hits += info["threat_hits"]
        hits += info["hits"]
        passed += info["threat_passed"]
    assert threat_hits > 10
    assert hits == threat_hits and passed == 0
    assert total == -threat_hits

    venv = DodgeBallVectorEnv(32)
    venv.reset(seed=4)
    totals, threats = np.zeros(32), np.zeros(32, dtype=np.int64)
    for _ in range(venv.episode_steps):
        _, reward, _, _, info = venv.step(np.zeros((32, 1), np.float32))
        totals += reward
        threats += info["threat_hits"]
    assert threats.sum() > 300
    np.testing.assert_array_equal(totals, -threats)


def test_window_policy_is_the_stationary_baseline_around_zero_and_differs_around_a_push():
    seen: list[tuple[tuple[int, ...], np.dtype]] = []

    def zero(window: np.ndarray) -> float:
        seen.append((window.shape, window.dtype))
        return 0.0

    kwargs = {"balls": 400, "seed": 5, "arenas": 16}
    still = evaluate(StationaryPolicy(), **kwargs)
    wrapped = evaluate(WindowPolicy(zero, timesteps=5, num_slots=2, name="zero"), **kwargs)
    counts = ("balls", "hits", "threat_balls", "threat_hits", "sim_seconds")
    assert [getattr(wrapped, k) for k in counts] == [getattr(still, k) for k in counts]
    assert wrapped.policy == "zero" and set(seen) == {((5, 8), np.dtype(np.float32))}
    pushed = evaluate(WindowPolicy(lambda w: 0.5), **kwargs)
    assert [getattr(pushed, k) for k in counts] != [getattr(still, k) for k in counts]


def test_window_policy_feeds_a_model_exactly_like_learned_policy():
    pytest.importorskip("ai_edge_litert")
    from dodge_lstm.resources import model_for
    from dodge_lstm.runtime.learned_policy import LearnedPolicy
    from dodge_lstm.runtime.tflite_policy import TFLitePolicy

    model = model_for(5, 15)
    kwargs = {"balls": 150, "seed": 3, "arenas": 8}
    learned = evaluate(LearnedPolicy(model), **kwargs)
    adapted = evaluate(WindowPolicy(TFLitePolicy(model), timesteps=5), **kwargs)
    counts = ("balls", "hits", "threat_balls", "threat_hits", "sim_seconds")
    assert [getattr(adapted, k) for k in counts] == [getattr(learned, k) for k in counts]
    assert learned.threat_dodge_rate > 0.5  # the model really acted, it did not stand still


def test_env_observations_are_the_windows_the_adapter_sees():
    """An agent trained in the env is served by WindowPolicy with the same inputs."""
    seen: list[np.ndarray] = []
    commands = np.random.default_rng(9).uniform(-1, 1, 60).astype(np.float32).astype(float)

    def replay(window: np.ndarray) -> float:
        seen.append(window)
        return commands[len(seen) - 1]

    policy = WindowPolicy(replay)
    arena = Arena(1, seed=21)
    policy.reset(arena)
    for _ in range(60):
        arena.step(policy.act(arena))
    env = DodgeBallEnv()
    obs = [env.reset(seed=21)[0]]
    obs += [env.step(np.array([c], np.float32))[0] for c in commands[:-1]]
    np.testing.assert_array_equal(np.stack(obs), np.stack(seen))


POLICY_MODULE = """
import numpy as np

def still(window):
    return 0.0

class Lean:
    name = "lean"
    def reset(self, arena):
        pass
    def act(self, arena):
        return np.full(arena.batch, 0.3)
"""


def test_policy_from_spec_resolves_modules_files_and_policies(tmp_path, monkeypatch):
    (tmp_path / "my_dodge_policies.py").write_text(POLICY_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    by_module = policy_from_spec("my_dodge_policies:still", timesteps=4)
    assert isinstance(by_module, WindowPolicy) and by_module.timesteps == 4
    assert by_module.name == "my_dodge_policies:still"
    by_file = policy_from_spec(f"{tmp_path / 'my_dodge_policies.py'}:still")
    assert isinstance(by_file, WindowPolicy) and by_file.timesteps == 5
    kwargs = {"balls": 200, "seed": 1, "arenas": 8}
    assert evaluate(by_file, **kwargs).threat_hits == evaluate(StationaryPolicy(),
                                                               **kwargs).threat_hits
    lean = policy_from_spec("my_dodge_policies:Lean")
    assert not isinstance(lean, WindowPolicy) and lean.name == "lean"
    with pytest.raises(ValueError, match=r"module\.path:callable"):
        policy_from_spec("my_dodge_policies")
    with pytest.raises(ValueError, match="no attribute"):
        policy_from_spec("my_dodge_policies:missing")
    with pytest.raises(TypeError, match="not a callable"):
        policy_from_spec("my_dodge_policies:np.pi")


def test_spawn_config_object_is_honoured():
    env = DodgeBallEnv(spawn_cfg=SpawnConfig(side="left", targeting="straight"))
    env.reset(seed=0)
    for _ in range(30):
        env.step(np.zeros(1, np.float32))
        alive = env.arena.alive[0]
        assert np.all(env.arena.ball_vel[0, alive, 1] < 0)  # from the left, flying right-wards


def test_the_mujoco_backend_replays_a_bare_mujoco_arena_and_is_not_the_kinematic_one():
    """`backend="mujoco"`: the env is a `MujocoArena(1, seed=s)` driven with the same commands
    (identical state and windows), check_env passes, and standing still under a hit moves the
    robot there but never in the kinematic arena. Plausible bug: the keyword accepted and
    ignored (every "MuJoCo" agent trained on the kinematic disc)."""
    pytest.importorskip("mujoco")
    from dodge_lstm.physics.mujoco_arena import MujocoArena

    env = DodgeBallEnv(backend="mujoco")
    _check_env_strictly(env)
    seed, steps = 11, 120
    obs, _ = env.reset(seed=seed)
    bare = MujocoArena(1, seed=seed)
    window = FeatureWindow(5, 2, batch=1)
    window.push(_rows(bare))
    np.testing.assert_array_equal(obs, window.window()[0])
    hits = 0
    for _ in range(steps):
        obs, _, _, _, info = env.step(np.zeros(1, np.float32))
        bare.step(0.0)
        window.push(_rows(bare))
        hits += info["hits"]
        np.testing.assert_array_equal(env.arena.state, bare.state)
        np.testing.assert_array_equal(obs, window.window()[0])
    assert hits > 0 and env.arena.backend == "mujoco"
    assert np.abs(env.arena.robot_pos).max() > 0.01  # shoved; the kinematic robot stays put
    env.close()
    bare.close()
    vec = gymnasium.make_vec(ENV_ID, num_envs=3, backend="mujoco", randomize_physics=0.2)
    vec.reset(seed=1)
    vec.step(np.zeros((3, 1), np.float32))
    assert vec.unwrapped.arena.backend == "mujoco±0.2"
    vec.close()


def test_sensing_observes_through_the_detector_and_keeps_the_world():
    """`sensing="realistic"`: the observation is the window `PerceivedArena` rows make (the
    same as `eval --sensing` feeds a policy), a seed fixes the noise (same seed, same
    observations), the world is untouched (a robot standing still meets the same balls and
    outcomes as without sensing), and the observation differs from ground truth. Plausible
    bugs: the keyword dropped (the agent trains on ground truth), or the detector drawing from
    the spawner's stream (other balls than the truth env's)."""
    pytest.importorskip("scipy")
    from dodge_lstm.core.perception import PerceivedArena

    def run(sensing: str, seed: int = 4, steps: int = 150):
        env = DodgeBallEnv(sensing=sensing)
        obs, _ = env.reset(seed=seed)
        out = [obs]
        infos = []
        for _ in range(steps):
            obs, _, _, _, info = env.step(np.zeros(1, np.float32))
            out.append(obs)
            infos.append(info)
        return env, np.stack(out), infos

    env, sensed, sensed_info = run("realistic")
    assert isinstance(env._episodes.view, PerceivedArena)
    _check_env_strictly(DodgeBallEnv(sensing="realistic"))
    _, again, _ = run("realistic")
    _, truth, truth_info = run("truth")
    np.testing.assert_array_equal(sensed, again)
    assert sensed_info == truth_info  # the same balls, hits and passes
    assert sum(i["balls"] for i in truth_info) > 3
    assert np.mean(np.abs(sensed - truth) > 1e-3) > 0.05
    # The window's newest row is the perceived arena's row now (the env's own view).
    view = env._episodes.view
    want, _ = ball_features(view.robot_pos, view.robot_yaw, view.robot_vel, view.ball_pos,
                            view.ball_vel, view.alive, view.ball_id, 2)
    np.testing.assert_array_equal(sensed[-1][-1], want[0])
    # A reset row starts blind: no tracks carried over into the next episode.
    env.reset(seed=5)
    assert not view.alive.any() and not view.tracker.active.any()


def test_the_vector_env_senses_and_autoresets_rows():
    """Partial resets under sensing: rows restart blind while the others keep their tracks."""
    pytest.importorskip("scipy")
    envs = gymnasium.make_vec(ENV_ID, num_envs=4, sensing="realistic", episode_seconds=1.0)
    envs.reset(seed=2)
    view = envs.unwrapped._episodes.view
    for _ in range(10):  # to the end of the first episodes
        obs, _, _, truncated, _ = envs.step(np.zeros((4, 1), np.float32))
        assert np.all(np.isfinite(obs))
    assert truncated.all() and view.tracker.active.any()
    envs.step(np.zeros((4, 1), np.float32))  # the autoreset step
    assert not view.tracker.active.any() and not view.alive.any()
    envs.close()
