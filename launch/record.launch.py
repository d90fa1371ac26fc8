"""Collect demonstrations: simulator + spawner + a driver (expert or you) + the recorder.

    ros2 launch dodge_lstm record.launch.py [driver:=expert|teleop] [output_dir:=PATH]
        [params_file:=PATH]

With driver:=teleop, run `ros2 run teleop_twist_keyboard teleop_twist_keyboard` in another
terminal (it needs the keyboard; it publishes `cmd_vel` like the expert does; use i/, for
forward/back). Stop with Ctrl-C: the recorder closes the bag on shutdown. Turn the bag into a
dataset with `dodge-lstm dataset --bag PATH --out data.npz`.
"""

from launch.actions import DeclareLaunchArgument, LogInfo
from launch.conditions import IfCondition
from launch.substitutions import EqualsSubstitution, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription


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
        # Wall-clock receive stamps (no use_sim_time), like `ros2 bag record`: the bag keeps
        # arrival order, which `dodge-lstm dataset --bag` uses to align cmd_vel with odom.
        Node(package="dodge_lstm", executable="dodge_recorder", name="dodge_recorder",
             output="screen",
             parameters=[params_file, {"output_dir": LaunchConfiguration("output_dir")}]),
    ])
