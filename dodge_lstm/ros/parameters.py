"""Declare ROS parameters from the core's config dataclasses, with their docstrings, and make
the ones that can change safely at run time accept `ros2 param set`.

Every node parameter is declared with a descriptor whose description is the field's docstring
in `dodge_lstm.core.config`, so `ros2 param describe` and the README table say the same thing as
the code, and defaults live in one place. A parameter is either *live* (a set is validated, then
applied: `live_parameters`) or read-only, with the reason in its description: a set that would
be silently ignored is never accepted.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable
from dataclasses import fields, replace
from typing import Any, TypeVar

from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter

from dodge_lstm.core.config import field_docs

T = TypeVar("T")


def destroyed_if_refused(init: Callable[..., None]) -> Callable[..., None]:
    """Wrap a node's `__init__`: if it raises once the rcl node exists (a parameter of the
    wrong type in a params file, a value out of range), destroy the node, then let the error go.

    A half-made node is otherwise on the ROS graph for as long as anything holds it, and
    whoever keeps the traceback (a test, a notebook, an in-process bringup reporting the error)
    holds it: another bringup's graph guard would take it for a running graph.
    """
    @functools.wraps(init)
    def wrapped(self: Node, *args: Any, **kwargs: Any) -> None:
        try:
            init(self, *args, **kwargs)
        except BaseException:
            with contextlib.suppress(AttributeError):  # Node.__init__ failed: nothing to free
                self.destroy_node()
            raise
    return wrapped


AT_START = "read-only: read once at start-up; restart the node to change it"


def declare(node: Node, name: str, default: Any, description: str,
            read_only: bool = True, why: str = AT_START) -> Any:
    """Declare one parameter with a description; returns its current value. Read-only ones say
    why in their description (`ros2 param describe`)."""
    if read_only:
        description = f"{description} ({why})"
    desc = ParameterDescriptor(description=description, read_only=read_only)
    return node.declare_parameter(name, default, desc).value


def declare_config(node: Node, cfg: T, read_only: bool = True,
                   names: Iterable[str] | None = None, why: str = AT_START) -> T:
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
        value = declare(node, f.name, default, docs.get(f.name, f.name), read_only, why)
        values[f.name] = type(default)(value)
    return replace(cfg, **values).validate()  # type: ignore[type-var, attr-defined]


def live_parameters(node: Node, names: Iterable[str],
                    check: Callable[[dict[str, Any]], None],
                    apply: Callable[[dict[str, Any]], None]) -> None:
    """Accept `ros2 param set` for `names`: `check(changes)` raises ValueError to refuse the
    whole set (the reason goes back to the caller), `apply(changes)` runs once it is set.

    Register after declaring, so declarations are not checked twice.
    """
    live = set(names)

    def changes_of(params: list[Parameter]) -> dict[str, Any]:
        return {p.name: p.value for p in params if p.name in live}

    def on_set(params: list[Parameter]) -> SetParametersResult:
        changes = changes_of(params)
        if changes:
            try:
                check(changes)
            except ValueError as exc:
                return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)

    def after_set(params: list[Parameter]) -> None:
        changes = changes_of(params)
        if changes:
            apply(changes)
            node.get_logger().info(f"parameters changed: {changes}")

    node.add_on_set_parameters_callback(on_set)
    node.add_post_set_parameters_callback(after_set)


def config_updater(get: Callable[[], T], put: Callable[[T], None]
                   ) -> tuple[Callable[[dict[str, Any]], None], Callable[[dict[str, Any]], None]]:
    """`check`/`apply` for `live_parameters` over a validated config dataclass: a change is
    accepted only if the changed config passes its own `validate()`."""

    def changed(changes: dict[str, Any]) -> T:
        current = get()
        typed = {k: type(getattr(current, k))(v) for k, v in changes.items()}
        return replace(current, **typed).validate()  # type: ignore[type-var, attr-defined]

    return (lambda changes: changed(changes) and None), (lambda changes: put(changed(changes)))
