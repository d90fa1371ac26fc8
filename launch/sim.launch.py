"""Bring up the dodgeball graph: simulator, spawner, feature ring buffer and a policy.

    ros2 launch dodge_lstm sim.launch.py [timesteps:=5] [units:=15] [model:=PATH]
        [policy:=lstm|expert] [record:=false] [output_dir:=PATH] [sim:=embedded]
        [params_file:=PATH] [markers:=true] [rviz:=false] [lockstep:=false] [stamped:=false]

With policy:=lstm the TFLite policy runs as a lifecycle node that this file configures and then
activates through lifecycle events; if configure fails (wrong or missing model) the node stays
unconfigured and logs what to do. Without the launch system, `dodge-lstm sim` builds the same
graph from the same parameters file.

`dodge_markers` draws the game on `markers` (visualization_msgs/MarkerArray, frame `odom`);
`rviz:=true` opens rviz2 with the package's `rviz/dodge_lstm.rviz` where rviz2 is installed, and
says so where it is not.
"""

import shutil

from launch.actions import (
    DeclareLaunchArgument,
    EmitEvent,
    LogInfo,
    OpaqueFunction,
    RegisterEventHandler,
)
from launch.conditions import IfCondition
from launch.events import matches_action
from launch.substitutions import (
    AndSubstitution,
    EqualsSubstitution,
    LaunchConfiguration,
    PathJoinSubstitution,
)
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.substitutions import FindPackageShare
from lifecycle_msgs.msg import Transition

from launch import LaunchContext, LaunchDescription


def _gazebo_unavailable(context: LaunchContext) -> None:
    """Fail the launch (non-zero exit), so a script can tell nothing was started."""
    raise RuntimeError("sim:=gazebo is not available yet; use sim:=embedded")


def _rviz(context: LaunchContext) -> list:
    """rviz2 with the package's display config, on sim time; or a message if it is missing
    (rviz2 comes with a ROS desktop install, not with the pip wheels)."""
    if shutil.which("rviz2") is None:
        return [LogInfo(msg="rviz:=true but rviz2 is not installed (it comes with "
                            "ros-<distro>-desktop or ros-<distro>-rviz2); the markers are on "
                            "/markers for Foxglove or any other viewer")]
    config = PathJoinSubstitution([FindPackageShare("dodge_lstm"), "rviz", "dodge_lstm.rviz"])
    return [Node(package="rviz2", executable="rviz2", name="rviz2", output="screen",
                 arguments=["-d", config], parameters=[{"use_sim_time": True}])]


def generate_launch_description() -> LaunchDescription:
    """The graph; every node reads its section of `params_file`."""
    params_file = LaunchConfiguration("params_file")
    timesteps = LaunchConfiguration("timesteps")
    sim_time = {"use_sim_time": True}
    on_embedded = EqualsSubstitution(LaunchConfiguration("sim"), "embedded")
    embedded = IfCondition(on_embedded)
    is_lstm = IfCondition(AndSubstitution(
        on_embedded, EqualsSubstitution(LaunchConfiguration("policy"), "lstm")))
    is_expert = IfCondition(AndSubstitution(
        on_embedded, EqualsSubstitution(LaunchConfiguration("policy"), "expert")))
    on_gazebo = IfCondition(EqualsSubstitution(LaunchConfiguration("sim"), "gazebo"))

    args = [
        DeclareLaunchArgument("timesteps", default_value="5",
                              description="LSTM window length (feature node and policy)"),
        DeclareLaunchArgument("units", default_value="15",
                              description="LSTM units (picks models/lstm_t<N>_u<U>.tflite)"),
        DeclareLaunchArgument("model", default_value="",
                              description="A .tflite model path; empty picks by timesteps/units"),
        DeclareLaunchArgument("policy", default_value="lstm", choices=["lstm", "expert"],
                              description="Who drives the robot"),
        DeclareLaunchArgument("record", default_value="false", choices=["true", "false"],
                              description="Record a rosbag2 (MCAP) bag with dodge_recorder"),
        DeclareLaunchArgument("output_dir", default_value="",
                              description="Bag directory with record:=true "
                                          "(default ./dodge_bag_<timestamp>)"),
        DeclareLaunchArgument("sim", default_value="embedded", choices=["embedded", "gazebo"],
                              description="Simulator backend (gazebo arrives in a later release)"),
        DeclareLaunchArgument("lockstep", default_value="false", choices=["true", "false"],
                              description="The simulator steps only when the driver has "
                                          "answered: as fast as the graph can go"),
        DeclareLaunchArgument("stamped", default_value="false", choices=["true", "false"],
                              description="cmd_vel as geometry_msgs/TwistStamped (nav2's "
                                          "default) instead of Twist"),
        DeclareLaunchArgument("markers", default_value="true", choices=["true", "false"],
                              description="Draw the game on /markers (dodge_markers)"),
        DeclareLaunchArgument("rviz", default_value="false", choices=["true", "false"],
                              description="Open rviz2 with rviz/dodge_lstm.rviz (if installed)"),
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([FindPackageShare("dodge_lstm"), "params",
                                                "dodge_lstm.yaml"]),
            description="Parameters YAML with a ros__parameters section per node"),
    ]

    stamped = LaunchConfiguration("stamped")
    sim = Node(package="dodge_lstm", executable="dodge_sim", name="dodge_sim", output="screen",
               parameters=[params_file, {"lockstep": LaunchConfiguration("lockstep"),
                                         "stamped": stamped}],
               condition=embedded)
    gazebo_missing = [OpaqueFunction(function=_gazebo_unavailable, condition=on_gazebo)]
    spawner = Node(package="dodge_lstm", executable="ball_spawner", name="ball_spawner",
                   output="screen", parameters=[params_file, sim_time], condition=embedded)
    features = Node(package="dodge_lstm", executable="ball_features", name="ball_features",
                    output="screen", parameters=[params_file, sim_time, {"timesteps": timesteps}],
                    condition=is_lstm)
    policy = LifecycleNode(
        package="dodge_lstm", executable="dodge_policy", name="dodge_policy", namespace="",
        output="screen", condition=is_lstm,
        parameters=[params_file, sim_time, {"timesteps": timesteps, "stamped": stamped,
                                            "units": LaunchConfiguration("units"),
                                            "model": LaunchConfiguration("model")}])
    configure = EmitEvent(
        event=ChangeState(lifecycle_node_matcher=matches_action(policy),
                          transition_id=Transition.TRANSITION_CONFIGURE),
        condition=is_lstm)
    # Only configuring -> inactive: a later `ros2 lifecycle set /dodge_policy deactivate`
    # (active -> inactive) must stay deactivated, not be re-activated here.
    activate_when_configured = RegisterEventHandler(
        OnStateTransition(
            target_lifecycle_node=policy, start_state="configuring", goal_state="inactive",
            entities=[
                LogInfo(msg="dodge_policy configured; activating"),
                EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(policy),
                                            transition_id=Transition.TRANSITION_ACTIVATE)),
            ]),
        condition=is_lstm)
    expert = Node(package="dodge_lstm", executable="expert_driver", name="expert_driver",
                  output="screen", parameters=[params_file, sim_time, {"stamped": stamped}],
                  condition=is_expert)
    # Draws from message stamps, not its clock: no use_sim_time (no /clock subscription).
    markers = Node(package="dodge_lstm", executable="dodge_markers", name="dodge_markers",
                   output="screen", parameters=[params_file],
                   condition=IfCondition(AndSubstitution(on_embedded,
                                                         LaunchConfiguration("markers"))))
    rviz = OpaqueFunction(function=_rviz, condition=IfCondition(LaunchConfiguration("rviz")))
    # The recorder stamps on the wall clock (no use_sim_time), like `ros2 bag record`, so a
    # bag keeps arrival order for `dodge-lstm dataset --bag`.
    recorder = Node(package="dodge_lstm", executable="dodge_recorder", name="dodge_recorder",
                    output="screen",
                    parameters=[params_file, {"output_dir": LaunchConfiguration("output_dir")}],
                    condition=IfCondition(AndSubstitution(on_embedded,
                                                          LaunchConfiguration("record"))))

    return LaunchDescription([
        *args, *gazebo_missing, sim, spawner, features, policy, activate_when_configured,
        configure, expert, markers, recorder, rviz,
    ])
