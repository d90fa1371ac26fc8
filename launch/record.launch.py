"""Collect demonstrations: simulator + spawner + a driver (expert or you) + the recorder.

    ros2 launch dodge_lstm record.launch.py [driver:=expert|teleop] [output_dir:=PATH]
        [params_file:=PATH] [seed:=S] [real_time_factor:=F] [markers:=true] [rviz:=false]

With driver:=teleop, run `ros2 run teleop_twist_keyboard teleop_twist_keyboard` in another
terminal (it needs the keyboard; it publishes `cmd_vel` like the expert does; use i/, for
forward/back). Stop with Ctrl-C: the recorder closes the bag on shutdown. Turn the bag into a
dataset with `dodge-lstm dataset --bag PATH --out data.npz`. `dodge_markers` draws the game on
`markers` (recorded too: open the bag in Foxglove with `foxglove/dodge_lstm.json`); `rviz:=true`
opens rviz2 where it is installed.

The same graph as `sim.launch.py policy:=<driver> record:=true` and `dodge-lstm sim --policy
<driver> --record [PATH]`: the nodes come from `dodge_lstm.ros.bringup.graph_nodes` through
sim.launch.py's `graph_actions`.
"""

import importlib.util
from pathlib import Path

from launch.actions import DeclareLaunchArgument, OpaqueFunction

from launch import LaunchDescription


def _sim_launch():
    """sim.launch.py beside this file, as a module (its `graph_actions` builds the nodes)."""
    spec = importlib.util.spec_from_file_location(
        "dodge_lstm_sim_launch", Path(__file__).with_name("sim.launch.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generate_launch_description() -> LaunchDescription:
    """The arguments `launch_arguments.RECORD_ARGUMENTS` declares, and the recording graph."""
    from dodge_lstm.ros.bringup.launch_arguments import RECORD_ARGUMENTS

    return LaunchDescription([
        *(DeclareLaunchArgument(a.name, default_value=a.default, description=a.description,
                                choices=list(a.choices) if a.choices else None)
          for a in RECORD_ARGUMENTS),
        OpaqueFunction(function=_sim_launch().graph_actions, args=["record"]),
    ])
