"""A converted LSTM as an arena policy, fed exactly as the ROS nodes feed it.

Rows come from `features.ball_features` and windows from `features.FeatureWindow`: the same
code the `ball_features` node runs online, so an arena score is a score of the deployed path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dodge_lstm.core.baselines import RandomPolicy, StationaryPolicy
from dodge_lstm.core.evaluation import Policy
from dodge_lstm.core.expert import ExpertPolicy
from dodge_lstm.core.features import FeatureWindow, ball_features
from dodge_lstm.runtime.tflite_policy import TFLitePolicy


class LearnedPolicy:
    """TFLite LSTM + ring buffer per arena."""

    def __init__(self, model: Path | str, timesteps: int | None = None) -> None:
        self.model = TFLitePolicy(model, timesteps=timesteps)
        self.name = Path(model).name
        self.timesteps = self.model.timesteps
        self.num_slots = self.model.num_features // 4
        self.window = FeatureWindow(self.timesteps, self.num_slots, batch=1)

    def reset(self, arena) -> None:
        """Fresh ring buffers ("no ball seen yet") for every arena."""
        self.window = FeatureWindow(self.timesteps, self.num_slots, batch=arena.batch)

    def act(self, arena) -> np.ndarray:
        """Observe, push a row per arena, run the model once per arena (it is batch-1)."""
        rows, _ = ball_features(arena.robot_pos, arena.robot_yaw, arena.robot_vel, arena.ball_pos,
                                arena.ball_vel, arena.alive, arena.ball_id, self.num_slots)
        self.window.push(rows)
        windows = self.window.window()
        return np.array([self.model(w) for w in windows])


def make_policy(spec: str, seed: int = 0, timesteps: int | None = None) -> Policy:
    """`expert`, `stationary`, `random`, or a path to a `.tflite` model."""
    if spec == "expert":
        return ExpertPolicy()
    if spec == "stationary":
        return StationaryPolicy()
    if spec == "random":
        return RandomPolicy(seed=seed)
    if spec.endswith(".tflite"):
        return LearnedPolicy(Path(spec), timesteps=timesteps)
    raise ValueError(f"unknown policy {spec!r}: use expert, stationary, random or a .tflite path")
