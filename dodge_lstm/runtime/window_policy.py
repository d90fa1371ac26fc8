"""Any `window -> command` callable as an arena policy, and `module:callable` specs to name one.

`WindowPolicy` feeds its callable the way the ROS feature node feeds the policy node: a
`FeatureWindow` per arena, rows from `ball_features`, one call per arena. The TFLite model runs
through it (`LearnedPolicy`), and so does any Python policy named on the command line
(`dodge-lstm eval --policy my_pkg.agent:act`, say one trained in `DodgeBall-v0`), so both are
scored on the same footing. Needs only numpy and the core.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dodge_lstm.core.evaluation import Policy
from dodge_lstm.core.features import FeatureWindow, ball_features

WindowFn = Callable[[np.ndarray], Any]
"""`window [timesteps, F] float32 -> linear.x [m/s]` (or `[B, timesteps, F] -> [B]` batched)."""


class WindowPolicy:
    """A callable on feature windows, run as a core `Policy` over an Arena.

    The callable returns a `linear.x` command in m/s, like the TFLite model (whose tanh output is
    already scaled by the speed limit); the arena clips it to the speed limit and rejects NaN.
    `batched=True` calls it once per tick on all windows `[B, timesteps, F]` instead of once per
    arena, for numpy policies that vectorize.
    """

    def __init__(self, fn: WindowFn, timesteps: int = 5, num_slots: int = 2,
                 name: str | None = None, batched: bool = False) -> None:
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        self.fn = fn
        self.timesteps = int(timesteps)
        self.num_slots = int(num_slots)
        self.batched = batched
        self.name = name or getattr(fn, "__qualname__", None) or type(fn).__name__
        self.window = FeatureWindow(self.timesteps, self.num_slots, batch=1)
        self._batch = 1

    def reset(self, arena) -> None:
        """Fresh ring buffers ("no ball seen yet") for every arena."""
        self.window = FeatureWindow(self.timesteps, self.num_slots, batch=arena.batch)
        self._batch = arena.batch

    def act(self, arena) -> np.ndarray:
        """Observe, push a row per arena, call the function on each arena's window."""
        if self._batch != arena.batch:  # act() without reset(): start fresh
            self.reset(arena)
        rows, _ = ball_features(arena.robot_pos, arena.robot_yaw, arena.robot_vel, arena.ball_pos,
                                arena.ball_vel, arena.alive, arena.ball_id, self.num_slots)
        self.window.push(rows)
        windows = self.window.window()
        if self.batched:
            cmds = np.asarray(self.fn(windows), dtype=np.float64)
            if cmds.size != arena.batch:
                raise ValueError(f"batched policy returned {cmds.size} commands for "
                                 f"{arena.batch} arenas")
            return cmds.reshape(arena.batch)
        return np.array([float(self.fn(w)) for w in windows])


def _load(spec: str) -> Any:
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"policy spec {spec!r} is not of the form 'module.path:callable' or "
                         f"'path/to/file.py:callable'")
    if module_name.endswith(".py"):
        path = Path(module_name)
        if not path.is_file():
            raise FileNotFoundError(f"no such policy file: {path}")
        mod_spec = importlib.util.spec_from_file_location(path.stem, path)
        if mod_spec is None or mod_spec.loader is None:
            raise ImportError(f"cannot load {path} as a module")
        module = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(f"{module_name!r} has no attribute {attr!r}") from None
    return obj


def _is_policy(obj: Any) -> bool:
    return callable(getattr(obj, "act", None)) and callable(getattr(obj, "reset", None))


def policy_from_spec(spec: str, timesteps: int | None = None, num_slots: int = 2,
                     batched: bool = False) -> Policy:
    """Resolve `pkg.mod:fn` (or `file.py:fn`, `pkg.mod:obj.attr`) into a core `Policy`.

    An object that already is a Policy (has `reset` and `act`) is returned as is, a Policy class
    is instantiated without arguments, and any other callable is wrapped in a `WindowPolicy`
    (`timesteps` defaults to 5, the shipped model's).
    """
    obj = _load(spec)
    if isinstance(obj, type) and _is_policy(obj):
        obj = obj()
    if _is_policy(obj):
        if not hasattr(obj, "name"):
            obj.name = spec
        return obj
    if not callable(obj):
        raise TypeError(f"{spec!r} resolves to a {type(obj).__name__}, not a callable")
    return WindowPolicy(obj, timesteps=5 if timesteps is None else timesteps,
                        num_slots=num_slots, name=spec, batched=batched)
