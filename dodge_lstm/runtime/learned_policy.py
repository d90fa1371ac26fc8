"""Policies by name for the CLI and tools, and a converted LSTM as an arena policy.

`LearnedPolicy` is a `WindowPolicy` around the TFLite model: rows from `ball_features`, windows
from `FeatureWindow`, the same code the `ball_features` node runs online, so an arena score is
a score of the deployed path.
"""

from __future__ import annotations

from pathlib import Path

from dodge_lstm.core.baselines import RandomPolicy, StationaryPolicy
from dodge_lstm.core.evaluation import Policy
from dodge_lstm.core.expert import ExpertPolicy
from dodge_lstm.runtime.tflite_policy import TFLitePolicy
from dodge_lstm.runtime.window_policy import WindowPolicy, policy_from_spec


class LearnedPolicy(WindowPolicy):
    """TFLite LSTM + ring buffer per arena (the model is batch-1: one call per arena)."""

    def __init__(self, model: Path | str, timesteps: int | None = None) -> None:
        self.model = TFLitePolicy(model, timesteps=timesteps)
        super().__init__(self.model, timesteps=self.model.timesteps,
                         num_slots=self.model.num_features // 4, name=Path(model).name)
        self.tracker = str(self.model.metadata.get("tracker") or "")
        """The tracker its training rows came through (`core.tracking.TRACKERS`); empty for a
        model trained on ground truth."""


def make_policy(spec: str, seed: int = 0, timesteps: int | None = None) -> Policy:
    """`expert`, `stationary`, `random`, a path to a `.tflite` model, or `module:callable` /
    `file.py:callable` (a window -> command function, or a Policy)."""
    if spec == "expert":
        return ExpertPolicy()
    if spec == "stationary":
        return StationaryPolicy()
    if spec == "random":
        return RandomPolicy(seed=seed)
    if spec.endswith(".tflite"):
        return LearnedPolicy(Path(spec), timesteps=timesteps)
    if ":" in spec:
        return policy_from_spec(spec, timesteps=timesteps)
    raise ValueError(f"unknown policy {spec!r}: use expert, stationary, random, a .tflite path "
                     f"or module:callable")
