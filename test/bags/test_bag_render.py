"""`dodge-lstm render --bag`: a recorded bag drawn like an arena episode.

The plausible bugs: frames off by one tick against the arena (the bag starts with the initial
pose), commands aligned to the wrong frame, resolved balls drawn on, a bag from another writer
(bare MCAP from the `mcap` library, sqlite3) refused, or a GIF with the wrong frame count.
"""

import numpy as np
import pytest
from arena_bags import record_arena, write_bare_mcap, write_rosbags

from dodge_lstm.bags.bag_trace import trace_from_bag
from dodge_lstm.cli import main
from dodge_lstm.core.episode_trace import trace_episode

TICKS = 60


class Replay:
    """Drives the arena with a fixed command sequence (what the bag's cmd_vel holds)."""

    name = "replay"

    def __init__(self, commands):
        self.commands, self.k = commands, 0

    def reset(self, arena):
        self.k = 0

    def act(self, arena):
        self.k += 1
        return np.array([self.commands[self.k - 1]])


def command(k: int) -> float:
    return 0.8 * np.sin(k / 6.0)


@pytest.fixture(scope="module")
def episode():
    return record_arena(TICKS, seed=3, command=command)


def test_a_bag_traces_like_its_arena_twin(tmp_path, episode):
    bag = write_rosbags(episode, tmp_path / "bag")
    from_bag = trace_from_bag(bag, skip_first=True)
    arena = trace_episode(Replay(episode.commands), TICKS * 0.1, seed=3)
    assert len(from_bag) == len(arena) == TICKS
    np.testing.assert_allclose(np.array(from_bag.robot), np.array(arena.robot), atol=1e-9)
    np.testing.assert_allclose(from_bag.commands, arena.commands, atol=1e-12)
    assert from_bag.resolved == arena.resolved and from_bag.resolved[-1][2] >= 3
    assert [t for t, _ in from_bag.hits] == [t for t, _ in arena.hits]

    def drawn(tr, i):  # the balls on frame i, by position (slots may be numbered differently)
        keep = ~np.isnan(tr.balls[i][:, 0])
        order = np.lexsort(tr.balls[i][keep].T)
        return tr.balls[i][keep][order], tr.threat[i][keep][order]

    for i in range(TICKS):
        (pb, tb), (pa, ta) = drawn(from_bag, i), drawn(arena, i)
        np.testing.assert_allclose(pb, pa, atol=1e-9, err_msg=f"frame {i}")
        assert list(tb) == list(ta), f"threat colours differ on frame {i}"


@pytest.mark.parametrize("writer", ["bare_mcap", "sqlite3"])
def test_render_bag_from_another_writer(tmp_path, capsys, episode, writer):
    from PIL import Image

    if writer == "bare_mcap":
        bag = write_bare_mcap(episode, tmp_path / "episode.mcap")
    else:
        bag = write_rosbags(episode, tmp_path / "bag", storage="sqlite3")
    gif = tmp_path / "episode.gif"
    assert main(["render", "--bag", str(bag), "--out", str(gif)]) == 0
    assert f"{TICKS + 1} frames" in capsys.readouterr().out
    with Image.open(gif) as im:
        assert im.n_frames == TICKS + 1  # s_0 .. s_TICKS, one frame per robot state


def test_a_bag_without_robot_odometry_is_refused(tmp_path, episode, capsys):
    bag = write_rosbags(episode, tmp_path / "bag", topics=("/balls/odom", "/cmd_vel"))
    gif = tmp_path / "x.gif"
    assert main(["render", "--bag", str(bag), "--out", str(gif)]) == 2
    assert "no messages on /odom" in capsys.readouterr().err and not gif.exists()


def test_mp4_needs_ffmpeg_and_says_so(tmp_path, capsys, episode, monkeypatch):
    """Without ffmpeg on PATH, asking for .mp4 is one clear error and nothing is written."""
    bag = write_rosbags(episode, tmp_path / "bag")
    monkeypatch.setenv("PATH", str(tmp_path / "no_tools_here"))
    out = tmp_path / "episode.mp4"
    assert main(["render", "--bag", str(bag), "--out", str(out)]) == 2
    assert "needs ffmpeg" in capsys.readouterr().err and not out.exists()


@pytest.mark.skipif(__import__("shutil").which("ffmpeg") is None,
                    reason="ffmpeg is not installed (apt-get install ffmpeg)")
def test_mp4_where_ffmpeg_is_installed(tmp_path, episode):
    bag = write_rosbags(episode, tmp_path / "bag")
    out = tmp_path / "episode.mp4"
    assert main(["render", "--bag", str(bag), "--out", str(out)]) == 0
    assert out.stat().st_size > 10_000
