"""Pure-numpy forward pass of the dodge LSTM.

Exists as an independent cross-check of the TFLite conversion (a second implementation of the
same maths, written from the Keras 3 LSTM equations, computed in float64) and as a baseline for
the inference benchmark. It needs no TensorFlow and no interpreter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["LSTMWeights", "numpy_forward"]


@dataclass(frozen=True)
class LSTMWeights:
    """Weights of `training.build_model` in Keras layout (gate order i, f, c, o)."""

    kernel: np.ndarray  # [F, 4U]
    recurrent_kernel: np.ndarray  # [U, 4U]
    bias: np.ndarray  # [4U]
    dense_kernel: np.ndarray  # [U, 1]
    dense_bias: np.ndarray  # [1]
    speed_limit: float

    def __post_init__(self) -> None:
        f, four_u = self.kernel.shape
        u = four_u // 4
        expected = {
            "kernel": (f, 4 * u),
            "recurrent_kernel": (u, 4 * u),
            "bias": (4 * u,),
            "dense_kernel": (u, 1),
            "dense_bias": (1,),
        }
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise ValueError(
                    f"LSTM weight {name} has shape {getattr(self, name).shape}, expected {shape} "
                    f"for {f} features and {u} units"
                )
        if not (np.isfinite(self.speed_limit) and self.speed_limit > 0):
            raise ValueError(f"speed_limit must be a positive number, got {self.speed_limit}")

    @property
    def units(self) -> int:
        return int(self.recurrent_kernel.shape[0])

    @property
    def num_features(self) -> int:
        return int(self.kernel.shape[0])

    @classmethod
    def from_arrays(cls, arrays: Sequence[np.ndarray], speed_limit: float) -> LSTMWeights:
        """Build from `model.get_weights()` of a `training.build_model` model (5 arrays)."""
        if len(arrays) != 5:
            raise ValueError(
                f"expected 5 weight arrays (kernel, recurrent_kernel, bias, dense kernel, "
                f"dense bias), got {len(arrays)}"
            )
        k, r, b, dk, db = (np.asarray(a, dtype=np.float64) for a in arrays)
        return cls(k, r, b, dk, db, float(speed_limit))

    @classmethod
    def from_keras(cls, model: Any) -> LSTMWeights:
        """Read weights and the output bound from a `training.build_model` model (duck-typed)."""
        return cls.from_arrays(model.get_weights(), float(model.get_layer("speed_limit").scale))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # Keras 3 LSTM uses the exact logistic sigmoid (not hard_sigmoid); the tanh form is stable.
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def numpy_forward(weights: LSTMWeights, window: np.ndarray) -> float | np.ndarray:
    """Map one normalized window [N, F] to a float, or a batch [B, N, F] to an array [B].

    The input must already be normalized (the model never sees raw features).
    """
    x = np.asarray(window, dtype=np.float64)
    if x.ndim not in (2, 3) or x.shape[-1] != weights.num_features:
        raise ValueError(
            f"window must be [N, {weights.num_features}] or [B, N, {weights.num_features}], "
            f"got shape {x.shape}"
        )
    u = weights.units
    # Input projections for all timesteps in one matmul; only the recurrence is sequential.
    xz = x @ weights.kernel + weights.bias  # [..., N, 4U]
    h = np.zeros((*x.shape[:-2], u))
    c = np.zeros_like(h)
    rk = weights.recurrent_kernel
    for t in range(x.shape[-2]):
        z = xz[..., t, :] + h @ rk
        s = _sigmoid(z)
        c = s[..., u : 2 * u] * c + s[..., :u] * np.tanh(z[..., 2 * u : 3 * u])
        h = s[..., 3 * u :] * np.tanh(c)
    y = weights.speed_limit * np.tanh(h @ weights.dense_kernel + weights.dense_bias)[..., 0]
    return float(y) if x.ndim == 2 else y
