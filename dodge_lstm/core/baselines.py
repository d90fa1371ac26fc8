"""Baseline policies the learned model is compared against."""

from __future__ import annotations

import numpy as np


class StationaryPolicy:
    """Never moves: every threat ball hits it, by definition of a threat."""

    name = "stationary"

    def reset(self, arena) -> None:
        """Stateless."""

    def act(self, arena) -> np.ndarray:
        """Zero commands."""
        return np.zeros(arena.batch)


class RandomPolicy:
    """Holds a uniformly random command for `hold_s` seconds, then draws a new one (seeded)."""

    name = "random"

    def __init__(self, seed: int = 0, hold_s: float = 0.5) -> None:
        self.rng = np.random.default_rng(seed)
        self.hold_s = hold_s
        self._cmd = np.zeros(0)
        self._left = np.zeros(0)

    def reset(self, arena) -> None:
        """Start each arena with a fresh draw."""
        self._cmd = np.zeros(arena.batch)
        self._left = np.zeros(arena.batch)

    def act(self, arena) -> np.ndarray:
        """Current held commands, redrawn where their hold time ran out."""
        if self._cmd.shape[0] != arena.batch:
            self.reset(arena)
        due = self._left <= 0.0
        vmax = arena.cfg.speed_limit
        self._cmd[due] = self.rng.uniform(-vmax, vmax, int(due.sum()))
        self._left[due] = self.hold_s
        self._left -= arena.cfg.dt
        return self._cmd.copy()
