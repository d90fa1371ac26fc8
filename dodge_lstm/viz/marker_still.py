"""A still of the marker view: what rviz shows of `markers`, looked at from straight above.

Takes the markers a viewer shows at one moment (`bags.bag_markers.markers_at(...).markers`, or
anything with the same attributes: `ns`, `id`, `type`, `pose` (x, y, yaw), `z`, `scale`,
`color`, `text`, `points`) and draws them as rviz2 does, flattened onto the ground plane:

- CYLINDER and SPHERE: an ellipse `scale.x` by `scale.y` across (their diameters), turned by yaw;
  CUBE: a `scale.x` by `scale.y` rectangle;
- ARROW from its pose: `scale.x` long along yaw, shaft `scale.y` wide, head `2 scale.y` wide and
  `0.23 scale.x` long; ARROW from two `points` (taken through the pose): shaft `scale.x`, head
  `scale.y` wide and `scale.z` long (0: 0.23 of the length);
- TEXT_VIEW_FACING: capital letters `scale.z` tall, centred above its position, its bottom
  edge lifted up the picture by its height z. Text that faces the camera has no footprint on
  the ground, and from straight above `dodge_markers`' score (0.9 m over the robot) would hide
  the robot: this is where it floats for a camera tilted 45 degrees towards +y;
- other types are not drawn (a note in the corner counts them).

Higher markers (pose z, plus their points' z) are drawn over lower ones, as seen from above.
The background is rviz's (dark grey, with a 1 m grid in the markers' frame), the view a square
of `2 view_m` metres centred on the robot (the CYLINDER in ns `robot`), equal aspect, the time
in the title. Figure + Agg, no pyplot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dodge_lstm.core import marker_scene
from dodge_lstm.viz.episode_gif import VIEW_M
from dodge_lstm.viz.figure import agg_figure

__all__ = ["AXES", "DPI", "SIZE_IN", "render_marker_still", "view_centre"]

SIZE_IN = (6.0, 6.0)
DPI = 100
"""The PNG is `SIZE_IN * DPI` pixels (600 x 600)."""
AXES = (0.13, 0.09, 0.82, 0.82)
"""Where the (square) view sits in the figure: left, bottom, width, height as fractions."""
BACKGROUND = (48 / 255, 48 / 255, 48 / 255)  # rviz's default background
GRID = (160 / 255, 160 / 255, 164 / 255, 0.5)  # rviz's Grid display: 1 m cells
CAP_HEIGHT = 0.73
"""Capital letter height of DejaVu Sans in ems: a TEXT marker's scale.z is that height."""
ARROW_HEAD = 0.23
"""Head length over total length of rviz's arrows (its default proportions 0.77 : 0.23)."""


def view_centre(markers: Sequence[Any], ns: str = marker_scene.NS_ROBOT) -> tuple[float, float]:
    """The robot's position: the CYLINDER in `ns` (else any marker there), else the middle of
    every marker's position."""
    in_ns = [m for m in markers if m.ns == ns]
    for m in sorted(in_ns, key=lambda m: m.type != marker_scene.CYLINDER):
        return m.pose[0], m.pose[1]
    if not markers:
        return 0.0, 0.0
    xs, ys = [m.pose[0] for m in markers], [m.pose[1] for m in markers]
    return (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2


def _world(m: Any, point: Sequence[float]) -> tuple[float, float]:
    """A marker point (in the marker's frame) through its pose."""
    x, y, yaw = m.pose
    c, s = math.cos(yaw), math.sin(yaw)
    return x + c * point[0] - s * point[1], y + s * point[0] + c * point[1]


def _height(m: Any) -> float:
    """How high a marker is drawn (its points' mean height through the pose, if it has any)."""
    if not m.points:
        return m.z
    return m.z + sum(p[2] for p in m.points) / len(m.points)


def _arrow(m: Any) -> tuple[float, float, float, float, float, float, float] | None:
    """(x, y, dx, dy, shaft width, head width, head length) of an ARROW, None if undrawable."""
    sx, sy, sz = m.scale
    if len(m.points) >= 2:
        (x0, y0), (x1, y1) = _world(m, m.points[0]), _world(m, m.points[1])
        length = math.hypot(x1 - x0, y1 - y0)
        head = min(sz, length) if sz > 0 else ARROW_HEAD * length
        return x0, y0, x1 - x0, y1 - y0, sx, sy, head
    if m.points:  # one point: rviz refuses it too
        return None
    x, y, yaw = m.pose
    return x, y, sx * math.cos(yaw), sx * math.sin(yaw), sy, 2 * sy, ARROW_HEAD * sx


def render_marker_still(markers: Sequence[Any], out: Path | str, time_s: float,
                        title: str = "markers", view_m: float = VIEW_M,
                        frame: str = "odom", stamp_s: float | None = None) -> Path:
    """Write the markers as a top-down PNG centred on the robot; returns the path.

    `time_s` (and the header stamp `stamp_s` of the newest marker, if given) go in the title.
    Raises ValueError if there is nothing to draw.
    """
    from matplotlib.patches import Ellipse, FancyArrow, Rectangle

    if not markers:
        raise ValueError(f"nothing to draw: no markers are shown at {time_s:.2f} s")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig = agg_figure(*SIZE_IN, dpi=DPI)
    fig.patch.set_facecolor("white")
    ax = fig.add_axes(AXES)
    cx, cy = view_centre(markers)
    ax.set_xlim(cx - view_m, cx + view_m)
    ax.set_ylim(cy - view_m, cy + view_m)
    ax.set_aspect("equal", adjustable="box")
    ax.set_facecolor(BACKGROUND)
    for k in range(math.floor(cx - view_m), math.ceil(cx + view_m) + 1):
        ax.axvline(k, color=GRID, lw=0.6, zorder=0)
    for k in range(math.floor(cy - view_m), math.ceil(cy + view_m) + 1):
        ax.axhline(k, color=GRID, lw=0.6, zorder=0)
    ax.set_xlabel(f"x [m] ({frame})")
    ax.set_ylabel(f"y [m] ({frame})")
    stamp = "" if stamp_s is None else f" (stamp {stamp_s:.1f} s)"
    ax.set_title(f"{title}   t={time_s:.1f} s{stamp}")

    # metres -> points, for text heights (the axes box is square and fixed: no layout engine)
    points_per_m = AXES[2] * SIZE_IN[0] * 72.0 / (2 * view_m)
    skipped: dict[str, int] = {}
    for order, m in enumerate(sorted(markers, key=_height)):
        zorder = 1 + order / (len(markers) + 1)
        x, y, yaw = m.pose
        sx, sy, sz = m.scale
        if m.type in (marker_scene.CYLINDER, marker_scene.SPHERE):
            ax.add_patch(Ellipse((x, y), sx, sy, angle=math.degrees(yaw), color=m.color,
                                 lw=0, zorder=zorder))
        elif m.type == "CUBE":
            corner = _world(m, (-sx / 2, -sy / 2))
            ax.add_patch(Rectangle(corner, sx, sy, angle=math.degrees(yaw), color=m.color,
                                   lw=0, zorder=zorder))
        elif m.type == marker_scene.ARROW:
            arrow = _arrow(m)
            if arrow is None or math.hypot(arrow[2], arrow[3]) == 0:
                continue
            ax0, ay0, dx, dy, shaft, head_w, head_l = arrow
            ax.add_patch(FancyArrow(ax0, ay0, dx, dy, width=shaft, head_width=head_w,
                                    head_length=head_l, length_includes_head=True,
                                    color=m.color, lw=0, zorder=zorder))
        elif m.type == marker_scene.TEXT:
            ax.text(x, y + max(m.z, 0.0), m.text, color=m.color, ha="center", va="bottom",
                    multialignment="center", fontsize=sz * points_per_m / CAP_HEIGHT,
                    zorder=zorder, clip_on=True)
        else:
            skipped[m.type] = skipped.get(m.type, 0) + 1
    if skipped:
        note = ", ".join(f"{n} {kind}" for kind, n in sorted(skipped.items()))
        ax.text(0.01, 0.01, f"not drawn: {note}", transform=ax.transAxes, color="white",
                fontsize=7, ha="left", va="bottom", zorder=10)
    fig.savefig(out, format="png", dpi=DPI, facecolor=fig.get_facecolor())
    return out
