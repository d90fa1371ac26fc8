"""Animated pictures of an episode, so a person can see a policy dodge (or not).

The 2020 project showed its robot in GIFs; `dodge-lstm render` does the same for any policy in
the arena, or for a recorded bag (`--bag`): the robot (blue, red for a moment after a hit) with
its heading, balls with short trails (orange for threats, grey otherwise), a cross where a ball
hit, running counts in the title, and the `linear.x` command over time in a strip below.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from dodge_lstm.core.config import ArenaConfig
from dodge_lstm.core.episode_trace import EpisodeTrace
from dodge_lstm.viz.figure import agg_figure

TRAIL = 6
VIEW_M = 6.0
"""Half width of the robot-centred view [m]."""


def write_frames_gif(frames: list[np.ndarray], out: Path | str, fps: int = 10) -> Path:
    """RGB frames `[H, W, 3]` (a simulator's camera) as an animated GIF."""
    from PIL import Image

    if not frames:
        raise ValueError("nothing to draw: no frames")
    out = Path(out)
    images = [Image.fromarray(f) for f in frames]
    images[0].save(out, save_all=True, append_images=images[1:], duration=round(1000 / fps),
                   loop=0, optimize=True)
    return out


def render_gif(tr: EpisodeTrace, out: Path | str, title: str, cfg: ArenaConfig | None = None,
               fps: int = 10) -> Path:
    """Write the trace as an animated GIF, or an .mp4 where ffmpeg is installed (robot-centred
    view, world orientation); raises ValueError for .mp4 without ffmpeg, before drawing.

    Draws on its own Agg figure (no pyplot), so rendering never switches the caller's backend.
    One frame per trace frame.
    """
    from matplotlib.animation import FFMpegWriter, FuncAnimation, PillowWriter
    from matplotlib.patches import Circle

    if not len(tr):
        raise ValueError("nothing to draw: the trace has no frames")
    out = Path(out)
    video = out.suffix.lower() == ".mp4"
    if video and shutil.which("ffmpeg") is None:
        raise ValueError(f"writing {out.name} needs ffmpeg on PATH (e.g. `apt-get install "
                         f"ffmpeg`); or write a .gif")
    cfg = cfg or ArenaConfig()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig = agg_figure(4.8, 5.8, dpi=80)
    ax, strip = fig.subplots(2, 1, gridspec_kw={"height_ratios": [4.8, 1.0]})
    ax.set_aspect("equal")
    robot = Circle((0, 0), cfg.robot_radius, color="tab:blue", zorder=3)
    ax.add_patch(robot)
    heading, = ax.plot([], [], color="white", lw=2, zorder=4)
    k = tr.balls[0].shape[0]
    ball_patches = [Circle((np.nan, np.nan), cfg.ball_radius, zorder=2) for _ in range(k)]
    for p in ball_patches:
        ax.add_patch(p)
    trails = [ax.plot([], [], lw=1.5, alpha=0.6)[0] for _ in range(k)]
    hit_marks, = ax.plot([], [], "x", color="red", ms=12, mew=3, zorder=5)
    # With sensing: the detector's report (+, clutter included) and the tracks the policy saw.
    seen, = ax.plot([], [], "+", color="black", ms=7, mew=1.5, zorder=6)
    tracked, = ax.plot([], [], "o", mfc="none", mec="tab:green", ms=9, mew=1.5, zorder=6)
    text = ax.set_title("")
    hit_ticks = [t for t, _ in tr.hits]
    hit_pos = np.array([p for _, p in tr.hits]).reshape(-1, 2)

    times = (np.arange(len(tr)) + 1) * tr.dt
    commands = np.asarray(tr.commands if tr.commands else np.zeros(len(tr)), dtype=float)
    strip.plot(times, commands, color="0.6", lw=1)
    command_now, = strip.plot([], [], color="tab:blue", lw=1.5)
    limit = max(cfg.speed_limit, float(np.nanmax(np.abs(commands), initial=0.0)))
    strip.set_xlim(0.0, max(times[-1], tr.dt))
    strip.set_ylim(-1.1 * limit, 1.1 * limit)
    strip.set_ylabel("linear.x [m/s]", fontsize=7)
    strip.set_xlabel("t [s]", fontsize=7)
    strip.tick_params(labelsize=7)
    strip.axhline(0.0, color="0.85", lw=0.8, zorder=0)
    text.set_text(f"{title}   t=00.0s   hits 0/0")  # lay out room for the running title
    fig.tight_layout()

    def draw(i: int) -> list[object]:
        cx, cy = tr.robot[i]
        ax.set_xlim(cx - VIEW_M, cx + VIEW_M)
        ax.set_ylim(cy - VIEW_M, cy + VIEW_M)
        robot.center = (cx, cy)
        recent_hit = any(0 <= i - t < 5 for t in hit_ticks)
        robot.set_color("tab:red" if recent_hit else "tab:blue")
        hx, hy = tr.heading[i] * cfg.robot_radius
        heading.set_data([cx, cx + hx], [cy, cy + hy])
        past = np.array(tr.balls[max(0, i - TRAIL) : i + 1])
        for j, (patch, trail) in enumerate(zip(ball_patches, trails)):
            patch.center = tuple(tr.balls[i][j])
            color = "tab:orange" if tr.threat[i][j] else "tab:gray"
            patch.set_color(color)
            trail.set_data(past[:, j, 0], past[:, j, 1])
            trail.set_color(color)
        shown = [n for n, t in enumerate(hit_ticks) if t <= i]
        hit_marks.set_data(hit_pos[shown, 0], hit_pos[shown, 1])
        _, hits, balls = tr.resolved[i]
        # frame i shows the state after step i
        text.set_text(f"{title}   t={times[i]:4.1f}s   hits {hits}/{balls}")
        command_now.set_data(times[: i + 1], commands[: i + 1])
        if tr.detections:
            seen.set_data(tr.detections[i][:, 0], tr.detections[i][:, 1])
            tracked.set_data(tr.tracks[i][:, 0], tr.tracks[i][:, 1])
        return [robot, heading, hit_marks, text, command_now, seen, tracked, *ball_patches,
                *trails]

    anim = FuncAnimation(fig, draw, frames=len(tr), blit=False)
    anim.save(out, writer=FFMpegWriter(fps=fps) if video else PillowWriter(fps=fps))
    return out
