"""Ball features in the robot frame, slot ordering and the online ring buffer.

This module is the single source of truth for what the network sees: `dataset` builds training
rows with `ball_features`, and the `ball_features` ROS node and the arena evaluation build their
online rows with the same function and window them with `FeatureWindow`.

Row layout (see docs/DESIGN.md): per slot `(x, y, vx, vy)` of a ball relative to the robot, in
the robot frame. Positions are translated then rotated; velocities (ball minus robot) are only
rotated. Slots are filled by time to closest approach so a ball keeps its slot while it keeps its
threat rank; empty slots hold `PLACEHOLDER`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

FEATURES_PER_BALL = 4
PLACEHOLDER = (0.0, 5.0, 0.0, 0.0)
"""An empty slot: a ball parked 5 m to the robot's left (where balls spawn), not moving."""


def feature_names(num_slots: int = 2) -> list[str]:
    """Column names of a feature row, e.g. `b0_x, b0_y, b0_vx, b0_vy, b1_x, ...`."""
    return [f"b{k}_{c}" for k in range(num_slots) for c in ("x", "y", "vx", "vy")]


def placeholder_row(num_slots: int = 2) -> np.ndarray:
    """A feature row with every slot empty (float32)."""
    return np.tile(np.asarray(PLACEHOLDER, dtype=np.float32), num_slots)


def to_robot_frame(vectors: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """Rotate world-frame vectors `[B, M, 2]` into robot frames with yaws `[B]` (no translation)."""
    c = np.cos(yaw)[:, None]
    s = np.sin(yaw)[:, None]
    x, y = vectors[..., 0], vectors[..., 1]
    return np.stack([c * x + s * y, -s * x + c * y], axis=-1)


def to_world_frame(vectors: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """Rotate robot-frame vectors `[B, M, 2]` into the world frame (`to_robot_frame`'s
    inverse; add the robot's position for points)."""
    c = np.cos(yaw)[:, None]
    s = np.sin(yaw)[:, None]
    x, y = vectors[..., 0], vectors[..., 1]
    return np.stack([c * x - s * y, s * x + c * y], axis=-1)


def slot_order(rel_pos: np.ndarray, rel_vel: np.ndarray, mask: np.ndarray,
               ball_ids: np.ndarray) -> np.ndarray:
    """Indices `[B, M]` sorting balls into slots by signed time to closest approach (soonest
    first; a ball already past it sorts first until it is resolved), empty entries last, ties
    by ball id. With a still robot every TCA falls at the same rate, so the order only changes
    when a ball appears or leaves."""
    vv = np.einsum("bmi,bmi->bm", rel_vel, rel_vel)
    pv = np.einsum("bmi,bmi->bm", rel_pos, rel_vel)
    with np.errstate(divide="ignore", invalid="ignore"):
        tca = np.where(vv > 0.0, -pv / vv, np.inf)
    key = np.where(mask, tca, np.inf)
    return np.lexsort((ball_ids, ~mask, key), axis=-1)


def ball_features(
    robot_pos: np.ndarray,
    robot_yaw: np.ndarray,
    robot_vel: np.ndarray,
    ball_pos: np.ndarray,
    ball_vel: np.ndarray,
    ball_mask: np.ndarray,
    ball_ids: np.ndarray | None = None,
    num_slots: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows `[B, 4 * num_slots]` (float32) and the ball id in each slot `[B, num_slots]`
    (-1 for an empty slot), from world-frame states.

    Shapes: robot `pos`/`vel` `[B, 2]`, `yaw` `[B]`; balls `pos`/`vel` `[B, M, 2]`, `mask` and
    `ids` `[B, M]`. M may be smaller or larger than `num_slots`.
    """
    b, m = ball_mask.shape
    if ball_ids is None:
        ball_ids = np.broadcast_to(np.arange(m), (b, m))
    rel_pos = to_robot_frame(ball_pos - robot_pos[:, None, :], robot_yaw)
    rel_vel = to_robot_frame(ball_vel - robot_vel[:, None, :], robot_yaw)
    order = slot_order(rel_pos, rel_vel, ball_mask, ball_ids)
    per_ball = np.concatenate([rel_pos, rel_vel], axis=-1)
    rows = np.broadcast_to(np.asarray(PLACEHOLDER), (b, num_slots, FEATURES_PER_BALL)).copy()
    ids = np.full((b, num_slots), -1, dtype=np.int64)
    take = min(m, num_slots)
    if take:
        idx = order[:, :take]
        filled = np.take_along_axis(ball_mask, idx, axis=1)
        chosen = np.take_along_axis(per_ball, idx[..., None], axis=1)
        rows[:, :take] = np.where(filled[..., None], chosen, rows[:, :take])
        ids[:, :take] = np.where(filled, np.take_along_axis(ball_ids, idx, axis=1), -1)
    return rows.reshape(b, num_slots * FEATURES_PER_BALL).astype(np.float32), ids


def mirror_fore_aft(features: np.ndarray, commands: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reflect rows across the robot's lateral axis (x -> -x, vx -> -vx) and negate commands.

    This is the seed's mirror trick done in the robot frame: a ball that would hit the robot's
    front becomes one that would hit its back, and the right reaction flips sign. The placeholder
    is invariant under it.
    """
    f = features.copy()
    f[..., 0::FEATURES_PER_BALL] *= -1.0
    f[..., 2::FEATURES_PER_BALL] *= -1.0
    return f, -commands


class FeatureWindow:
    """Ring buffer of the last `timesteps` feature rows for B streams, oldest row first.

    It starts filled with placeholder rows ("no ball seen yet"), which is also what the first
    rows of every training episode look like, since balls appear after a spawn delay.
    """

    def __init__(self, timesteps: int, num_slots: int = 2, batch: int = 1) -> None:
        if timesteps < 1:
            raise ValueError(f"timesteps must be >= 1, got {timesteps}")
        self.timesteps = int(timesteps)
        self.num_features = num_slots * FEATURES_PER_BALL
        self._empty = placeholder_row(num_slots)
        self._buf = np.empty((batch, self.timesteps, self.num_features), dtype=np.float32)
        self._head = 0
        self._order = np.arange(self.timesteps)
        self.clear()

    def clear(self) -> None:
        """Forget every row."""
        self._buf[:] = self._empty
        self._head = 0
        self._order = np.arange(self.timesteps)

    def push(self, rows: np.ndarray) -> None:
        """Append one row per stream (`[B, F]`, or `[F]` for a single stream)."""
        self._buf[:, self._head] = rows
        self._head = (self._head + 1) % self.timesteps
        self._order = (self._head + np.arange(self.timesteps)) % self.timesteps

    def reset_rows(self, rows: np.ndarray, newest: np.ndarray) -> None:
        """Restart streams `rows` as if fresh and then `newest` (`[len(rows), F]`) was pushed;
        the other streams keep their history (the ring head is shared, so no push here)."""
        self._buf[rows] = self._empty
        self._buf[rows, (self._head - 1) % self.timesteps] = newest

    def window(self) -> np.ndarray:
        """A copy `[B, timesteps, F]` of the buffered rows, oldest first."""
        return self._buf[:, self._order]


@dataclass(frozen=True)
class WindowSpec:
    """What the feature ring buffer must cut: the window the loaded model takes.

    The policy node publishes it when it loads a model, and the feature node sizes its buffer
    from it, so the window shape has one source (the model's metadata) instead of two
    parameters that must agree. JSON on the wire: it will grow (issue: sensing pipelines), and
    unknown keys are ignored.
    """

    timesteps: int
    num_slots: int
    model: str = ""
    """The model file it came from, for logs and diagnostics."""
    tracker: str = ""
    """How the model's training rows turned detections into ball states (`core.tracking`
    TRACKERS: `kf`, `cv` or `raw`); empty for a model trained on ground truth. A graph that senses
    builds the same pipeline."""

    def __post_init__(self) -> None:
        for name in ("timesteps", "num_slots"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"window spec {name} must be an integer >= 1, got {value!r}")
        if self.tracker not in ("", "kf", "cv", "raw"):  # core.tracking.TRACKERS (no import
            # here: tracking imports the sensor, which imports this module)
            raise ValueError(f"window spec tracker must be kf, cv or raw, got {self.tracker!r}")

    @property
    def num_features(self) -> int:
        """Floats per row."""
        return self.num_slots * FEATURES_PER_BALL

    @property
    def shape(self) -> tuple[int, int]:
        """`(timesteps, features)` of one window."""
        return self.timesteps, self.num_features

    @classmethod
    def from_metadata(cls, meta: dict, model: str = "") -> WindowSpec:
        """The window a model with this metadata takes (ValueError if it cannot say)."""
        features = int(meta["num_features"])
        if features % FEATURES_PER_BALL:
            raise ValueError(f"num_features {features} is not a multiple of "
                             f"{FEATURES_PER_BALL} (x, y, vx, vy per ball)")
        return cls(int(meta["timesteps"]), features // FEATURES_PER_BALL, model,
                   str(meta.get("tracker") or ""))

    def to_json(self) -> str:
        return json.dumps({"timesteps": self.timesteps, "num_slots": self.num_slots,
                           "model": self.model, "tracker": self.tracker})

    @classmethod
    def from_json(cls, text: str) -> WindowSpec:
        """Parse `to_json`'s text; ValueError if malformed."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"window spec is not JSON: {exc}") from None
        if not isinstance(data, dict) or not {"timesteps", "num_slots"} <= data.keys():
            raise ValueError(f"window spec must be an object with timesteps and num_slots, "
                             f"got {text[:80]!r}")
        return cls(data["timesteps"], data["num_slots"], str(data.get("model", "")),
                   str(data.get("tracker") or ""))
