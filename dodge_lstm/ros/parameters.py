"""Declare ROS parameters from the core's config dataclasses, with their docstrings.

Every node parameter is declared with a descriptor whose description is the field's docstring
in `dodge_lstm.core.config`, so `ros2 param describe` and the README table say the same thing as
the code, and defaults live in one place.
"""

from __future__ import annotations

from dataclasses import fields
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


def declare_config(node: Node, cfg: T, read_only: bool = True) -> T:
    """Declare every field of dataclass instance `cfg`; return a copy with the node's values."""
    docs = field_docs(type(cfg))
    values = {}
    for f in fields(cfg):  # type: ignore[arg-type]
        default = getattr(cfg, f.name)
        value = declare(node, f.name, default, docs.get(f.name, f.name), read_only)
        values[f.name] = type(default)(value)
    return type(cfg)(**values).validate()  # type: ignore[attr-defined]
