"""The launch files' arguments and what they mean, without the launch system.

`sim.launch.py` and `record.launch.py` declare exactly `SIM_ARGUMENTS` / `RECORD_ARGUMENTS` and
turn the values into a `SimOptions` with `options_from_launch`, the same data `dodge-lstm sim`
builds from its flags; `graph_nodes` does the rest. Kept free of `launch` so the tests that
hold the two entry points together run where the launch system is not installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dodge_lstm.ros.bringup.options import POLICIES, SIMULATORS, SPAWNERS, SimOptions

SENSING_PRESETS = ("truth", "realistic")
"""`core.sensing.PRESETS`' names (kept here: the launch files import no numpy)."""


@dataclass(frozen=True)
class LaunchArgument:
    """One `DeclareLaunchArgument`."""

    name: str
    default: str
    description: str
    choices: tuple[str, ...] | None = None


BOOL = ("true", "false")

_COMMON = (
    LaunchArgument("params_file", "", "Parameters YAML with a ros__parameters section per "
                   "node; empty: the package's params/dodge_lstm.yaml"),
    LaunchArgument("output_dir", "", "Bag directory when recording (default "
                   "./dodge_bag_<timestamp>)"),
    LaunchArgument("seed", "", "Ball spawner seed; empty: the parameters file's"),
    LaunchArgument("real_time_factor", "", "Simulated seconds per wall second; empty: the "
                   "parameters file's"),
    LaunchArgument("markers", "true", "Draw the game on /markers (dodge_markers)", BOOL),
    LaunchArgument("rviz", "false", "Open rviz2 with rviz/dodge_lstm.rviz (if installed)",
                   BOOL),
)

SIM_ARGUMENTS = (
    LaunchArgument("timesteps", "", "LSTM window length: with units picks the grid model "
                   "models/lstm_t<N>_u<U>.tflite (the other defaults to 5 or 15); both empty: "
                   "models/default.tflite"),
    LaunchArgument("units", "", "LSTM units (see timesteps)"),
    LaunchArgument("model", "", "A .tflite model path; empty picks by timesteps/units"),
    LaunchArgument("policy", "lstm", "Who drives the robot (teleop: nobody here; run "
                   "teleop_twist_keyboard)", POLICIES),
    LaunchArgument("record", "false", "Record a rosbag2 (MCAP) bag with dodge_recorder", BOOL),
    LaunchArgument("sim", "embedded", "Simulator backend: embedded (the kinematic arena) or "
                   "mujoco (MuJoCo physics, same interface; gazebo arrives in a later release)",
                   SIMULATORS),
    LaunchArgument("sensing", "truth", "What the policy sees of the balls: truth (the "
                   "simulator's balls/odom) or realistic (ball_detector: 5 cm noise, 0.1 s "
                   "late, 10% missed, clutter; the feature node tracks the detections and the "
                   "policy runs default_sensing.tflite unless a model is named; with "
                   "policy:=expert the expert drives on the truth while the detections are "
                   "recorded; knobs in the ball_detector section of the parameters file)",
                   SENSING_PRESETS),
    LaunchArgument("lockstep", "false", "The simulator steps only when the driver has "
                   "answered: as fast as the graph can go", BOOL),
    LaunchArgument("spawner", "", "Who throws the balls: node (ball_spawner) or sim (the "
                   "simulator, with the arena's own draws); empty: sim with lockstep (the exact "
                   "twin of `dodge-lstm eval --arenas 1`), node otherwise", ("", *SPAWNERS)),
    LaunchArgument("stamped", "false", "cmd_vel as geometry_msgs/TwistStamped (nav2's "
                   "default) instead of Twist", BOOL),
    LaunchArgument("label", "", "expert: a shadow expert labels every tick on "
                   "expert/cmd_vel while the LSTM drives (DAgger through ROS; needs "
                   "policy:=lstm)", ("", "expert")),
    *_COMMON,
)

RECORD_ARGUMENTS = (
    LaunchArgument("driver", "expert", "Who drives: the scripted expert or a human "
                   "(teleop_twist_keyboard in another terminal)", ("expert", "teleop")),
    *_COMMON,
)


def _number(configs: Mapping[str, str], name: str, kind: type, what: str) -> Any:
    """The argument as `kind` (int or float), None if empty; ValueError naming it otherwise."""
    text = configs.get(name, "").strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{name}:={text} is not {what}") from None


def _bool(configs: Mapping[str, str], name: str, default: str) -> bool:
    text = configs.get(name, default).strip().lower()
    if text not in BOOL:
        raise ValueError(f"{name}:={text} must be true or false")
    return text == "true"


def options_from_launch(configs: Mapping[str, str], launch_file: str = "sim") -> SimOptions:
    """The `SimOptions` of a launch file's argument values (`context.launch_configurations`),
    `launch_file` being `sim` or `record`; ValueError on a value that is no value of its kind."""
    common = {
        "params_file": configs.get("params_file", ""),
        "seed": _number(configs, "seed", int, "an integer"),
        "real_time_factor": _number(configs, "real_time_factor", float, "a number"),
        "markers": _bool(configs, "markers", "true"),
    }
    output_dir = configs.get("output_dir", "")
    if launch_file == "record":
        return SimOptions(policy=configs.get("driver", "expert"), record=output_dir, **common)
    if launch_file != "sim":
        raise ValueError(f"launch_file must be sim or record, got {launch_file!r}")
    return SimOptions(
        timesteps=_number(configs, "timesteps", int, "an integer"),
        units=_number(configs, "units", int, "an integer"),
        model=configs.get("model", ""), policy=configs.get("policy", "lstm"),
        record=output_dir if _bool(configs, "record", "false") else None,
        sim=configs.get("sim", "embedded"), lockstep=_bool(configs, "lockstep", "false"),
        spawner=configs.get("spawner", "") or None,
        stamped=_bool(configs, "stamped", "false"), label=configs.get("label", ""),
        sensing=configs.get("sensing", "truth"), **common)
