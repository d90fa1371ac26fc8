"""Animated pictures of arena episodes, so a person can see a policy dodge (or not).

The 2020 project showed its robot in GIFs; `dodge-lstm render` does the same for any policy:
the robot (blue, red for a moment after a hit), balls with short trails (orange for threats,
grey otherwise), a cross where a ball hit, and running counts in the title.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dodge_lstm.core.arena import Arena
from dodge_lstm.core.config import ArenaConfig, SpawnConfig
from dodge_lstm.core.evaluation import Policy
from dodge_lstm.viz.figure import agg_figure

TRAIL = 6


@dataclass
class EpisodeTrace:
    """What happened in one arena, tick by tick."""

    robot: list[np.ndarray] = field(default_factory=list)
    heading: list[np.ndarray] = field(default_factory=list)
    balls: list[np.ndarray] = field(default_factory=list)
    threat: list[np.ndarray] = field(default_factory=list)
    hits: list[tuple[int, np.ndarray]] = field(default_factory=list)
    resolved: list[tuple[int, int, int]] = field(default_factory=list)  # (tick, hits, balls)


def trace_episode(policy: Policy, seconds: float, seed: int,
                  arena_cfg: ArenaConfig | None = None,
                  spawn_cfg: SpawnConfig | None = None) -> EpisodeTrace:
    """Run one arena for `seconds` and keep every pose."""
    arena = Arena(1, arena_cfg, spawn_cfg, seed=seed)
    policy.reset(arena)
    tr = EpisodeTrace()
    hits = balls = 0
    for tick in range(round(seconds * arena.cfg.control_rate_hz)):
        out = arena.step(policy.act(arena))
        for i in range(len(out)):
            balls += 1
            if out.hit[i]:
                hits += 1
                tr.hits.append((tick, arena.robot_pos[0].copy()))
        tr.robot.append(arena.robot_pos[0].copy())
        tr.heading.append(arena.heading[0].copy())
        tr.balls.append(np.where(arena.alive[0][:, None], arena.ball_pos[0], np.nan))
        tr.threat.append(arena.threat[0].copy())
        tr.resolved.append((tick, hits, balls))
    return tr


def render_gif(tr: EpisodeTrace, out: Path | str, title: str, cfg: ArenaConfig | None = None,
               fps: int = 10) -> Path:
    """Write the trace as an animated GIF (robot-centred view, world orientation).

    Draws on its own Agg figure (no pyplot), so rendering never switches the caller's backend.
    """
    from matplotlib.animation import FuncAnimation, PillowWriter
    from matplotlib.patches import Circle

    cfg = cfg or ArenaConfig()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig = agg_figure(4.8, 4.8, dpi=80)
    ax = fig.add_subplot()
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
    text = ax.set_title("")
    hit_ticks = [t for t, _ in tr.hits]
    hit_pos = np.array([p for _, p in tr.hits]).reshape(-1, 2)

    def draw(i: int) -> list[object]:
        cx, cy = tr.robot[i]
        ax.set_xlim(cx - 6, cx + 6)
        ax.set_ylim(cy - 6, cy + 6)
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
        text.set_text(f"{title}   t={(i + 1) / cfg.control_rate_hz:4.1f}s   hits {hits}/{balls}")
        return [robot, heading, hit_marks, text, *ball_patches, *trails]

    anim = FuncAnimation(fig, draw, frames=len(tr.robot), blit=False)
    anim.save(out, writer=PillowWriter(fps=fps))
    return out
