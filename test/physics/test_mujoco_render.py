"""`dodge-lstm render --backend mujoco`: the MuJoCo episode drawn from above and by MuJoCo's own
camera (issue 17).

Plausible bugs: `--backend` parsed and dropped (the picture is the arena's episode), a camera
that renders the same frame over and over (state never copied into the render data), or one
pointed away from the robot (an empty floor). MuJoCo's offscreen rendering needs EGL: the camera
test runs in a fresh interpreter with `MUJOCO_GL` unset and no display, as a user's headless
shell, and is skipped (saying so) only where no EGL library exists.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("mujoco")
PIL = pytest.importorskip("PIL.Image")

from dodge_lstm.cli import main  # noqa: E402
from dodge_lstm.core.episode_trace import trace_episode  # noqa: E402
from dodge_lstm.physics.backends import arena_factory  # noqa: E402
from dodge_lstm.runtime.learned_policy import make_policy  # noqa: E402


def headless_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "DISPLAY")}


def egl_works() -> bool:
    probe = ("import os; os.environ['MUJOCO_GL'] = 'egl'\nimport mujoco\n"
             "r = mujoco.Renderer(mujoco.MjModel.from_xml_string('<mujoco/>'), 8, 8)\n"
             "r.render(); r.close()")
    return subprocess.run([sys.executable, "-c", probe], env=headless_env(), capture_output=True,
                          timeout=60).returncode == 0


def test_the_top_view_draws_the_mujoco_episode():
    """The trace `render --backend mujoco` draws is MuJoCo's: a stationary robot is shoved by
    its first hit (a kinematic robot never moves without a command)."""
    policy = make_policy("stationary")
    arena = trace_episode(policy, 8.0, seed=7)
    mujoco = trace_episode(policy, 8.0, seed=7, make_arena=arena_factory("mujoco"))
    assert mujoco.hits and arena.hits
    assert np.abs(np.array(arena.robot)).max() == 0.0
    assert np.abs(np.array(mujoco.robot)).max() > 0.01


def test_the_camera_view_renders_the_episode_headless(tmp_path):
    if not egl_works():
        pytest.skip("no EGL library for MuJoCo's offscreen rendering (Debian: libegl1)")
    out = tmp_path / "cam.gif"
    run = subprocess.run([sys.executable, "-m", "dodge_lstm.cli", "render", "--backend",
                          "mujoco", "--view", "camera", "--policy", "stationary", "--seconds",
                          "3", "--seed", "7", "--out", str(out)], env=headless_env(),
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    gif = PIL.open(out)
    durations = []
    for i in range(gif.n_frames):  # identical neighbours are merged into one longer frame
        gif.seek(i)
        durations.append(gif.info["duration"])
    assert sum(durations) == 3000  # 30 ticks at 10 fps
    frames = []
    for i in (0, gif.n_frames - 1):
        gif.seek(i)
        frames.append(np.asarray(gif.convert("RGB"), dtype=np.int16))
    assert np.abs(frames[0] - frames[1]).mean() > 0.5  # the scene changed: balls arrived
    # The robot (blue) is in the middle of the picture, where the camera looks.
    h, w, _ = frames[0].shape
    centre = frames[1][h // 3: 2 * h // 3, w // 3: 2 * w // 3]
    blue = (centre[..., 2] > 150) & (centre[..., 0] < 100)
    assert blue.sum() > 20


def test_camera_view_needs_mujoco(capsys):
    assert main(["render", "--view", "camera", "--out", "x.gif"]) == 2
    assert "--backend mujoco" in capsys.readouterr().err
