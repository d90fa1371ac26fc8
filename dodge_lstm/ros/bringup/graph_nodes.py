"""What every node of the graph is started with: one list, read by every way of starting it.

`graph_nodes(opts)` is the single answer to "which nodes, under which names, with which
parameters and remappings". `dodge-lstm sim` in one process (`graph.in_process_nodes`), one
process per node (`processes.node_commands`), and both launch files build their nodes from it,
and pass parameters the same way: the parameters file first, then the node's overrides as one
more parameters file keyed by the node's exact name. rcl applies a later file over an earlier
one, and a node's own section over `/**`, so the overrides win in every mode. (Dict overrides in
a launch file are written under `/**` when the node has no namespace, and lose to the file's
own section: the bug this module exists to rule out.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dodge_lstm.ros.bringup.options import (
    LABEL_TOPIC,
    SHADOW_NODE,
    SIM_EXECUTABLES,
    SimOptions,
    recorder_topics,
)

PACKAGE = "dodge_lstm"

EXECUTABLES: dict[str, tuple[str, str]] = {
    "dodge_sim": ("sim_node", "DodgeSim"),
    "mujoco_sim": ("mujoco_sim_node", "MujocoSim"),
    "ball_spawner": ("spawner_node", "BallSpawner"),
    "ball_features": ("features_node", "BallFeatures"),
    "ball_detector": ("detector_node", "BallDetector"),
    "dodge_policy": ("policy_node", "DodgePolicy"),
    "expert_driver": ("expert_node", "ExpertDriver"),
    "dodge_markers": ("markers_node", "DodgeMarkers"),
    "dodge_recorder": ("recorder_node", "RecorderNode"),
}
"""Console script (in `lib/dodge_lstm`) -> (module under `dodge_lstm.ros.nodes`, node class)."""


@dataclass(frozen=True)
class NodeSpec:
    """One node of the graph as every launcher starts it."""

    name: str
    """The node's name, and its section in a parameters file."""
    executable: str
    """The console script (`ros2 run dodge_lstm <executable>`); a key of `EXECUTABLES`."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Parameters set for this run on top of the parameters file."""
    remaps: tuple[tuple[str, str], ...] = ()
    """Topic remappings (`from`, `to`)."""
    lifecycle: bool = False
    """A lifecycle node: the launcher configures and activates it."""

    @property
    def module(self) -> str:
        """The node's module, for `python -m` and in-process construction."""
        return f"{PACKAGE}.ros.nodes.{EXECUTABLES[self.executable][0]}"

    @property
    def class_name(self) -> str:
        return EXECUTABLES[self.executable][1]

    def overrides_file(self, directory: Path) -> Path | None:
        """Write the overrides as a parameters file keyed by the node's name (None if there
        are none): `<directory>/<name>.params.yaml`."""
        if not self.overrides:
            return None
        path = Path(directory) / f"{self.name}.params.yaml"
        path.write_text(yaml.safe_dump({self.name: {"ros__parameters": dict(self.overrides)}}))
        return path

    def ros_args(self, params_file: Path, directory: Path) -> list[str]:
        """`--ros-args` for this node, as `ros2 launch` passes them to a launch_ros Node with
        `name=`, `parameters=[params_file, overrides file]` and `remappings=`."""
        args = ["--ros-args", "-r", f"__node:={self.name}", "--params-file", str(params_file)]
        if (extra := self.overrides_file(directory)) is not None:
            args += ["--params-file", str(extra)]
        for src, dst in self.remaps:
            args += ["-r", f"{src}:={dst}"]
        return args


def spawn_settings(params_file: Path) -> dict[str, Any]:
    """The `ball_spawner` section's spawn settings and seed (what a spawning simulator takes
    over from it)."""
    from dataclasses import fields

    from dodge_lstm.core.config import SpawnConfig
    from dodge_lstm.ros.params_file import node_parameters

    names = {f.name for f in fields(SpawnConfig)} | {"seed"}
    return {k: v for k, v in node_parameters(params_file, "ball_spawner").items() if k in names}


def detector_node(opts: SimOptions) -> NodeSpec:
    """`ball_detector` with the run's sensing and knobs, seeded as the run's balls."""
    detector: dict[str, Any] = {"sensing": opts.sensing, **opts.sensing_knobs}
    if opts.seed is not None:
        detector["seed"] = int(opts.seed)
    return NodeSpec("ball_detector", "ball_detector", detector)


def graph_nodes(opts: SimOptions) -> list[NodeSpec]:
    """The nodes `opts` asks for, in start order, with their overrides.

    Only what the run chose is overridden; everything else comes from the parameters file, so a
    user's file keeps its say. The feature node has no window parameters: it cuts the window the
    policy's model takes, announced on `dodge/window_spec`.
    """
    sim_time = {"use_sim_time": True}
    simulator = SIM_EXECUTABLES[opts.sim]  # either answers as `dodge_sim`
    sim: dict[str, Any] = {"lockstep": opts.lockstep, "stamped": opts.stamped}
    if opts.real_time_factor is not None:
        sim["real_time_factor"] = float(opts.real_time_factor)
    spawner: dict[str, Any] = dict(opts.spawn)
    if opts.seed is not None:
        spawner["seed"] = int(opts.seed)
    # The simulator publishes /clock; the spawner, the feature node and the markers work on
    # message stamps, and the recorder on wall-clock receive stamps (`ros2 bag record`'s
    # default, which keeps arrival order): none of them needs use_sim_time.
    if opts.spawner_mode == "sim":
        # The simulator throws the balls, as the spawner would have: the parameters file's
        # `ball_spawner` settings, then this run's.
        sim |= {"spawner": "sim", **spawn_settings(opts.params_path), **spawner}
        nodes = [NodeSpec("dodge_sim", simulator, sim)]
    else:
        nodes = [NodeSpec("dodge_sim", simulator, sim),
                 NodeSpec("ball_spawner", "ball_spawner", spawner)]
    if opts.policy == "lstm":
        policy: dict[str, Any] = {**sim_time, "stamped": opts.stamped}
        if opts.model:
            policy["model"] = str(opts.model)
        for name in ("timesteps", "units"):
            if (value := getattr(opts, name)) is not None:
                policy[name] = int(value)
        features: dict[str, Any] = {}
        if opts.senses:
            nodes.append(detector_node(opts))
            features["input"] = policy["input"] = "detections"
            if opts.tracker:
                features["tracker"] = opts.tracker
        nodes += [NodeSpec("ball_features", "ball_features", features),
                  NodeSpec("dodge_policy", "dodge_policy", policy, lifecycle=True)]
    elif opts.policy == "expert":
        if opts.senses:  # the privileged teacher: it drives on the truth, the detector reports
            nodes.append(detector_node(opts))
        nodes.append(NodeSpec("expert_driver", "expert_driver",
                              {**sim_time, "stamped": opts.stamped}))
    if opts.label:
        # The expert's code under its own name (its own params-file section), answering on the
        # label topic, always stamped with the odom it answers.
        nodes.append(NodeSpec(SHADOW_NODE, "expert_driver", {**sim_time, "stamped": True},
                              remaps=(("cmd_vel", LABEL_TOPIC),)))
    if opts.markers:
        nodes.append(NodeSpec("dodge_markers", "dodge_markers"))
    if opts.record is not None:
        recorder: dict[str, Any] = {}
        if opts.record:
            recorder["output_dir"] = str(opts.record)
        if (topics := recorder_topics(opts)) is not None:
            recorder["topics"] = topics
        nodes.append(NodeSpec("dodge_recorder", "dodge_recorder", recorder))
    return nodes
