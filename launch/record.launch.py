"""Collect demonstrations: simulator + spawner + a driver (expert or you) + the recorder.

    ros2 launch dodge_lstm record.launch.py [driver:=expert|teleop] [output_dir:=PATH]
        [params_file:=PATH] [markers:=true] [rviz:=false]

With driver:=teleop, run `ros2 run teleop_twist_keyboard teleop_twist_keyboard` in another
terminal (it needs the keyboard; it publishes `cmd_vel` like the expert does; use i/, for
forward/back). Stop with Ctrl-C: the recorder closes the bag on shutdown. Turn the bag into a
dataset with `dodge-lstm dataset --bag PATH --out data.npz`. `dodge_markers` draws the game on
`markers` (recorded too: open the bag in Foxglove with `foxglove/dodge_lstm.json`); `rviz:=true`
opens rviz2 where it is installed (driving with the keyboard and watching rviz at once).
"""

import shutil

from launch.actions import DeclareLaunchArgument, LogInfo, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import EqualsSubstitution, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchContext, LaunchDescription


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
    """The recording graph; every node reads its section of `params_file`."""
    params_file = LaunchConfiguration("params_file")
    sim_time = {"use_sim_time": True}
    driver = LaunchConfiguration("driver")
    return LaunchDescription([
        DeclareLaunchArgument("driver", default_value="expert", choices=["expert", "teleop"],
                              description="Who drives: the scripted expert or a human"),
        DeclareLaunchArgument("output_dir", default_value="",
                              description="Bag directory (default ./dodge_bag_<timestamp>)"),
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([FindPackageShare("dodge_lstm"), "params",
                                                "dodge_lstm.yaml"]),
            description="Parameters YAML with a ros__parameters section per node"),
        DeclareLaunchArgument("markers", default_value="true", choices=["true", "false"],
                              description="Draw the game on /markers (dodge_markers)"),
        DeclareLaunchArgument("rviz", default_value="false", choices=["true", "false"],
                              description="Open rviz2 with rviz/dodge_lstm.rviz (if installed)"),
        Node(package="dodge_lstm", executable="dodge_sim", name="dodge_sim", output="screen",
             parameters=[params_file]),
        Node(package="dodge_lstm", executable="ball_spawner", name="ball_spawner",
             output="screen", parameters=[params_file, sim_time]),
        Node(package="dodge_lstm", executable="expert_driver", name="expert_driver",
             output="screen", parameters=[params_file, sim_time],
             condition=IfCondition(EqualsSubstitution(driver, "expert"))),
        LogInfo(condition=IfCondition(EqualsSubstitution(driver, "teleop")),
                msg="driver:=teleop: run `ros2 run teleop_twist_keyboard "
                    "teleop_twist_keyboard` in another terminal"),
        # Draws from message stamps, not its clock: no use_sim_time (no /clock subscription).
        Node(package="dodge_lstm", executable="dodge_markers", name="dodge_markers",
             output="screen", parameters=[params_file],
             condition=IfCondition(LaunchConfiguration("markers"))),
        OpaqueFunction(function=_rviz, condition=IfCondition(LaunchConfiguration("rviz"))),
        # Wall-clock receive stamps (no use_sim_time), like `ros2 bag record`: the bag keeps
        # arrival order, which `dodge-lstm dataset --bag` uses to align cmd_vel with odom.
        Node(package="dodge_lstm", executable="dodge_recorder", name="dodge_recorder",
             output="screen",
             parameters=[params_file, {"output_dir": LaunchConfiguration("output_dir")}]),
    ])
