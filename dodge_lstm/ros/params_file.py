"""Reading a ROS 2 parameters file (`--params-file`) the way a node sees it, without rclpy.

The bringup needs a value the simulator node will run with (its control rate) before any node
exists; reading it here, explicitly, keeps that file access visible where it happens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

WILDCARD = "/**"
"""The section every node reads (a node only takes the parameters it declares)."""

GRAPH_NODES = ("dodge_sim", "ball_spawner", "ball_features", "dodge_policy", "expert_driver",
               "dodge_recorder", "dodge_markers", "ball_detector")
"""The node names of the package's graph (each node passes its own to `Node.__init__`; a test
checks they agree), i.e. the sections a parameters file for it may hold besides `/**`."""

RENAMED_NODES = {"expert_shadow": "expert_driver"}
"""Second instances the graph may start under another name (`__node` remapping) -> the node
they run: the shadow expert of a label run. Their sections are valid too."""


def _load(path: Path) -> dict[str, Any]:
    """The file as a mapping of node names; ValueError if it is not one."""
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"parameters file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"parameters file {path} is not a mapping of node names "
                         f"(got {type(data).__name__})")
    return data


def _section(data: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    section = data[key]
    if not isinstance(section, dict) or not isinstance(section.get("ros__parameters"), dict):
        raise ValueError(f"parameters file {path}: section {key!r} must hold a "
                         f"'ros__parameters' mapping")
    return dict(section["ros__parameters"])


def node_parameters(path: Path | str, node_name: str) -> dict[str, Any]:
    """The `ros__parameters` of `node_name` (keyed `name` or `/name`) in the YAML file `path`,
    merged with the wildcard `/**` section as rcl merges them: in file order, later wins.

    A node without a section gets the wildcard's or `{}` (it runs on its defaults, as under
    ROS). Raises OSError if the file cannot be read and ValueError if it is not a parameters
    file: not YAML, not a mapping of node names, or a section without a `ros__parameters`
    mapping.
    """
    path = Path(path)
    data = _load(path)
    params: dict[str, Any] = {}
    for key in data:  # in file order: like rcl, a later section overrides an earlier one
        if key in (WILDCARD, node_name, f"/{node_name}"):
            params.update(_section(data, key, path))
    return params


def check_sections(path: Path | str) -> None:
    """Raise ValueError if the file has a section for a node the graph does not have: under
    ROS such a section is silently ignored, so a typo (`dodge_simm`) would run on defaults."""
    path = Path(path)
    data = _load(path)
    known = (*GRAPH_NODES, *RENAMED_NODES)
    unknown = sorted(str(k) for k in data if str(k).lstrip("/") not in known
                     and k != WILDCARD)
    if unknown:
        raise ValueError(f"parameters file {path} has sections for unknown nodes {unknown}; "
                         f"the graph's nodes are {', '.join(known)} (and {WILDCARD})")
    for key in data:
        _section(data, key, path)
