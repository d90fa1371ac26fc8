"""Declare ROS parameters from the core's config dataclasses, with their docstrings.

Every node parameter is declared with a descriptor whose description is the field's docstring
in `dodge_lstm.core.config`, so `ros2 param describe` and the README table say the same thing as
the code, and defaults live in one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields, replace
from typing import Any, TypeVar

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node

from dodge_lstm.core.config import field_docs

T = TypeVar("T")


def declare(node: Node, name: str, default: Any, description: str,
            read_only: bool = False) -> Any:
    """Declare one parameter with a description; returns its current value."""
    desc = ParameterDescriptor(description=description, read_only=read_only)
    return node.declare_parameter(name, default, desc).value


def declare_config(node: Node, cfg: T, read_only: bool = True,
                   names: Iterable[str] | None = None) -> T:
    """Declare the fields of dataclass instance `cfg` (all, or only `names`: a node that uses
    part of a config); return a copy with the node's values, the other fields as in `cfg`."""
    docs = field_docs(type(cfg))
    known = {f.name for f in fields(cfg)}  # type: ignore[arg-type]
    chosen = known if names is None else set(names)
    unknown = sorted(chosen - known)
    if unknown:
        raise ValueError(f"{type(cfg).__name__} has no fields {unknown}")
    values = {}
    for f in fields(cfg):  # type: ignore[arg-type]
        if f.name not in chosen:
            continue
        default = getattr(cfg, f.name)
        value = declare(node, f.name, default, docs.get(f.name, f.name), read_only)
        values[f.name] = type(default)(value)
    return replace(cfg, **values).validate()  # type: ignore[type-var, attr-defined]
