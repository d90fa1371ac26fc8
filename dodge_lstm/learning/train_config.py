"""The one training configuration, shared by `train`, `dagger`, `sweep` and their outputs.

Every training default lives here and nowhere else: the CLI generates its options from these
fields (help text from the docstrings under them), and every output records `asdict(config)`
so a run can be repeated from its files. TensorFlow-free, so any machine can build one.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dodge_lstm.core.config import field_docs

__all__ = ["TrainConfig", "add_train_config_args", "train_config_from_args"]


@dataclass(frozen=True)
class TrainConfig:
    """How one LSTM is trained: model size, optimizer, early stopping, eval split and seed."""

    timesteps: int = 5
    """Window length N: control ticks the LSTM sees per command."""
    units: int = 15
    """LSTM hidden units."""
    epochs: int = 40
    """Most epochs; early stopping usually ends training sooner."""
    batch_size: int = 256
    """Windows per Adam step."""
    patience: int = 5
    """Epochs without a better eval loss before early stopping; the best weights are restored."""
    eval_fraction: float = 0.2
    """Share of segments held out for the eval loss, in [0, 1); 0 monitors the train loss."""
    segment_seconds: float = 30.0
    """Episodes are cut into segments this long [s] for the eval split, so one long recording
    can hold some out; a segment and its mirror twin stay on one side; 0 keeps episodes whole."""
    learning_rate: float = 1e-3
    """Adam step size."""
    seed: int = 0
    """Random seed of the weight init, batch shuffling and the eval split."""

    def validate(self) -> TrainConfig:
        """Raise ValueError naming the first field Keras or the split could not use."""
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            kind = type(f.default)
            ok = isinstance(v, (int, float)) if kind is float else isinstance(v, int)
            if isinstance(v, bool) or not ok:
                raise ValueError(f"{f.name} must be {kind.__name__}, got {v!r}")
        for name in ("timesteps", "units", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("patience", "seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not (math.isfinite(self.segment_seconds) and self.segment_seconds >= 0):
            raise ValueError(f"segment_seconds must be >= 0, got {self.segment_seconds}")
        if not 0.0 <= self.eval_fraction < 1.0:
            raise ValueError(f"eval_fraction must be in [0, 1), got {self.eval_fraction}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        return self

    def with_(self, **changes: Any) -> TrainConfig:
        """A validated copy with `changes` (e.g. one sweep pair's timesteps and units)."""
        return dataclasses.replace(self, **changes).validate()


def add_train_config_args(
    parser: argparse.ArgumentParser, *, skip: Iterable[str] = ()
) -> None:
    """Add `--field-name` for every TrainConfig field not in `skip`, default from the class."""
    docs = field_docs(TrainConfig)
    skipped = set(skip)
    for f in dataclasses.fields(TrainConfig):
        if f.name in skipped:
            continue
        help_text = docs[f.name].rstrip(".").replace("%", "%%")
        parser.add_argument(
            "--" + f.name.replace("_", "-"), type=type(f.default), default=f.default,
            help=f"{help_text} (default {f.default:g})",
        )


def train_config_from_args(
    args: argparse.Namespace, *, skip: Iterable[str] = ()
) -> TrainConfig:
    """The validated TrainConfig of parsed options; skipped fields keep their defaults.

    Pass the same `skip` as to `add_train_config_args` (the sweep's `--timesteps` is a grid).
    """
    skipped = set(skip)
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
              if f.name not in skipped}
    return TrainConfig(**values).validate()
