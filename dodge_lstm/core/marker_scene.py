"""What the `dodge_markers` node draws, without ROS: one list of marker specs per robot state.

The node turns each `MarkerSpec` into a `visualization_msgs/Marker`; everything else (which balls
are live, their ids, threat colours, outcome flashes, deletions, the score) is decided here, from
Odometry-shaped messages read through `core.odometry`, so it is unit-tested with plain objects.

Identity: a marker is `(ns, id)`. The robot body and heading live in `NS_ROBOT` (ids 0 and 1), the
score text in `NS_SCORE` (id 0). Each ball name gets one id from a counter when it is first
drawn, used in both `NS_BALL` (its sphere) and `NS_BALL_VELOCITY` (its velocity arrow). Ids are
never reused, so a late or repeated DELETE can never remove a newer ball's marker.

Life of a ball's markers: ADD (the same id, re-sent every tick: rviz and Foxglove treat a repeat
ADD as MODIFY) while the ball is live; after its `hit`/`passed` outcome the velocity arrow is
deleted and the sphere flashes red (hit) or green (passed) in place for `flash_s`; then the
sphere is deleted. A ball that vanishes without an outcome (timeout, `rejected`, time reset) is
deleted at once. Every ball marker that was ever added gets a DELETE; none is leaked.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from dodge_lstm.core.collision import line_miss_distance
from dodge_lstm.core.evaluation import ThreatTally
from dodge_lstm.core.feature_rows import BallTracker
from dodge_lstm.core.odometry import finite_odometry, robot_state, stamp_ns

NS_ROBOT = "robot"
NS_SCORE = "score"
NS_BALL = "balls"
NS_BALL_VELOCITY = "ball_velocity"
NS_DETECTIONS = "detections"
DETECTIONS_ID = 0
ROBOT_BODY_ID = 0
ROBOT_HEADING_ID = 1
SCORE_ID = 0

# Kinds and actions, named as in visualization_msgs/Marker (the node maps them to its constants).
CYLINDER, SPHERE, ARROW, TEXT = "CYLINDER", "SPHERE", "ARROW", "TEXT_VIEW_FACING"
POINTS = "POINTS"
ADD, DELETE = "ADD", "DELETE"

RGBA = tuple[float, float, float, float]
# The colours of `dodge-lstm render` (matplotlib's tab: palette), so a GIF and rviz agree.
ROBOT_COLOR: RGBA = (0.122, 0.467, 0.706, 1.0)  # tab:blue
THREAT_COLOR: RGBA = (1.0, 0.498, 0.055, 1.0)  # tab:orange: would hit the robot standing still
SAFE_COLOR: RGBA = (0.498, 0.498, 0.498, 1.0)  # tab:gray: would miss it
HIT_COLOR: RGBA = (0.839, 0.153, 0.157, 1.0)  # tab:red: flash after a hit (and the robot)
PASSED_COLOR: RGBA = (0.173, 0.627, 0.173, 1.0)  # tab:green: flash after a pass
TEXT_COLOR: RGBA = (1.0, 1.0, 1.0, 1.0)
DETECTION_COLOR: RGBA = (0.0, 0.0, 0.0, 1.0)  # black: what the detector reported
DETECTION_SIZE = 0.1  # [m] the side of a detection point
FLASH_DIM_ALPHA = 0.35
"""Every other flash tick is drawn this transparent: the sphere blinks."""

ROBOT_HEIGHT = 0.2  # [m] the body cylinder; the arena is 2-D, heights are for looks only
HEADING_LENGTH = 0.45  # [m]
ARROW_SHAFT = 0.04  # [m] diameter of velocity arrows
ARROW_HEAD = 0.09  # [m] head diameter and length of velocity arrows
TEXT_HEIGHT = 0.22  # [m] height of an uppercase letter of the score text
TEXT_ABOVE = 0.9  # [m] the score floats this high above the robot
RESOLVED_MEMORY = 1024
"""Names of resolved balls remembered, so a late balls/odom cannot bring a ball back (a state
stamped after the outcome is a new ball under a reused name, e.g. a restarted spawner)."""


@dataclass(frozen=True)
class MarkerSpec:
    """One marker, in the fixed (odom) frame; for DELETE only `ns` and `id` matter.

    ARROW: from `points[0]` to `points[1]` if given (scale = shaft diameter, head diameter, head
    length), else along `yaw` at `position` (scale = length, width, height), as rviz draws them.
    """

    ns: str
    id: int
    kind: str
    action: str = ADD
    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    yaw: float = 0.0
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
    color: RGBA = (1.0, 1.0, 1.0, 1.0)
    points: tuple[tuple[float, float, float], ...] = ()
    text: str = ""


@dataclass
class _Ball:
    """A ball name with markers on screen."""

    id: int
    position: np.ndarray
    arrow: bool = True
    outcome: str | None = None
    flash_start_ns: int | None = None
    flash_ticks: int = 0


class MarkerScene:
    """Robot odometry, ball odometry and outcomes in; one list of `MarkerSpec` per robot state
    out (`on_odom`), plus the running score."""

    def __init__(self, robot_radius: float, ball_radius: float, ball_timeout_s: float = 0.25,
                 flash_s: float = 0.5, arrow_time_s: float = 0.3) -> None:
        if robot_radius <= 0 or ball_radius <= 0:
            raise ValueError("robot_radius and ball_radius must be > 0")
        if flash_s < 0 or arrow_time_s <= 0:
            raise ValueError("flash_s must be >= 0 and arrow_time_s > 0")
        self.robot_radius = robot_radius
        self.ball_radius = ball_radius
        self.contact_distance = robot_radius + ball_radius
        self.flash_ns = int(flash_s * 1e9)
        self.arrow_time_s = arrow_time_s
        self.tracker = BallTracker(ball_timeout_s)
        self.tally = ThreatTally()
        self.rejected = 0
        """Non-finite robot odometry (bad ball messages: `tracker.rejected`)."""
        self._balls: dict[str, _Ball] = {}
        self._resolved: OrderedDict[str, int] = OrderedDict()
        """Resolved ball name -> newest robot stamp when its outcome came (bounded)."""
        self._next_id = 0
        self._now_ns: int | None = None

    # -- inputs ---------------------------------------------------------------------------

    def on_ball(self, msg: Any) -> bool:
        """A `balls/odom` message; False if it was rejected (counted by the tracker)."""
        resolved_at = self._resolved.get(msg.child_frame_id)
        if resolved_at is not None:
            if finite_odometry(msg) and stamp_ns(msg) <= resolved_at:
                return True  # a late state of a ball already resolved: not a new ball
            del self._resolved[msg.child_frame_id]  # a new ball under an old name
        return self.tracker.update(msg)

    def on_outcome(self, name: str, outcome: str, threat: bool) -> None:
        """A `balls/outcome`: score it, stop tracking the ball and start its flash."""
        self.tracker.remove(name)
        # States of this ball stamped up to the newest robot state seen are late, not new.
        self._resolved[name] = self._now_ns if self._now_ns is not None else -1
        self._resolved.move_to_end(name)
        while len(self._resolved) > RESOLVED_MEMORY:
            self._resolved.popitem(last=False)
        if outcome == "rejected":  # never flew: not scored; drawn markers go at the next tick
            return
        self.tally.add(outcome == "hit", threat)
        ball = self._balls.get(name)
        if ball is not None and ball.outcome is None:
            ball.outcome = outcome

    def advance(self, msg: Any) -> list[MarkerSpec] | None:
        """Take this robot state's time without drawing (a frame the viewer will not get): the
        DELETEs of a reset if time went back, else []; None if rejected, as `on_odom`.

        Nothing else is due: a ball that leaves before the next drawn frame was never drawn
        since, and that frame deletes whatever it no longer shows."""
        if not finite_odometry(msg):
            self.rejected += 1
            return None
        return self.advance_to(stamp_ns(msg))

    def advance_to(self, now_ns: int) -> list[MarkerSpec]:
        """`advance` for a robot state already known to be finite, by its stamp alone."""
        out: list[MarkerSpec] = []
        if self._now_ns is not None and now_ns < self._now_ns:
            out += self.reset()  # time went back (simulator restart, looping bag)
        self._now_ns = now_ns
        return out

    def on_odom(self, msg: Any) -> list[MarkerSpec] | None:
        """The whole scene at this robot state (ADDs and the DELETEs due now), or None if the
        message was rejected (non-finite; counted in `rejected`)."""
        out = self.advance(msg)
        if out is None:
            return None
        now = stamp_ns(msg)
        pos, yaw, vel = robot_state(msg)
        live = {name: (p, v) for name, _, p, v in self.tracker.states(now)}
        for name, (p, v) in live.items():
            ball = self._balls.get(name)
            if ball is not None and ball.outcome is not None:
                # A new ball under the name of one still flashing: that one ends now.
                out.append(MarkerSpec(NS_BALL, ball.id, SPHERE, DELETE))
                ball = None
            if ball is None:
                ball = self._balls[name] = _Ball(self._new_id(), p)
            ball.position, ball.arrow = p, True
            threat = bool(line_miss_distance(p - pos, v) < self.contact_distance)
            color = THREAT_COLOR if threat else SAFE_COLOR
            out.append(self._sphere(ball, color))
            out.append(self._velocity_arrow(ball.id, p, v, color))
        hit_flash = False
        for name, ball in list(self._balls.items()):
            if name in live:
                continue
            if ball.arrow:
                out.append(MarkerSpec(NS_BALL_VELOCITY, ball.id, ARROW, DELETE))
                ball.arrow = False
            if ball.outcome is not None:
                if ball.flash_start_ns is None:
                    ball.flash_start_ns = now
                if now - ball.flash_start_ns < self.flash_ns:
                    color = HIT_COLOR if ball.outcome == "hit" else PASSED_COLOR
                    if ball.flash_ticks % 2:
                        color = (*color[:3], FLASH_DIM_ALPHA)
                    ball.flash_ticks += 1
                    out.append(self._sphere(ball, color))
                    hit_flash |= ball.outcome == "hit"
                    continue
            out.append(MarkerSpec(NS_BALL, ball.id, SPHERE, DELETE))
            del self._balls[name]
        out += self._robot(pos, yaw, HIT_COLOR if hit_flash else ROBOT_COLOR)
        out.append(MarkerSpec(NS_SCORE, SCORE_ID, TEXT,
                              position=(float(pos[0]), float(pos[1]), TEXT_ABOVE),
                              scale=(0.0, 0.0, TEXT_HEIGHT), color=TEXT_COLOR,
                              text=self.score_text(float(np.hypot(*vel)))))
        return out

    def detections(self, points: np.ndarray) -> MarkerSpec:
        """A detector's report `[D, 2]` (odom frame, where the robot was at capture) as one
        POINTS marker that replaces the previous report (same id; empty: nothing shown)."""
        return MarkerSpec(NS_DETECTIONS, DETECTIONS_ID, POINTS,
                          scale=(DETECTION_SIZE, DETECTION_SIZE, 0.0), color=DETECTION_COLOR,
                          points=tuple((float(x), float(y), float(self.ball_radius))
                                       for x, y in np.asarray(points).reshape(-1, 2)))

    def reset(self) -> list[MarkerSpec]:
        """Forget every ball and the score; the DELETEs for whatever was drawn."""
        out = []
        for ball in self._balls.values():
            if ball.arrow:
                out.append(MarkerSpec(NS_BALL_VELOCITY, ball.id, ARROW, DELETE))
            out.append(MarkerSpec(NS_BALL, ball.id, SPHERE, DELETE))
        self._balls.clear()
        self._resolved.clear()
        self.tracker.clear()
        self.tally = ThreatTally()
        return out

    # -- state ----------------------------------------------------------------------------

    def drawn_ids(self) -> dict[str, int]:
        """Ball name -> marker id of every ball sphere on screen (live or flashing)."""
        return {name: ball.id for name, ball in self._balls.items()}

    def score_text(self, speed: float | None = None) -> str:
        """`balls 12  hits 1  threat dodge 90% (9/10)` (and the robot's speed if given)."""
        t = self.tally
        dodged = t.threat_balls - t.threat_hits
        rate = "-" if math.isnan(t.threat_dodge_rate) else f"{t.threat_dodge_rate:.0%}"
        text = f"balls {t.balls}  hits {t.hits}  threat dodge {rate} ({dodged}/{t.threat_balls})"
        return text if speed is None else f"{text}\nspeed {speed:.2f} m/s"

    # -- drawing --------------------------------------------------------------------------

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _sphere(self, ball: _Ball, color: RGBA) -> MarkerSpec:
        d = 2.0 * self.ball_radius
        x, y = map(float, ball.position)
        return MarkerSpec(NS_BALL, ball.id, SPHERE, position=(x, y, self.ball_radius),
                          scale=(d, d, d), color=color)

    def _velocity_arrow(self, ball_id: int, p: np.ndarray, v: np.ndarray, color: RGBA,
                        ) -> MarkerSpec:
        """From the ball's centre to where it will be in `arrow_time_s`."""
        z = self.ball_radius
        tip = p + v * self.arrow_time_s
        return MarkerSpec(NS_BALL_VELOCITY, ball_id, ARROW,
                          points=((float(p[0]), float(p[1]), z), (float(tip[0]), float(tip[1]), z)),
                          scale=(ARROW_SHAFT, ARROW_HEAD, ARROW_HEAD), color=color)

    def _robot(self, pos: np.ndarray, yaw: float, color: RGBA) -> list[MarkerSpec]:
        d = 2.0 * self.robot_radius
        x, y = map(float, pos)
        return [
            MarkerSpec(NS_ROBOT, ROBOT_BODY_ID, CYLINDER, position=(x, y, ROBOT_HEIGHT / 2),
                       yaw=yaw, scale=(d, d, ROBOT_HEIGHT), color=color),
            MarkerSpec(NS_ROBOT, ROBOT_HEADING_ID, ARROW, position=(x, y, ROBOT_HEIGHT + 0.02),
                       yaw=yaw, scale=(HEADING_LENGTH, 0.08, 0.08), color=TEXT_COLOR),
        ]
