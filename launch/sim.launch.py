"""Bring up the dodgeball graph: simulator, spawner, feature ring buffer and a policy.

    ros2 launch dodge_lstm sim.launch.py [timesteps:=N] [units:=U] [model:=PATH]
        [policy:=lstm|expert|teleop] [record:=false] [output_dir:=PATH] [sim:=embedded]
        [params_file:=PATH] [seed:=S] [real_time_factor:=F] [markers:=true] [rviz:=false]
        [lockstep:=false] [stamped:=false] [label:=expert]

`ros2 launch dodge_lstm sim.launch.py --show-args` describes each argument. The nodes, their
names, parameters and remappings come from `dodge_lstm.ros.bringup.graph_nodes`, the code
`dodge-lstm sim` starts its nodes from (in one process or one process per node), so the two
cannot drift apart: every node reads the parameters file, then a file of its own overrides for
this run, keyed by its exact name.

Which model: `model:=PATH` if given; else `timesteps`/`units` pick the 2020 grid's two-slot
`models/lstm_t<N>_u<U>.tflite` (either one given, the other defaults to 5 or 15); neither picks
`models/default.tflite`, or `models/default_sensing.tflite` (trained on detections) when
`sensing` is not truth. The policy node makes that choice when it configures, and announces the
window its model takes on `dodge/window_spec`; the feature node cuts windows of that shape.

With policy:=lstm the policy runs as a lifecycle node that this file configures and then
activates; if configure fails (wrong or missing model) the node stays unconfigured and logs what
to do. `label:=expert` adds the shadow expert `expert_shadow` answering on `expert/cmd_vel`;
with record:=true the recorder records that topic too. `rviz:=true` opens rviz2 with the
package's `rviz/dodge_lstm.rviz` where rviz2 is installed, and says so where it is not.
"""

import shutil
import tempfile
from pathlib import Path

from launch.actions import (
    DeclareLaunchArgument,
    EmitEvent,
    LogInfo,
    OpaqueFunction,
    RegisterEventHandler,
)
from launch.events import matches_action
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from lifecycle_msgs.msg import Transition

from launch import LaunchContext, LaunchDescription


def _lifecycle_startup(node: LifecycleNode, name: str) -> list:
    """configure now, activate once configured. Only configuring -> inactive activates: a
    later `ros2 lifecycle set /dodge_policy deactivate` must stay deactivated."""
    return [
        RegisterEventHandler(OnStateTransition(
            target_lifecycle_node=node, start_state="configuring", goal_state="inactive",
            entities=[
                LogInfo(msg=f"{name} configured; activating"),
                EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                            transition_id=Transition.TRANSITION_ACTIVATE)),
            ])),
        EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                    transition_id=Transition.TRANSITION_CONFIGURE)),
    ]


def graph_actions(context: LaunchContext, launch_file: str) -> list:
    """The nodes `graph_nodes` lists for these arguments, as launch_ros actions; a refused
    choice (sim:=gazebo, label:=expert without the LSTM) fails the launch with the reason."""
    from dodge_lstm.ros.bringup.graph_nodes import PACKAGE, graph_nodes
    from dodge_lstm.ros.bringup.launch_arguments import options_from_launch
    from dodge_lstm.ros.bringup.options import check_options, checked_params_path

    opts = options_from_launch(context.launch_configurations, launch_file)
    check_options(opts)
    params = checked_params_path(opts)
    overrides_dir = Path(tempfile.mkdtemp(prefix="dodge_launch_params_"))
    actions: list = []
    if opts.policy == "teleop":
        actions.append(LogInfo(msg="policy teleop: run `ros2 run teleop_twist_keyboard "
                                   "teleop_twist_keyboard` in another terminal"))
    for spec in graph_nodes(opts):
        files = [str(params)]
        if (extra := spec.overrides_file(overrides_dir)) is not None:
            files.append(str(extra))
        common = dict(package=PACKAGE, executable=spec.executable, name=spec.name,
                      output="screen", parameters=files, remappings=list(spec.remaps))
        if spec.lifecycle:
            node = LifecycleNode(namespace="", **common)
            actions += [node, *_lifecycle_startup(node, spec.name)]
        else:
            actions.append(Node(**common))
    if context.launch_configurations.get("rviz", "false").lower() == "true":
        actions += rviz(context)
    return actions


def rviz(context: LaunchContext) -> list:
    """rviz2 with the package's display config, on sim time; or a message if it is missing
    (rviz2 comes with a ROS desktop install, not with the pip wheels)."""
    if shutil.which("rviz2") is None:
        return [LogInfo(msg="rviz:=true but rviz2 is not installed (it comes with "
                            "ros-<distro>-desktop or ros-<distro>-rviz2); the markers are on "
                            "/markers for Foxglove or any other viewer")]
    from dodge_lstm.resources import share_dir

    return [Node(package="rviz2", executable="rviz2", name="rviz2", output="screen",
                 arguments=["-d", str(share_dir() / "rviz" / "dodge_lstm.rviz")],
                 parameters=[{"use_sim_time": True}])]


def generate_launch_description() -> LaunchDescription:
    """The arguments `launch_arguments.SIM_ARGUMENTS` declares, and the graph they choose."""
    from dodge_lstm.ros.bringup.launch_arguments import SIM_ARGUMENTS

    return LaunchDescription([
        *(DeclareLaunchArgument(a.name, default_value=a.default, description=a.description,
                                choices=list(a.choices) if a.choices else None)
          for a in SIM_ARGUMENTS),
        OpaqueFunction(function=graph_actions, args=["sim"]),
    ])
