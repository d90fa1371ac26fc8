"""Bring up the dodgeball graph: simulator, spawner, feature ring buffer and a policy.

    ros2 launch dodge_lstm sim.launch.py [timesteps:=N] [units:=U] [model:=PATH]
        [policy:=lstm|expert] [record:=false] [output_dir:=PATH] [sim:=embedded]
        [params_file:=PATH] [markers:=true] [rviz:=false] [lockstep:=false] [stamped:=false]
        [label:=expert]

Which model: `model:=PATH` if given; else `timesteps`/`units` pick the 2020 grid's two-slot
`models/lstm_t<N>_u<U>.tflite` (either one given, the other defaults to 5 or 15); neither picks
`models/default.tflite`, trained on a mixture of scenarios with four ball slots. The feature node
cuts windows of the chosen model's length and ball slots, read from its metadata.

With policy:=lstm the TFLite policy runs as a lifecycle node that this file configures and then
activates through lifecycle events; if configure fails (wrong or missing model) the node stays
unconfigured and logs what to do. Without the launch system, `dodge-lstm sim` builds the same
graph from the same parameters file.

`dodge_markers` draws the game on `markers` (visualization_msgs/MarkerArray, frame `odom`);
`rviz:=true` opens rviz2 with the package's `rviz/dodge_lstm.rviz` where rviz2 is installed, and
says so where it is not.

`label:=expert` (with policy:=lstm) adds a shadow expert, `expert_driver` renamed
`expert_shadow`, that answers every odom on `expert/cmd_vel` (TwistStamped, stamped with the odom
it answers) while the LSTM drives; with record:=true the recorder records that topic too, and
`dodge-lstm dataset --bag PATH --label-topic expert/cmd_vel` turns the bag into DAgger labels.
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
from launch.substitution import Substitution
from launch.substitutions import (
    AndSubstitution,
    EqualsSubstitution,
    LaunchConfiguration,
    NotEqualsSubstitution,
    PathJoinSubstitution,
)
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.substitutions import FindPackageShare
from lifecycle_msgs.msg import Transition

from launch import LaunchContext, LaunchDescription


class ModelChoice(Substitution):
    """The model the `model`/`timesteps`/`units` arguments pick, or its window length or ball
    slots: the same choice `dodge-lstm sim` makes (`dodge_lstm.ros.bringup.options`)."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what  # "model", "timesteps" or "num_slots"

    def describe(self) -> str:
        return f"ModelChoice({self.what})"

    def perform(self, context: LaunchContext) -> str:
        from dodge_lstm.ros.bringup.options import SimOptions, model_shape

        def number(name: str) -> int | None:
            text = context.launch_configurations.get(name, "")
            return int(text) if text else None

        shape = model_shape(SimOptions(timesteps=number("timesteps"), units=number("units"),
                                       model=context.launch_configurations.get("model", "")))
        return {"model": str(shape.path), "timesteps": str(shape.timesteps),
                "num_slots": str(shape.num_slots)}[self.what]


def _gazebo_unavailable(context: LaunchContext) -> None:
    """Fail the launch (non-zero exit), so a script can tell nothing was started."""
    raise RuntimeError("sim:=gazebo is not available yet; use sim:=embedded")


def _label_needs_lstm(context: LaunchContext) -> None:
    """Fail the launch: a shadow labels what a learner does; the expert's cmd_vel already is
    the label."""
    raise RuntimeError("label:=expert needs policy:=lstm (with policy:=expert the driver's own "
                       "cmd_vel is the label)")


def _recorder(context: LaunchContext) -> list:
    """The recorder; in a label run its topics are the parameters file's plus the label topic
    (the same list `dodge-lstm sim --label expert --record` records)."""
    from dodge_lstm.ros.bringup.options import SimOptions, recorder_topics

    params_file = LaunchConfiguration("params_file").perform(context)
    overrides: dict = {"output_dir": LaunchConfiguration("output_dir").perform(context)}
    topics = recorder_topics(SimOptions(label=LaunchConfiguration("label").perform(context),
                                        params_file=params_file))
    if topics is not None:
        overrides["topics"] = topics
    # The recorder stamps on the wall clock (no use_sim_time), like `ros2 bag record`, so a
    # bag keeps arrival order for `dodge-lstm dataset --bag`.
    return [Node(package="dodge_lstm", executable="dodge_recorder", name="dodge_recorder",
                 output="screen", parameters=[params_file, overrides])]


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
    timesteps = ModelChoice("timesteps")
    sim_time = {"use_sim_time": True}
    on_embedded = EqualsSubstitution(LaunchConfiguration("sim"), "embedded")
    embedded = IfCondition(on_embedded)
    is_lstm = IfCondition(AndSubstitution(
        on_embedded, EqualsSubstitution(LaunchConfiguration("policy"), "lstm")))
    is_expert = IfCondition(AndSubstitution(
        on_embedded, EqualsSubstitution(LaunchConfiguration("policy"), "expert")))
    on_gazebo = IfCondition(EqualsSubstitution(LaunchConfiguration("sim"), "gazebo"))
    label_expert = EqualsSubstitution(LaunchConfiguration("label"), "expert")
    has_shadow = IfCondition(AndSubstitution(
        AndSubstitution(on_embedded, label_expert),
        EqualsSubstitution(LaunchConfiguration("policy"), "lstm")))
    shadow_without_learner = IfCondition(AndSubstitution(
        label_expert, NotEqualsSubstitution(LaunchConfiguration("policy"), "lstm")))

    args = [
        DeclareLaunchArgument("timesteps", default_value="",
                              description="LSTM window length: with units picks the grid model "
                                          "models/lstm_t<N>_u<U>.tflite; empty (and units "
                                          "empty): models/default.tflite"),
        DeclareLaunchArgument("units", default_value="",
                              description="LSTM units (see timesteps)"),
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
        DeclareLaunchArgument("label", default_value="", choices=["", "expert"],
                              description="expert: a shadow expert labels every tick on "
                                          "expert/cmd_vel while the LSTM drives (DAgger "
                                          "through ROS; needs policy:=lstm)"),
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
    refusals = [OpaqueFunction(function=_gazebo_unavailable, condition=on_gazebo),
                OpaqueFunction(function=_label_needs_lstm, condition=shadow_without_learner)]
    spawner = Node(package="dodge_lstm", executable="ball_spawner", name="ball_spawner",
                   output="screen", parameters=[params_file, sim_time], condition=embedded)
    features = Node(package="dodge_lstm", executable="ball_features", name="ball_features",
                    output="screen", condition=is_lstm,
                    parameters=[params_file, sim_time, {
                        "timesteps": timesteps, "num_slots": ModelChoice("num_slots")}])
    policy = LifecycleNode(
        package="dodge_lstm", executable="dodge_policy", name="dodge_policy", namespace="",
        output="screen", condition=is_lstm,
        parameters=[params_file, sim_time, {"timesteps": timesteps, "stamped": stamped,
                                            "model": ModelChoice("model")}])
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
    # The shadow: the expert under its own name (its own params-file section), remapped to the
    # label topic and always stamped, so each label names the odom it answers.
    shadow = Node(package="dodge_lstm", executable="expert_driver", name="expert_shadow",
                  output="screen", remappings=[("cmd_vel", "expert/cmd_vel")],
                  parameters=[params_file, sim_time, {"stamped": True}], condition=has_shadow)
    # Draws from message stamps, not its clock: no use_sim_time (no /clock subscription).
    markers = Node(package="dodge_lstm", executable="dodge_markers", name="dodge_markers",
                   output="screen", parameters=[params_file],
                   condition=IfCondition(AndSubstitution(on_embedded,
                                                         LaunchConfiguration("markers"))))
    rviz = OpaqueFunction(function=_rviz, condition=IfCondition(LaunchConfiguration("rviz")))
    recorder = OpaqueFunction(function=_recorder,
                              condition=IfCondition(AndSubstitution(
                                  on_embedded, LaunchConfiguration("record"))))

    return LaunchDescription([
        *args, *refusals, sim, spawner, features, policy, activate_when_configured,
        configure, expert, shadow, markers, recorder, rviz,
    ])
